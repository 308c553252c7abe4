"""Warn (once) when the teacher's targets collapse towards a constant."""
import logging
import math
from typing import Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class CollapseWatchHook(Hook):
    """Watches ``target_std`` and ``cosine``, which ``SdAE.loss`` returns every iteration.

    Both are logged by MMEngine's ``LoggerHook`` every ``default_hooks.logger.interval``
    iterations (averaged over that window). Every ``interval`` iterations this hook averages
    ``target_std`` over the last ``interval`` iterations (from the message hub); the first time
    it is below ``std_threshold`` it logs one warning with the iteration, the mean
    ``target_std`` and ``cosine``, and what to check. It never stops training.

    ``target_std`` is the std of the (normalized) teacher targets over all tokens, averaged over
    channels: about 0.5 in a healthy demo run, and towards 0 when the teacher maps every patch to
    the same feature (a collapsed teacher gives every student the same easy target, and the
    cosine then rises towards 1 while nothing useful is learned).

    Args:
        std_threshold (float): warn when the mean ``target_std`` falls below it.
            Defaults to 0.05.
        interval (int): check every ``interval`` iterations, over that many. Defaults to 50.
    """

    priority = 'LOW'

    def __init__(self, std_threshold: float = 0.05, interval: int = 50) -> None:
        if not std_threshold > 0:
            raise ValueError(f'std_threshold must be > 0, got {std_threshold}.')
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f'interval must be an integer >= 1, got {interval!r}.')
        self.std_threshold = std_threshold
        self.interval = interval
        self.warned_at: Optional[int] = None

    def _mean(self, runner, key: str) -> Optional[float]:
        buffer = runner.message_hub.log_scalars.get(f'train/{key}')
        if buffer is None:
            return None
        return float(buffer.mean(self.interval))

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.warned_at is not None or not self.every_n_train_iters(runner, self.interval):
            return
        std = self._mean(runner, 'target_std')
        if std is None or math.isnan(std):
            return
        if std < self.std_threshold:
            self.warned_at = runner.iter + 1
            cosine = self._mean(runner, 'cosine')
            print_log(
                f'Possible teacher collapse at iteration {self.warned_at}: mean target_std '
                f'over the last {self.interval} iterations is {std:.4g} < {self.std_threshold} '
                f'(cosine {cosine:.4g}). The teacher gives (nearly) the same target for every '
                'patch. Check: normalize_target=True in the head, the EMA momentum (too low a '
                'weight on the old teacher, or per-iteration EMA with the per-epoch values), '
                'the learning rate and warm-up, and that the data are not constant images. '
                'Resume from a checkpoint before target_std started to fall. '
                '(This warning is shown once.)',
                logger='current', level=logging.WARNING)
