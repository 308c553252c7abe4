"""The number of attention heads of an encoder: the one policy every tool follows.

The weights do not determine it (no tensor's shape depends on it), yet the same weights with
another head count compute other features, so it is never guessed from the width. Sources, in
order of precedence:

1. an explicit value (``num_heads=``, a tool's ``--num-heads``);
2. a config: one given (``config=``, ``--config``), else the one MMEngine's Runner stores in the
   checkpoint (``meta['cfg']``), else the released checkpoint's ``args.model``
   (``mae_vit_base_patch16`` and so on);
3. ``meta['num_heads']``, which :func:`~sdae_plugin.checkpoints.save_backbone` writes at extraction.

Every source that states a value must agree: an explicit value that contradicts the file is an
error, and so is a config whose width is not the encoder's. With no source at all, building a
model raises :class:`HeadCountError` naming ``--num-heads``.
"""
from pathlib import Path
from typing import List, Optional, Tuple, Union

from .errors import HeadCountError

# The released code's model names (MAE's models_mae.py) -> MMPretrain arch names.
RELEASED_MODELS = (('vit_base', 'b'), ('vit_large', 'l'), ('vit_huge', 'h'))


def unknown_heads_error(source: str) -> HeadCountError:
    """The error for an encoder that states no head count."""
    return HeadCountError(
        f'{source}: the number of attention heads is unknown (the weights do not determine it, '
        'and the file holds no training config and no meta["num_heads"]). Pass --num-heads N '
        '(num_heads=N); tools/extract_backbone.py --num-heads N writes it into the backbone '
        'file for every later tool.')


def heads_of_arch(arch: Union[str, dict], embed_dims: Optional[int] = None) -> Optional[int]:
    """``num_heads`` of a ViT ``arch`` (a dict or an MMPretrain arch name); None if it has none.

    Raises:
        HeadCountError: if ``embed_dims`` is given and the arch has another width.
    """
    from mmpretrain.models import VisionTransformer
    if isinstance(arch, str):
        arch = VisionTransformer.arch_zoo.get(arch.lower())
    if not isinstance(arch, dict) or 'num_heads' not in arch:
        return None
    if embed_dims is not None and arch.get('embed_dims', embed_dims) != embed_dims:
        raise HeadCountError(f'the config\'s backbone is {arch["embed_dims"]} wide, the '
                             f'checkpoint\'s encoder {embed_dims}')
    return int(arch['num_heads'])


def heads_of_config(cfg, embed_dims: Optional[int] = None) -> Optional[int]:
    """``num_heads`` of the backbone of a config (a whole config, or its ``model``).

    None when the config has no ViT backbone (e.g. a data-only config).
    """
    model = cfg['model'] if 'model' in cfg else cfg
    backbone = (model or {}).get('backbone')
    if not backbone:
        return None
    return heads_of_arch(backbone.get('arch', 'b'), embed_dims)  # 'b': every ViT's default arch


def stated_num_heads(checkpoint: dict, embed_dims: int) -> List[Tuple[int, str]]:
    """Every head count a loaded checkpoint states, as ``(value, where)`` in policy order."""
    stated = []
    meta = checkpoint.get('meta')
    meta = meta if isinstance(meta, dict) else {}
    if isinstance(meta.get('cfg'), str):
        from mmengine.config import Config
        try:
            cfg = Config.fromstring(meta['cfg'], file_format='.py')
        except Exception:  # noqa: BLE001  (a config that no longer parses states nothing)
            cfg = None
        heads = heads_of_config(cfg, embed_dims) if cfg is not None else None
        if heads:
            stated.append((heads, 'the config stored in the checkpoint'))
    model = str(getattr(checkpoint.get('args'), 'model', ''))
    for name, arch in RELEASED_MODELS:
        if name in model:
            stated.append((heads_of_arch(arch, embed_dims), f'args.model={model}'))
            break
    if isinstance(meta.get('num_heads'), int):
        stated.append((meta['num_heads'], 'meta["num_heads"] of the file'))
    return stated


def resolve_num_heads(checkpoint: dict, embed_dims: int, num_heads: Optional[int] = None,
                      config=None) -> Tuple[Optional[int], str]:
    """``(num_heads, where it came from)`` by the policy above; ``(None, '')`` if nothing states it.

    Args:
        checkpoint (dict): the loaded checkpoint.
        embed_dims (int): the encoder's width (configs of another width are an error).
        num_heads (int, optional): the explicit value.
        config (str | Config, optional): a config file or a loaded config.

    Raises:
        HeadCountError: if two sources disagree, or a value does not divide the width.
    """
    candidates = []
    if num_heads is not None:
        candidates.append((int(num_heads), '--num-heads'))
    if config is not None:
        from mmengine.config import Config
        is_file = isinstance(config, (str, Path))
        cfg = Config.fromfile(str(config)) if is_file else config
        heads = heads_of_config(cfg, embed_dims)
        if heads:
            candidates.append((heads, str(config) if is_file else
                               getattr(cfg, 'filename', None) or 'the given config'))
    candidates += stated_num_heads(checkpoint, embed_dims)
    if not candidates:
        return None, ''
    value, source = candidates[0]
    for other, where in candidates[1:]:
        if other != value:
            raise HeadCountError(f'{value} attention heads from {source}, but {other} from '
                                 f'{where}: the same weights with another head count compute '
                                 'other features; drop the wrong one')
    if value < 1 or embed_dims % value:
        raise HeadCountError(f'num_heads={value} (from {source}) does not divide the width '
                             f'{embed_dims}')
    return value, source
