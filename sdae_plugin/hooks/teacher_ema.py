"""The EMA that makes SdAE's teacher follow its student: once per epoch (the paper) or per
iteration (``interval='iter'``)."""
import logging
import math

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import EpochBasedTrainLoop
from mmpretrain.registry import HOOKS
from torch import nn

INTERVALS = ('epoch', 'iter')


def cosine_momentum(step: int, total: int, base: float, final: float) -> float:
    """DINO's cosine schedule: ``final + (base - final) * (1 + cos(pi * step / total)) / 2``.

    Args:
        step (int): the 0-based epoch (or iteration) index.
        total (int): the number of epochs (or iterations) of the run.
        base (float): the momentum at step 0.
        final (float): the momentum approached at the end.

    Returns:
        float: the weight on the old teacher for this step.
    """
    return final + 0.5 * (base - final) * (1 + math.cos(math.pi * step / total))


@HOOKS.register_module()
class TeacherEMAHook(Hook):
    """Schedules SdAE's teacher EMA (Eq. (7)): when it runs and with which momentum ``m``.

    ``m`` is the weight on the OLD teacher (SdAE's and DINO's convention; MMEngine's
    ``ExponentialMovingAverage`` calls ``1 - m`` its momentum). It follows a cosine schedule from
    ``base_momentum`` to ``final_momentum``:

    - ``interval='epoch'`` (SdAE): one update after each training epoch ``e`` (0-based) of ``E``,
      with ``m_e = final + (base - final) * (1 + cos(pi * e / E)) / 2``.
    - ``interval='iter'`` (Fig. 4a's alternative): one update after each iteration ``i`` of ``I``,
      with the same formula over iterations.

    The update itself is the model's: the hook calls ``model.update_teacher(m)`` (see
    :meth:`~sdae_plugin.models.SdAE.update_teacher`; DDP and other wrappers are unwrapped). The
    hook keeps no state: the schedule depends only on the epoch (or iteration), so resuming
    continues it where it stopped. Its priority ``'NORMAL'`` runs the epoch-end update before
    ``CheckpointHook`` (``'VERY_LOW'``), so ``epoch_N.pth`` holds the updated teacher. After every
    iteration the momentum that the next update uses is put into MMEngine's message hub as
    ``train/momentum``, so the logger prints it beside the loss.

    Args:
        base_momentum (float): ``m`` at the first update, in [0, 1). Defaults to 0.96.
        final_momentum (float): ``m`` approached at the last update, in [0, 1). Defaults to 0.99.
        interval (str): ``'epoch'`` or ``'iter'``. Defaults to ``'epoch'``.
    """

    priority = 'NORMAL'

    def __init__(self,
                 base_momentum: float = 0.96,
                 final_momentum: float = 0.99,
                 interval: str = 'epoch') -> None:
        for name, value in (('base_momentum', base_momentum), ('final_momentum', final_momentum)):
            if not 0 <= value < 1:
                raise ValueError(f'{name}={value} must be in [0, 1): it is the weight on the old '
                                 'teacher (0.96 keeps 96 % of the teacher), not MMEngine\'s '
                                 '1 - m convention.')
        if interval not in INTERVALS:
            raise ValueError(f'Unknown interval {interval!r}; choose one of {INTERVALS}.')
        self.base_momentum = base_momentum
        self.final_momentum = final_momentum
        self.interval = interval

    def momentum_at(self, step: int, total: int) -> float:
        """The weight on the old teacher for update ``step`` of ``total``."""
        return cosine_momentum(step, total, self.base_momentum, self.final_momentum)

    @staticmethod
    def _model(runner) -> nn.Module:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not isinstance(getattr(model, 'teacher', None), nn.Module) or \
                not callable(getattr(model, 'update_teacher', None)):
            raise RuntimeError(f'TeacherEMAHook needs a model with a `teacher` submodule and an '
                               f'`update_teacher(momentum)` method (such as SdAE); '
                               f'{type(model).__name__} has none. Remove the hook from '
                               'custom_hooks or use an SdAE model.')
        return model

    def before_train(self, runner) -> None:
        """Check the set-up: an SdAE-like model, a matching loop, data to train on."""
        model = self._model(runner)
        if self.interval == 'epoch' and not isinstance(runner.train_loop, EpochBasedTrainLoop):
            raise RuntimeError(f'TeacherEMAHook(interval="epoch") needs an epoch-based train loop, '
                               f'but the runner uses {type(runner.train_loop).__name__}: use '
                               'train_cfg=dict(type="EpochBasedTrainLoop", max_epochs=...) or '
                               'interval="iter".')
        self._warn_if_teacher_optimized(runner, model)
        self._check_data(runner)

    @staticmethod
    def _check_data(runner) -> None:
        """An epoch without batches would still move the teacher: refuse to start."""
        loader = runner.train_dataloader
        try:
            num_batches = len(loader)
        except TypeError:  # an iterable-style dataset has no length
            return
        if num_batches > 0:
            return
        dataset = loader.dataset
        raise RuntimeError(
            f'The train dataloader yields no batches: {type(dataset).__name__} has '
            f'{len(dataset)} samples, batch_size={loader.batch_size}, '
            f'drop_last={loader.drop_last} (per process). Check the data_root / ann_file / '
            'split of train_dataloader.dataset, or lower batch_size. Training would otherwise '
            'run empty epochs in which only the teacher moves.')

    def _current(self, runner) -> float:
        if self.interval == 'epoch':
            return self.momentum_at(runner.epoch, runner.max_epochs)
        return self.momentum_at(runner.iter, runner.max_iters)

    @staticmethod
    def _warn_if_teacher_optimized(runner, model: nn.Module) -> None:
        optim_wrapper = getattr(runner, 'optim_wrapper', None)
        optimizer = getattr(optim_wrapper, 'optimizer', None)
        if optimizer is None:
            return
        teacher_ids = {id(p) for p in model.teacher.parameters()}
        if any(id(p) in teacher_ids for g in optimizer.param_groups for p in g['params']):
            print_log('Teacher parameters are in the optimizer (they get no gradients, so they '
                      'are not changed, but they cost optimizer memory); use '
                      'optim_wrapper.constructor="SdAEOptimWrapperConstructor" to leave them out.',
                      logger='current', level=logging.WARNING)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Refuse to resume from a checkpoint without a (matching) teacher.

        MMEngine loads checkpoints with ``strict=False``: a checkpoint without ``teacher.*`` (a
        student-only or extracted file) would otherwise resume with a freshly initialized
        teacher, and one with other shapes would only print a warning.
        """
        model = self._model(runner)
        state = checkpoint.get('state_dict', checkpoint)
        expected = {f'teacher.{k}': v for k, v in model.teacher.state_dict().items()}
        missing = sorted(k for k in expected if k not in state)
        wrong = sorted(k for k in expected if k in state
                       and tuple(state[k].shape) != tuple(expected[k].shape))
        if not missing and not wrong:
            return
        if missing and len(missing) == len(expected):
            problem = 'has no teacher weights (no `teacher.*` keys)'
        elif missing:
            problem = f'lacks {len(missing)} teacher tensors, e.g. {missing[:3]}'
        else:
            problem = (f'has teacher tensors of other shapes, e.g. {wrong[0]}: '
                       f'{tuple(state[wrong[0]].shape)} vs {tuple(expected[wrong[0]].shape)} '
                       '(a different architecture)')
        if getattr(runner, '_resume', False):
            raise RuntimeError(
                f'Cannot resume SdAE: the checkpoint {problem}. Resuming needs a full SdAE '
                'checkpoint written by this training (epoch_N.pth), with the same backbone '
                'architecture; to start a new run from other weights use load_from (or '
                'init_cfg) instead of --resume.')
        print_log(f'load_from: the checkpoint {problem}; the teacher keeps its initialization.',
                  logger='current', level=logging.WARNING)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        """Log the momentum of the next update; per-iteration mode: apply this iteration's."""
        momentum = self._current(runner)
        if self.interval == 'iter':
            self._model(runner).update_teacher(momentum)
        runner.message_hub.update_scalar('train/momentum', momentum)

    def after_train_epoch(self, runner) -> None:
        """Per-epoch mode: update with the momentum of the epoch that just ended."""
        if self.interval == 'epoch':
            self._model(runner).update_teacher(self._current(runner))
