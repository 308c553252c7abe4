"""Backbone checkpoints for downstream transfer: read, extract, convert, check, write.

Two source formats are understood:

* **this plugin's pretraining checkpoints** (MMEngine format): ``state_dict`` holds ``backbone.*``
  (the student encoder), ``teacher.*`` (the EMA teacher, same keys) and ``neck.*`` (decoder). The
  encoder keys are MMPretrain ``VisionTransformer`` names already.
* **the released code's checkpoints** (``AbrahamYabo/SdAE``, MAE layout): ``model`` (student
  ``MaskedAutoencoderViT``) and ``model_teacher`` (timm ``VisionTransformer``), both with MAE/timm
  key names, plus ``optimizer``, ``epoch``, ``scaler`` and ``args`` (an ``argparse.Namespace``).

Either way the result is one encoder in MMPretrain names, written as
``{'state_dict': {'backbone.<key>': tensor}, 'meta': {...}}``: a file that
``torch.load(..., weights_only=True)`` reads and that ``init_cfg=dict(type='Pretrained',
checkpoint=..., prefix='backbone.')`` or ``load_from`` load into MMPretrain, MMDetection and
MMSegmentation models whose backbone is MMPretrain's ``VisionTransformer``.
"""
import argparse
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

StateDict = Dict[str, torch.Tensor]

# MAE / timm encoder names -> MMPretrain VisionTransformer names (per-block part after 'blocks.N.').
_BLOCK_RENAMES = (
    ('norm1.', 'ln1.'),
    ('norm2.', 'ln2.'),
    ('attn.qkv.', 'attn.qkv.'),
    ('attn.proj.', 'attn.proj.'),
    ('mlp.fc1.', 'ffn.layers.0.0.'),
    ('mlp.fc2.', 'ffn.layers.1.'),
)
# Keys of the released student that belong to the decoder (or the classifier of the teacher):
# not part of the encoder, dropped on import.
_RELEASED_NON_ENCODER = re.compile(r'^(decoder_|mask_token$|head\.|fc_norm\.)')


class BackboneKeyError(ValueError):
    """A backbone state dict does not match the model it is meant for; the message lists why."""

    def __init__(self, missing: Sequence[str] = (), unexpected: Sequence[str] = (),
                 mismatched: Sequence[str] = (), context: str = '') -> None:
        self.missing, self.unexpected = sorted(missing), sorted(unexpected)
        self.mismatched = sorted(mismatched)
        lines = [f'Backbone keys do not match{(" " + context) if context else ""}:']
        for title, keys in (('missing (in the model, not in the checkpoint)', self.missing),
                            ('unexpected (in the checkpoint, not in the model)', self.unexpected),
                            ('shape mismatch', self.mismatched)):
            if keys:
                lines.append(f'  {title}: {len(keys)}')
                lines.extend(f'    {key}' for key in keys)
        super().__init__('\n'.join(lines))


def convert_released_key(key: str) -> Optional[str]:
    """Map one MAE/timm encoder key to its MMPretrain ``VisionTransformer`` name.

    Returns ``None`` for decoder and classifier keys (``decoder_*``, ``mask_token``, ``head.*``,
    ``fc_norm.*``), which are not part of the encoder. Raises ``KeyError`` for anything else that
    is not an encoder key, so that a checkpoint of another layout is not half-converted silently.
    """
    if _RELEASED_NON_ENCODER.match(key):
        return None
    if key in ('cls_token', 'pos_embed'):
        return key
    if key.startswith('patch_embed.proj.'):
        return 'patch_embed.projection.' + key[len('patch_embed.proj.'):]
    if key.startswith('norm.'):
        return 'ln1.' + key[len('norm.'):]  # the encoder's final LayerNorm
    match = re.match(r'^blocks\.(\d+)\.(.+)$', key)
    if match:
        index, rest = match.groups()
        for old, new in _BLOCK_RENAMES:
            if rest.startswith(old):
                return f'layers.{index}.{new}{rest[len(old):]}'
    raise KeyError(f'not a MAE/timm ViT encoder key: {key!r}')


def convert_released_state_dict(state: StateDict) -> StateDict:
    """A released ``model``/``model_teacher`` state dict as an MMPretrain encoder state dict."""
    converted: StateDict = OrderedDict()
    unknown = []
    for key, value in state.items():
        try:
            new_key = convert_released_key(key)
        except KeyError:
            unknown.append(key)
            continue
        if new_key is not None:
            converted[new_key] = value
    if unknown:
        raise BackboneKeyError(unexpected=unknown, context='(keys of no MAE/timm ViT encoder)')
    return converted


def load_checkpoint_file(path: str, unsafe: bool = False) -> dict:
    """Read a checkpoint with ``torch.load(weights_only=True)``.

    ``argparse.Namespace`` (the released code stores its ``args``) is allowed as a safe global;
    it holds only plain values. ``unsafe=True`` loads with ``weights_only=False``: for trusted
    files with other Python objects (e.g. an MMEngine checkpoint with ``HistoryBuffer`` objects,
    written without :class:`~sdae_plugin.hooks.WeightsOnlyCheckpointHook`).
    """
    if unsafe:
        return torch.load(path, map_location='cpu', weights_only=False)
    with torch.serialization.safe_globals([argparse.Namespace]):
        try:
            return torch.load(path, map_location='cpu', weights_only=True)
        except Exception as err:  # torch raises UnpicklingError (or RuntimeError) here
            raise RuntimeError(
                f'{path} does not load with torch.load(weights_only=True): {err}\n'
                'If you trust the file, pass --unsafe-load (weights_only=False).') from err


def detect_format(checkpoint: dict) -> str:
    """``'mmengine'`` (``state_dict`` with ``backbone.*``) or ``'released'`` (``model``)."""
    if isinstance(checkpoint.get('state_dict'), dict):
        return 'mmengine'
    if isinstance(checkpoint.get('model'), dict):
        return 'released'
    raise ValueError('Unknown checkpoint layout: expected a "state_dict" (MMEngine) or a "model" '
                     f'(released SdAE/MAE) entry, found keys {sorted(checkpoint)}')


def extract_backbone(checkpoint: dict, teacher: bool = False) -> StateDict:
    """The encoder's state dict in MMPretrain names, without prefix.

    Args:
        checkpoint (dict): a loaded checkpoint in either supported format.
        teacher (bool): take the EMA teacher (``teacher.*`` / ``model_teacher``) instead of the
            student (``backbone.*`` / ``model``). Defaults to False.
    """
    fmt = detect_format(checkpoint)
    if fmt == 'mmengine':
        prefix = 'teacher.' if teacher else 'backbone.'
        state = OrderedDict((k[len(prefix):], v) for k, v in checkpoint['state_dict'].items()
                            if k.startswith(prefix))
        if not state:
            prefixes = sorted({k.split('.', 1)[0] + '.' for k in checkpoint['state_dict']})
            raise ValueError(f'No "{prefix}*" keys in the checkpoint (its prefixes: {prefixes})'
                             + ('; it has no EMA teacher' if teacher else ''))
        return state
    name = 'model_teacher' if teacher else 'model'
    if name not in checkpoint:
        raise ValueError(f'The released-format checkpoint has no "{name}" entry '
                         f'(entries: {sorted(checkpoint)})')
    return convert_released_state_dict(checkpoint[name])


def infer_vit_arch(state: StateDict) -> dict:
    """The ``VisionTransformer`` arguments that a backbone state dict was saved from.

    ``num_heads`` cannot be read from weights (it does not change any shape); it is set to a
    divisor of the width so that the model builds: use it for key/shape checks only.
    """
    try:
        proj = state['patch_embed.projection.weight']  # (C, in_channels, p, p)
    except KeyError as err:
        raise BackboneKeyError(missing=['patch_embed.projection.weight'],
                               context='(not a ViT encoder)') from err
    embed_dims, in_channels, patch_size = proj.shape[0], proj.shape[1], proj.shape[2]
    num_layers = 1 + max(int(k.split('.')[1]) for k in state if k.startswith('layers.'))
    ffn = state['layers.0.ffn.layers.0.0.weight'].shape[0]
    with_cls_token = 'cls_token' in state
    num_tokens = state['pos_embed'].shape[1] - int(with_cls_token)
    grid = int(round(num_tokens**0.5))
    if grid * grid != num_tokens:
        raise ValueError(f'pos_embed has {num_tokens} patch positions: not a square grid')
    num_heads = next(h for h in (12, 16, 8, 6, 4, 3, 2, 1) if embed_dims % h == 0)
    return dict(
        arch=dict(embed_dims=embed_dims, num_layers=num_layers, num_heads=num_heads,
                  feedforward_channels=ffn),
        img_size=grid * patch_size, patch_size=patch_size, in_channels=in_channels,
        with_cls_token=with_cls_token, final_norm='ln1.weight' in state)


def build_reference_vit(state: StateDict) -> nn.Module:
    """MMPretrain's ``VisionTransformer`` with the architecture the state dict was saved from."""
    from mmpretrain.models import VisionTransformer
    kwargs = infer_vit_arch(state)
    out_type = 'cls_token' if kwargs['with_cls_token'] else 'featmap'
    return VisionTransformer(out_type=out_type, **kwargs)


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
    """Load ``state`` into ``backbone`` (a scratch copy is fine) and verify the key sets.

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


def plain_meta(checkpoint: dict, source: str, fmt: str, teacher: bool) -> dict:
    """A small weights-only-safe ``meta`` describing where the backbone came from."""
    meta = dict(source=str(source), source_format=fmt,
                branch='teacher' if teacher else 'student')
    if fmt == 'mmengine':
        for key in ('epoch', 'iter'):
            value = checkpoint.get('meta', {}).get(key)
            if isinstance(value, (int, float)):
                meta[key] = int(value)
    elif isinstance(checkpoint.get('epoch'), int):
        meta['epoch'] = checkpoint['epoch']
    return meta


def save_backbone(state: StateDict, path: str, prefix: str = 'backbone.',
                  meta: Optional[dict] = None) -> None:
    """Write ``{'state_dict': {prefix + key: tensor}, 'meta': meta}`` (weights-only loadable)."""
    tensors = OrderedDict((prefix + k, v.detach().clone().contiguous().cpu())
                          for k, v in state.items())
    torch.save(dict(state_dict=tensors, meta=dict(meta or {})), path)

