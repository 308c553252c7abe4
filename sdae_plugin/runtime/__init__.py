"""What makes MMEngine runs of this plugin safe and fast, apart from SdAE's own hooks.

Registered (importing ``sdae_plugin`` registers them):

- checkpoints: :class:`AtomicCheckpointHook` (a checkpoint is renamed into place only when
  complete), :class:`WeightsOnlyCheckpointHook` (checkpoints ``torch.load(weights_only=True)``
  reads), :class:`ExactResumeHook` (every random stream re-seeded per iteration, so a resumed run
  is bit-identical) with ``epoch_seeded_worker_init_fn``;
- :class:`NaNGuardHook` (stop on a non-finite loss), :class:`CPUAutocastOptimWrapper` (bf16/fp16
  autocast on CPUs).

Not registered: the fused-optimizer check, the console filter, and the switches of
``tools/train.py`` (``--compile``, ``--tensorboard``, the ``custom_imports`` and teacher-update
checks, DDP on CPUs: :mod:`.train_options`).
"""
from .atomic_checkpoint import AtomicCheckpointHook, atomic_write_bytes
from .cpu_amp import CPUAutocastOptimWrapper
from .exact_resume import (ExactResumeHook, derive_seed, epoch_seeded_worker_init_fn,
                           seed_everything)
from .nan_guard import NaNGuardHook
from .quiet_console import quiet_console
from .weights_only_checkpoint import (WeightsOnlyCheckpointHook, from_weights_only,
                                      to_weights_only)

__all__ = [
    'AtomicCheckpointHook', 'CPUAutocastOptimWrapper', 'ExactResumeHook', 'NaNGuardHook',
    'WeightsOnlyCheckpointHook', 'atomic_write_bytes', 'derive_seed',
    'epoch_seeded_worker_init_fn', 'from_weights_only', 'quiet_console', 'seed_everything',
    'to_weights_only'
]
