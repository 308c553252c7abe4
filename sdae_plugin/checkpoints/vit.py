"""MMPretrain ViTs for encoder weights: built from the weights, or from a config's backbone.

Loading always checks the keys: :func:`check_backbone_state` lists every missing, unexpected and
mismatched key, and outside ``strict`` mode allows only the differences a downstream model has
by design (:func:`expected_differences`).
"""
import copy
from collections import OrderedDict
from pathlib import Path
from typing import List, Optional, Tuple

from torch import nn

from .encoder_weights import EncoderWeights, StateDict
from .errors import BackboneKeyError


def expected_differences(backbone: nn.Module) -> Tuple[List[str], List[str]]:
    """Keys a downstream ``VisionTransformer`` deliberately does not share with the encoder.

    Returns ``(new, unused)``: parameters the downstream model adds (``ln2``, the LayerNorm after
    global average pooling, MAE's ``fc_norm``) and checkpoint keys it does not use (``ln1``, the
    encoder's final LayerNorm, when ``final_norm=False``; ``cls_token`` without a cls token).
    Anything else that differs is an error.
    """
    new, unused = [], []
    if getattr(backbone, 'out_type', None) == 'avg_featmap':
        new += ['ln2.weight', 'ln2.bias']
    if not getattr(backbone, 'final_norm', True):
        unused += ['ln1.weight', 'ln1.bias']
    if not getattr(backbone, 'with_cls_token', True):
        unused += ['cls_token']
    return new, unused


def check_backbone_state(backbone: nn.Module, state: StateDict, strict: bool = True,
                         context: str = '') -> Tuple[List[str], List[str]]:
    """Load ``state`` into ``backbone`` and verify the key sets.

    The module's own load-state-dict hooks run (``VisionTransformer`` resizes ``pos_embed`` to
    its grid and drops the cls position when it has no cls token). With ``strict=True`` every
    key must match; otherwise only the documented :func:`expected_differences` may differ.
    Shape mismatches are always errors. Returns ``(missing, unexpected)``.

    Raises:
        BackboneKeyError: listing every missing, unexpected and mismatched key.
    """
    new, unused = ([], []) if strict else expected_differences(backbone)
    own = backbone.state_dict()
    mismatched = []
    # pos_embed is resized by the module's pre-hook; other shapes must agree.
    for key, value in state.items():
        if key in own and key != 'pos_embed' and own[key].shape != value.shape:
            mismatched.append(f'{key}: checkpoint {tuple(value.shape)}, '
                              f'model {tuple(own[key].shape)}')
    if mismatched:
        raise BackboneKeyError(mismatched=mismatched, context=context)
    try:
        result = backbone.load_state_dict(OrderedDict(state), strict=False)
    except (AssertionError, RuntimeError) as err:  # e.g. pos_embed that cannot be resized
        raise BackboneKeyError(mismatched=[f'pos_embed (or another tensor): {err}'],
                               context=context) from err
    missing = [k for k in result.missing_keys if k not in new]
    unexpected = [k for k in result.unexpected_keys if k not in unused]
    if missing or unexpected:
        raise BackboneKeyError(missing, unexpected, context=context)
    return list(result.missing_keys), list(result.unexpected_keys)


def _vision_transformer(kwargs: dict, out_type: str) -> nn.Module:
    from mmpretrain.models import VisionTransformer
    return VisionTransformer(out_type=out_type, **kwargs)


def build_vit(encoder: EncoderWeights, out_type: str = 'raw', strict: bool = True) -> nn.Module:
    """MMPretrain's ``VisionTransformer`` of the encoder's shape, loaded with its weights, in eval.

    Args:
        encoder (EncoderWeights): weights and head count.
        out_type (str): the model's output, ``'raw'`` (default: ``(B, 1 + N, C)`` tokens after
            the final norm), ``'cls_token'``, ``'featmap'`` or ``'avg_featmap'``.
        strict (bool): every key must match; False allows :func:`expected_differences`.

    Raises:
        HeadCountError: if the encoder's head count is unknown.
        BackboneKeyError: if the weights do not load.
    """
    model = _vision_transformer(encoder.vit_kwargs(), out_type)
    check_backbone_state(model, encoder.state, strict=strict,
                         context=f'({encoder.meta.get("source", "encoder")})')
    model.eval()  # (MMPretrain backbones' train() returns None: no chaining)
    return model


def check_encoder_keys(encoder: EncoderWeights) -> None:
    """The weights are exactly those of MMPretrain's ``VisionTransformer`` of their shape.

    The head count changes no shape, so an encoder whose count is unknown is checked with one
    head (the model is only used for its keys and shapes, then discarded).

    Raises:
        BackboneKeyError: listing every missing, unexpected and mismatched key.
    """
    model = _vision_transformer(encoder.arch.vit_kwargs(encoder.num_heads or 1), 'raw')
    check_backbone_state(model, encoder.state, strict=True,
                         context='(MMPretrain VisionTransformer of the same shape)')


def build_config_backbone(config, options: Optional[dict] = None, **overrides) -> nn.Module:
    """The backbone of a config, built in that config's scope, without its ``init_cfg``.

    Args:
        config (str | Config): a config file (its ``custom_imports`` run) or a loaded config.
        options (dict, optional): ``--cfg-options`` merged into the config first.
        **overrides: backbone arguments to set (e.g. ``drop_path_rate=0.``).

    Returns:
        nn.Module: the uninitialized backbone (weights come from a checkpoint).
    """
    from mmengine.config import Config
    from mmengine.registry import MODELS, DefaultScope
    cfg = Config.fromfile(str(config)) if isinstance(config, (str, Path)) else \
        copy.deepcopy(config)
    if options:
        cfg.merge_from_dict(options)
    backbone_cfg = copy.deepcopy(cfg.model.backbone)
    backbone_cfg.pop('init_cfg', None)
    backbone_cfg.update(overrides)
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmpretrain')):
        return MODELS.build(backbone_cfg)
