"""Checkpoints that ``torch.load(weights_only=True)`` accepts, so no unsafe-load switch is needed.

MMEngine 0.10.7 saves its ``MessageHub`` as ``HistoryBuffer`` objects (whose pickles call
``getattr``) and numpy values, and loads checkpoints with torch's default, which is
``weights_only=True`` since torch 2.6: resuming or loading such a checkpoint fails with
"Unsupported global: GLOBAL mmengine.logging.history_buffer.HistoryBuffer". This hook writes
those parts as tensors and plain containers and rebuilds them when a checkpoint is loaded.
"""
from typing import Any

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer
from mmpretrain.registry import HOOKS

_BUFFER_KEY = '__history_buffer__'


def to_weights_only(obj: Any) -> Any:
    """Replace HistoryBuffers and numpy values by tensors, Python numbers and plain containers."""
    if isinstance(obj, HistoryBuffer):
        log_history, count_history = obj.data
        return {_BUFFER_KEY: dict(max_length=obj.max_length,
                                  log_history=torch.from_numpy(np.asarray(log_history)),
                                  count_history=torch.from_numpy(np.asarray(count_history)))}
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return type(obj)((k, to_weights_only(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_weights_only(v) for v in obj)
    return obj


def from_weights_only(obj: Any) -> Any:
    """Inverse of :func:`to_weights_only` for the HistoryBuffers the MessageHub needs back."""
    if isinstance(obj, dict):
        if set(obj) == {_BUFFER_KEY}:
            state = obj[_BUFFER_KEY]
            return HistoryBuffer(state['log_history'].numpy(), state['count_history'].numpy(),
                                 state['max_length'])
        return type(obj)((k, from_weights_only(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(from_weights_only(v) for v in obj)
    return obj


@HOOKS.register_module()
class WeightsOnlyCheckpointHook(Hook):
    """Saves the non-tensor runtime state (``meta``, ``message_hub``) in weights-only form.

    ``before_save_checkpoint`` converts it; ``after_load_checkpoint`` (resume, ``load_from``)
    converts it back before the runner reads it. The model, optimizer and scheduler states are
    tensors and plain containers already. Its priority ``'LOWEST'`` lets every other hook add its
    part of the checkpoint first.
    """

    priority = 'LOWEST'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        for key in list(checkpoint):
            if key != 'state_dict':
                checkpoint[key] = to_weights_only(checkpoint[key])

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        for key in ('meta', 'message_hub'):
            if key in checkpoint:
                checkpoint[key] = from_weights_only(checkpoint[key])
