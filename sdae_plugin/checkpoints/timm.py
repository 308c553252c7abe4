"""timm files of an encoder: the state dict in timm names, the kwargs, the check, the writing.

An export is ``OUT.safetensors`` (tensors, with the timm kwargs in the file's metadata) or
``OUT.pth`` (a plain ``{name: tensor}`` dict for ``torch.load``), chosen by OUT's suffix (without
one: safetensors when the package is installed, else ``.pth``), and ``OUT.json`` beside it: the
timm model name when a registered one matches (e.g. ``vit_base_patch16_224``), the kwargs that
build timm's ``VisionTransformer``, where the weights came from and the check's result.

The check (:func:`verify_timm`) loads the export into timm's ``VisionTransformer`` and the
encoder into MMPretrain's, both strictly, and compares their features (cls + patch tokens after
the final norm) on one random batch.
"""
import json
from collections import OrderedDict
from pathlib import Path
from typing import NamedTuple, Optional, Tuple

import torch

from .files import read_encoder
from .encoder_weights import EncoderWeights, StateDict
from .errors import BackboneKeyError
from .released_format import to_timm_key
from .vit import build_vit, check_encoder_keys

# (embed_dim, depth) -> (num_heads, timm size name): the registered timm ViTs. Only used to name
# an export; the head count itself always comes from the encoder.
STANDARD_VITS = {
    (192, 12): (3, 'tiny'),
    (384, 12): (6, 'small'),
    (768, 12): (12, 'base'),
    (1024, 24): (16, 'large'),
    (1280, 32): (16, 'huge'),
}


class TimmExport(NamedTuple):
    """What :func:`write_timm_export` wrote: tensors file, its format, the JSON sidecar."""
    path: Path
    fmt: str  # 'safetensors' or 'torch'
    sidecar: Path
    info: dict  # the sidecar's content
    num_tensors: int


def to_timm_state_dict(encoder: EncoderWeights) -> StateDict:
    """The encoder's weights in timm ``VisionTransformer`` names (:mod:`.keys`).

    Raises:
        BackboneKeyError: without a cls token or final norm (timm's ``global_pool='token'``
            model has both).
        KeyError: for a key outside the table.
    """
    from ..visualization.progress import progress
    state = encoder.state
    if 'cls_token' not in state or 'ln1.weight' not in state:
        raise BackboneKeyError(missing=[k for k in ('cls_token', 'ln1.weight') if k not in state],
                               context='(timm\'s ViT with global_pool="token" needs the cls '
                               'token and the final norm)')
    return OrderedDict((to_timm_key(key), value.detach().clone().contiguous().cpu())
                       for key, value in progress(state.items(), 'rename', total=len(state)))


def timm_kwargs(encoder: EncoderWeights) -> dict:
    """Arguments of ``timm.models.vision_transformer.VisionTransformer`` for this encoder.

    Raises:
        HeadCountError: if the encoder's head count is unknown.
    """
    kwargs = encoder.vit_kwargs()
    arch = kwargs['arch']
    width = arch['embed_dims']
    return dict(
        img_size=kwargs['img_size'], patch_size=kwargs['patch_size'],
        in_chans=kwargs['in_channels'], num_classes=0, global_pool='token', embed_dim=width,
        depth=arch['num_layers'], num_heads=arch['num_heads'],
        mlp_ratio=arch['feedforward_channels'] / width, qkv_bias=kwargs['qkv_bias'],
        class_token=True)


def timm_model_name(kwargs: dict) -> Optional[str]:
    """The registered timm model this architecture is (``vit_base_patch16_224``, ...), if any."""
    key = (kwargs['embed_dim'], kwargs['depth'])
    if key not in STANDARD_VITS or kwargs['in_chans'] != 3 or not kwargs['qkv_bias']:
        return None
    heads, size = STANDARD_VITS[key]
    if heads != kwargs['num_heads'] or kwargs['mlp_ratio'] != 4.0:
        return None
    name = f'vit_{size}_patch{kwargs["patch_size"]}_{kwargs["img_size"]}'
    try:
        import timm
    except ImportError:
        return name  # cannot check; the usual names exist for patch 16 at 224
    return name if name in timm.list_models(name) else None


def timm_available() -> bool:
    """Whether timm is installed (it is optional: only the check needs it)."""
    try:
        import timm  # noqa: F401
    except ImportError:
        return False
    return True


def verify_timm(encoder: EncoderWeights, timm_state: StateDict, kwargs: dict, atol: float = 1e-5,
                batch: int = 2) -> float:
    """Max abs difference of timm's and MMPretrain's features on one random batch.

    Args:
        encoder (EncoderWeights): the MMPretrain side (weights and head count).
        timm_state (dict): the export's tensors.
        kwargs (dict): :func:`timm_kwargs`.
        atol (float): the largest allowed difference. Defaults to 1e-5.
        batch (int): images in the random batch. Defaults to 2.

    Raises:
        AssertionError: if the feature shapes differ or the difference exceeds ``atol``.
    """
    from timm.models.vision_transformer import VisionTransformer
    timm_vit = VisionTransformer(**kwargs).eval()  # LayerNorm eps 1e-6, timm's default
    timm_vit.load_state_dict(timm_state, strict=True)
    mm_vit = build_vit(encoder, out_type='raw', strict=True)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(batch, kwargs['in_chans'], kwargs['img_size'], kwargs['img_size'],
                    generator=generator)
    with torch.no_grad():
        ours = mm_vit(x)[0]  # (B, 1 + N, C) after ln1
        theirs = timm_vit.forward_features(x)  # (B, 1 + N, C) after norm
    if ours.shape != theirs.shape:
        raise AssertionError(f'feature shapes differ: MMPretrain {tuple(ours.shape)}, '
                             f'timm {tuple(theirs.shape)}')
    diff = (ours - theirs).abs().max().item()
    if not diff <= atol:
        raise AssertionError(f'timm and MMPretrain features differ by {diff:.3g} > {atol:g}')
    return diff


def _safetensors_available() -> bool:
    try:
        import safetensors.torch  # noqa: F401
    except ImportError:
        return False
    return True


def export_path(out: str) -> Tuple[Path, str]:
    """``(path, 'safetensors' | 'torch')`` from OUT's suffix (see the module docstring).

    Raises:
        ValueError: for an unknown suffix, or ``.safetensors`` without the package.
    """
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix == '.safetensors':
        if not _safetensors_available():
            raise ValueError('writing .safetensors needs the safetensors package '
                             '(pip install safetensors), or name the output .pth')
        return path, 'safetensors'
    if suffix in ('.pth', '.pt', '.bin'):
        return path, 'torch'
    if suffix:
        raise ValueError(f'unknown output type {suffix!r}: use .safetensors or .pth')
    return ((path.with_suffix('.safetensors'), 'safetensors') if _safetensors_available() else
            (path.with_suffix('.pth'), 'torch'))


def read_timm_export(path: str) -> StateDict:
    """The tensors of an export (either format)."""
    if str(path).endswith('.safetensors'):
        from safetensors.torch import load_file
        return load_file(str(path))
    return torch.load(path, map_location='cpu', weights_only=True)


def write_timm_export(encoder: EncoderWeights, out: str, verify: bool = True,
                      atol: float = 1e-5) -> TimmExport:
    """Write the encoder as a timm export (tensors + JSON sidecar), checked against timm.

    Args:
        encoder (EncoderWeights): weights and head count.
        out (str): ``OUT.safetensors``, ``OUT.pth`` or ``OUT`` (see the module docstring).
        verify (bool): compare timm's and MMPretrain's features (:func:`verify_timm`) when timm
            is installed; ``info['verified_max_abs_diff']`` is None when it did not run.
        atol (float): the check's tolerance. Defaults to 1e-5.
    """
    path, fmt = export_path(out)
    kwargs = timm_kwargs(encoder)
    timm_state = to_timm_state_dict(encoder)
    name = timm_model_name(kwargs)
    info = OrderedDict(
        timm_model=name, timm_kwargs=kwargs, source=encoder.meta.get('source'),
        source_format=encoder.meta.get('source_format'), branch=encoder.meta.get('branch'),
        num_heads_from=encoder.num_heads_from,
        usage=(f"timm.create_model('{name}', pretrained=True, num_classes=0, "
               f"pretrained_cfg_overlay=dict(file='{path.name}'))" if name else
               'timm.models.vision_transformer.VisionTransformer(**timm_kwargs) then '
               'load_state_dict(weights)'))
    checked = None
    if verify and timm_available():
        checked = verify_timm(encoder, timm_state, kwargs, atol=atol)
    info['verified_max_abs_diff'] = checked

    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == 'safetensors':
        from safetensors.torch import save_file
        save_file(dict(timm_state), str(path), metadata={
            'format': 'pt', 'timm_model': str(name), 'timm_kwargs': json.dumps(kwargs),
            'source': str(info['source']), 'branch': str(info['branch'])})
    else:
        torch.save(dict(timm_state), path)
    sidecar = path.with_suffix('.json')
    sidecar.write_text(json.dumps(info, indent=2) + '\n')
    written = read_timm_export(path)
    if set(written) != set(timm_state) or not all(
            torch.equal(written[k], v) for k, v in timm_state.items()):
        raise RuntimeError(f'{path} does not read back as written')
    return TimmExport(path, fmt, sidecar, info, len(timm_state))


def export_timm(src: str, out: str, teacher: bool = False, num_heads: Optional[int] = None,
                config=None, unsafe: bool = False, verify: bool = True,
                atol: float = 1e-5) -> TimmExport:
    """``tools/export_timm.py``: read any accepted checkpoint, check it, write the timm export.

    Args:
        src (str): pretraining checkpoint, extracted backbone or released ``checkpoint-*.pth``.
        out (str): see :func:`write_timm_export`.
        teacher (bool): the EMA teacher instead of the student.
        num_heads (int, optional), config (str, optional): head count sources
            (:mod:`~sdae_plugin.checkpoints.num_heads`).
        unsafe (bool): ``torch.load(weights_only=False)``.
        verify (bool), atol (float): see :func:`write_timm_export`.
    """
    export_path(out)  # a bad OUT fails before the checkpoint is read
    encoder = read_encoder(src, teacher=teacher, num_heads=num_heads, config=config,
                           unsafe=unsafe)
    check_encoder_keys(encoder)
    return write_timm_export(encoder, out, verify=verify, atol=atol)
