"""Stop at the first non-finite loss, name the iteration, and never checkpoint NaN weights."""
import math
from typing import Dict, Optional, Tuple

import torch
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


def _as_floats(outputs: Optional[dict]) -> Dict[str, float]:
    values = {}
    for key, value in (outputs or {}).items():
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            values[key] = float(value.detach())
        elif isinstance(value, (int, float)):
            values[key] = float(value)
    return values


def _fmt(stats: Dict[str, float]) -> str:
    return ', '.join(f'{k}={v:.6g}' for k, v in stats.items())


@HOOKS.register_module()
class NaNGuardHook(Hook):
    """Raises ``FloatingPointError`` when the loss (or any logged value) is NaN or infinite.

    - ``after_train_iter``: if ``outputs['loss']`` (and, with ``check_all_outputs``, any scalar
      the model returned: ``target_std``, ``cosine``, ...) is not finite, training stops with
      an error naming the 1-based iteration, the epoch, the bad values and the stats of the last
      iteration whose values were all finite. It runs at priority ``'ABOVE_NORMAL'``, before
      ``CheckpointHook`` (``'VERY_LOW'``) and before the epoch ends, so no checkpoint is written
      after the bad iteration.
    - ``before_save_checkpoint``: if any floating-point tensor of the model's ``state_dict`` is
      not finite (weights can become NaN with a finite loss, e.g. an inf gradient), the save is
      refused with an error naming the first bad tensors, so a good checkpoint is never
      replaced by a NaN one.

    Args:
        check_all_outputs (bool): also check the logged diagnostics, not only ``loss``.
            Defaults to True.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, check_all_outputs: bool = True) -> None:
        self.check_all_outputs = check_all_outputs
        self.last_finite: Optional[Tuple[int, Dict[str, float]]] = None

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        stats = _as_floats(outputs)
        checked = stats if self.check_all_outputs else {'loss': stats.get('loss', 0.0)}
        bad = {k: v for k, v in checked.items() if not math.isfinite(v)}
        iteration = runner.iter + 1  # 1-based, as MMEngine's log and iter_N.pth count
        if not bad:
            self.last_finite = (iteration, stats)
            return
        if self.last_finite is None:
            last = 'none in this run (the first iteration already failed)'
        else:
            last = f'iteration {self.last_finite[0]}: {_fmt(self.last_finite[1])}'
        raise FloatingPointError(
            f'Non-finite training values at iteration {iteration} (epoch {runner.epoch + 1}, '
            f'batch {batch_idx + 1}): {_fmt(bad)}. Last finite stats: {last}. Training stopped '
            'before any checkpoint of this iteration was written; resume from the last '
            'checkpoint with a lower learning rate, a longer warm-up, gradient clipping '
            '(optim_wrapper.clip_grad) or without --amp.')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        bad = [key for key, value in checkpoint.get('state_dict', {}).items()
               if isinstance(value, torch.Tensor) and value.is_floating_point()
               and not bool(torch.isfinite(value).all())]
        if bad:
            meta = checkpoint.get('meta', {})
            raise FloatingPointError(
                f'Refusing to save the checkpoint of iteration {meta.get("iter", runner.iter)} '
                f'(epoch {meta.get("epoch", runner.epoch)}): {len(bad)} tensors hold NaN/inf, '
                f'e.g. {bad[:5]}. The previous checkpoints are kept unchanged.')

