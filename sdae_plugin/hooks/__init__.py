from .atomic_checkpoint import AtomicCheckpointHook, atomic_write_bytes
from .collapse_watch import CollapseWatchHook
from .exact_resume import (ExactResumeHook, derive_seed, epoch_seeded_worker_init_fn,
                           seed_everything)
from .knn_monitor import KNNMonitorHook
from .nan_guard import NaNGuardHook
from .teacher_ema import TeacherEMAHook, cosine_momentum
from .weights_only_checkpoint import (WeightsOnlyCheckpointHook, from_weights_only,
                                      to_weights_only)

__all__ = [
    'TeacherEMAHook', 'cosine_momentum', 'WeightsOnlyCheckpointHook', 'from_weights_only',
    'to_weights_only', 'AtomicCheckpointHook', 'atomic_write_bytes', 'CollapseWatchHook',
    'ExactResumeHook', 'derive_seed', 'seed_everything', 'epoch_seeded_worker_init_fn',
    'NaNGuardHook', 'KNNMonitorHook'
]
