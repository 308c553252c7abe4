"""Randomness that depends only on (seed, rank, epoch, iteration), so a resumed run is exact.

MMEngine seeds torch, numpy and ``random`` once, when the runner is built, and does not save their
states in checkpoints. Everything random in SdAE (the masks, drop path, the augmentations of a
``num_workers=0`` loader and the base seed of the dataloader workers) therefore continues from a
different generator state after ``--resume`` than in an uninterrupted run, and the two runs
diverge from the first resumed iteration on.

Instead of saving generator states (only rank 0 writes checkpoints, so the other ranks' states
would be lost), :class:`ExactResumeHook` re-seeds every generator from
``derive_seed(runner.seed, stream, step)`` at the start of every epoch and of every iteration.
``runner.seed`` already includes the rank under ``randomness=dict(diff_rank_seed=True)``, so
ranks draw different masks, and any rank's masks can be reproduced from its seed and the
iteration number alone. A resumed run then replays exactly what an uninterrupted run does.
"""
import logging
import random

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import FUNCTIONS
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop
from mmpretrain.registry import HOOKS

STREAMS = {'epoch': 1, 'iter': 2, 'batch': 3}


def derive_seed(seed: int, stream: str, step: int) -> int:
    """A 32-bit seed for ``step`` of ``stream``, independent of history.

    Streams: ``'epoch'`` (start of an epoch, and the dataloader workers' base seed), ``'iter'``
    (start of an iteration) and ``'batch'`` (before fetching a batch in an iteration-based loop).

    ``numpy.random.SeedSequence`` hashes the three numbers, so nearby seeds and steps give
    unrelated generator states.
    """
    entropy = [int(seed) % 2**63, STREAMS[stream], int(step)]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def seed_everything(seed: int) -> None:
    """Seed python's ``random``, numpy's global generator and torch (CPU and every GPU)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device (lazily if CUDA is not initialized)


class _SeededBatches:
    """Wraps ``IterBasedTrainLoop.dataloader_iterator``: re-seeds before fetching batch ``n``.

    ``IterBasedTrainLoop`` resumes by fetching (and discarding) the batches already trained on.
    With the generators re-seeded from the batch index before every fetch, the batch trained
    on first after the resume is augmented exactly as in an uninterrupted run, also when the
    augmentations run in the main process (``num_workers=0``).
    """

    def __init__(self, iterator, seed: int) -> None:
        self._iterator, self._seed, self._count = iterator, seed, 0

    def __iter__(self):
        return self

    def __next__(self):
        seed_everything(derive_seed(self._seed, 'batch', self._count))
        self._count += 1
        return next(self._iterator)


@HOOKS.register_module()
class ExactResumeHook(Hook):
    """Re-seeds all generators per epoch and per iteration so that ``--resume`` is exact.

    - ``before_train_epoch``: ``seed_everything(derive_seed(runner.seed, 'epoch', epoch))``; the
      sampler order (``DefaultSampler``: seed + epoch), the workers' base seed and the first
      batch of a ``num_workers=0`` loader follow from it.
    - ``before_train_iter``: ``seed_everything(derive_seed(runner.seed, 'iter', iter))``; the
      masks and drop path of that iteration (and the next batch of a ``num_workers=0`` loader)
      follow from it.

    What it does not cover, and says so when the run starts:

    - dataloader workers that persist across epochs (``persistent_workers=True`` with
      ``num_workers > 0``): their generators carry state from epoch to epoch, so the
      augmentations after a resume differ from an uninterrupted run (the model state is still
      restored exactly). Use ``persistent_workers=False`` (``tools/train.py
      --no-persistent-workers``) for exact resume; a warning is logged otherwise.
    - a checkpoint written inside an epoch (``CheckpointHook(by_epoch=False)``) under
      ``EpochBasedTrainLoop``: MMEngine restarts that epoch from its first batch, so the resumed
      run would train on part of the epoch twice; resuming from such a checkpoint is refused with
      an error. ``IterBasedTrainLoop`` (with ``TeacherEMAHook(interval='iter')``) resumes from any
      iteration: it skips the batches already seen, and this hook re-seeds before every batch
      is fetched (``derive_seed(runner.seed, 'batch', n)``) so that the skipped fetches leave
      no trace.

    Its priority ``'VERY_HIGH'`` re-seeds before any other hook of the same stage runs.
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        loop = runner.train_loop
        if isinstance(loop, IterBasedTrainLoop) and not isinstance(
                getattr(loop, 'dataloader_iterator', None), (type(None), _SeededBatches)):
            loop.dataloader_iterator = _SeededBatches(loop.dataloader_iterator, runner.seed)
        loader = runner.train_dataloader
        if getattr(loader, 'num_workers', 0) > 0 and getattr(loader, 'persistent_workers', False):
            print_log('ExactResumeHook: the train dataloader keeps persistent workers, whose '
                      'random generators carry over from epoch to epoch; after a resume the data '
                      'augmentations will differ from an uninterrupted run (model, teacher, '
                      'optimizer and masks are still exact). Set '
                      'train_dataloader.persistent_workers=False (tools/train.py '
                      '--no-persistent-workers) for a bit-exact resume.',
                      logger='current', level=logging.WARNING)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Refuse a mid-epoch checkpoint under an epoch-based loop (it would repeat data)."""
        if not getattr(runner, '_resume', False):
            return
        meta = checkpoint.get('meta', {})
        if 'epoch' not in meta or 'iter' not in meta:
            return
        loop = runner.train_loop
        if not isinstance(loop, EpochBasedTrainLoop):
            return
        per_epoch = len(loop.dataloader)
        epoch, it = int(meta['epoch']), int(meta['iter'])
        if per_epoch and it != epoch * per_epoch:
            raise RuntimeError(
                f'Cannot resume exactly from a checkpoint written inside an epoch: it was saved '
                f'at iteration {it}, which is batch {it - epoch * per_epoch} of {per_epoch} in '
                f'epoch {epoch + 1}, and EpochBasedTrainLoop would restart that epoch from its '
                f'first batch (training on part of it twice, with a different teacher schedule). '
                f'Resume from an epoch checkpoint (CheckpointHook(by_epoch=True), e.g. '
                f'epoch_{epoch}.pth), or train with IterBasedTrainLoop and '
                f'TeacherEMAHook(interval="iter"), which resume from any iteration.')

    def before_train_epoch(self, runner) -> None:
        step = runner.epoch if isinstance(runner.train_loop, EpochBasedTrainLoop) else runner.iter
        seed_everything(derive_seed(runner.seed, 'epoch', step))

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        seed_everything(derive_seed(runner.seed, 'iter', runner.iter))


@FUNCTIONS.register_module()
def epoch_seeded_worker_init_fn(worker_id: int, num_workers: int = 0, rank: int = 0,
                                seed: int = 0, disable_subprocess_warning: bool = False) -> None:
    """A dataloader ``worker_init_fn`` whose numpy/``random`` seeds change every epoch.

    MMEngine's default seeds worker ``w`` of rank ``r`` with ``seed + num_workers * r + w`` in
    every epoch, so with ``persistent_workers=False`` each epoch repeats the same augmentation
    random streams. This one seeds numpy and ``random`` from ``torch.initial_seed()``, which
    PyTorch sets to ``base_seed + worker_id`` with ``base_seed`` drawn from the main process's
    generator when the epoch's iterator is created; under :class:`ExactResumeHook` that draw is
    a function of (seed, rank, epoch) only, so streams differ per epoch and per rank and are
    reproduced exactly after a resume. Use it as
    ``train_dataloader.worker_init_fn=dict(type='epoch_seeded_worker_init_fn')``.
    """
    worker_seed = torch.initial_seed() % 2**32
    np.random.seed(worker_seed)
    random.seed(worker_seed)
    if disable_subprocess_warning and worker_id != 0:
        import warnings
        warnings.simplefilter('ignore')
