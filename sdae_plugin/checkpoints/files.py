"""Read an encoder from any checkpoint the project accepts; write weights-only backbone files.

Accepted sources (told apart by their entries, not by their names):

* **MMEngine checkpoints** with a ``state_dict``: this plugin's pretraining checkpoints
  (``backbone.*`` the student, ``teacher.*`` the EMA teacher, ``neck.*`` the decoder), MMPretrain's
  MAE checkpoints (``backbone.*``), and backbone files written by :func:`save_backbone` /
  ``tools/extract_backbone.py`` (``{'state_dict': {'backbone.*'}, 'meta': {...}}``). The encoder
  keys are MMPretrain ``VisionTransformer`` names already.
* **the released code's checkpoints** (``AbrahamYabo/SdAE``, ``checkpoint-*.pth``): ``model``
  (student ``MaskedAutoencoderViT``) and ``model_teacher`` (timm ``VisionTransformer``) with
  MAE/timm names (converted by :mod:`~sdae_plugin.checkpoints.released_format`; decoder and
  classifier keys are dropped), plus ``optimizer``, ``epoch``, ``scaler`` and ``args`` (an
  ``argparse.Namespace``).

Files are read with ``torch.load(weights_only=True)`` unless the caller trusts them (``unsafe``).
"""
import argparse
from collections import OrderedDict
from pathlib import Path
from typing import Optional

import torch

from .encoder_weights import EncoderWeights, StateDict
from .num_heads import resolve_num_heads, unknown_heads_error
from .released_format import released_encoder_state


def load_checkpoint_file(path: str, unsafe: bool = False) -> dict:
    """Read a checkpoint with ``torch.load(weights_only=True)``.

    ``argparse.Namespace`` (the released code stores its ``args``) is allowed as a safe global;
    it holds only plain values. ``unsafe=True`` loads with ``weights_only=False``: for trusted
    files with other Python objects (e.g. an MMEngine checkpoint with ``HistoryBuffer`` objects,
    written without :class:`~sdae_plugin.runtime.WeightsOnlyCheckpointHook`).
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


def encoder_state(checkpoint: dict, teacher: bool = False) -> StateDict:
    """The encoder's state dict of a loaded checkpoint, in MMPretrain names, without prefix.

    Args:
        checkpoint (dict): a loaded checkpoint in either format.
        teacher (bool): take the EMA teacher (``teacher.*`` / ``model_teacher``) instead of the
            student (``backbone.*`` / ``model``). Defaults to False.
    """
    if detect_format(checkpoint) == 'mmengine':
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
    return released_encoder_state(checkpoint[name])


def source_meta(checkpoint: dict, source: str, teacher: bool) -> dict:
    """Plain values (weights-only safe) describing where an encoder came from."""
    fmt = detect_format(checkpoint)
    meta = dict(source=str(source), source_format=fmt,
                branch='teacher' if teacher else 'student')
    if fmt == 'mmengine':
        for key in ('epoch', 'iter'):
            value = (checkpoint.get('meta') or {}).get(key)
            if isinstance(value, (int, float)):
                meta[key] = int(value)
    elif isinstance(checkpoint.get('epoch'), int):
        meta['epoch'] = checkpoint['epoch']
    return meta


def read_encoder(path: str, teacher: bool = False, num_heads: Optional[int] = None,
                 config=None, unsafe: bool = False, require_heads: bool = True) -> EncoderWeights:
    """The student (or teacher) encoder of any accepted checkpoint, with its head count.

    Args:
        path (str): the checkpoint file.
        teacher (bool): the EMA teacher instead of the student. Defaults to False.
        num_heads (int, optional): the explicit head count (``--num-heads``).
        config (str | Config, optional): the pretraining config, a source of the head count.
        unsafe (bool): ``torch.load(weights_only=False)``, for trusted files only.
        require_heads (bool): raise :class:`HeadCountError` now (naming ``--num-heads``) when
            nothing states the head count. False leaves ``num_heads`` None (extraction only
            copies weights). Defaults to True.

    Raises:
        HeadCountError: see :mod:`~sdae_plugin.checkpoints.num_heads`.
        ValueError: for a file of another layout, or without the requested branch.
    """
    checkpoint = load_checkpoint_file(path, unsafe=unsafe)
    state = encoder_state(checkpoint, teacher=teacher)
    encoder = EncoderWeights(state, meta=source_meta(checkpoint, path, teacher))
    encoder.num_heads, encoder.num_heads_from = resolve_num_heads(
        checkpoint, encoder.arch.embed_dims, num_heads, config)
    if require_heads and encoder.num_heads is None:
        raise unknown_heads_error(str(path))
    return encoder


def save_backbone(encoder: EncoderWeights, path: str) -> None:
    """Write ``{'state_dict': {'backbone.<key>': tensor}, 'meta': {...}}`` (weights-only).

    ``torch.load(path, weights_only=True)`` reads it; MMPretrain, MMDetection and MMSegmentation
    configs load it with ``init_cfg=dict(type='Pretrained', checkpoint=path,
    prefix='backbone.')``; :func:`read_encoder` reads it back with its head count
    (``meta['num_heads']``, when known), so every tool takes it without ``--num-heads``.
    """
    meta = dict(encoder.meta)
    if encoder.num_heads is not None:
        meta['num_heads'] = int(encoder.num_heads)
    tensors = OrderedDict(('backbone.' + k, v.detach().clone().contiguous().cpu())
                          for k, v in encoder.state.items())
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save(dict(state_dict=tensors, meta=meta), path)
    written = torch.load(path, map_location='cpu', weights_only=True)['state_dict']
    if written.keys() != tensors.keys() or not all(
            torch.equal(written[k], v) for k, v in tensors.items()):
        raise RuntimeError(f'{path} does not read back as written')
