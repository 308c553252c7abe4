from .teacher_ema import TeacherEMAHook, cosine_momentum
from .weights_only_checkpoint import (WeightsOnlyCheckpointHook, from_weights_only,
                                      to_weights_only)

__all__ = [
    'TeacherEMAHook', 'cosine_momentum', 'WeightsOnlyCheckpointHook', 'from_weights_only',
    'to_weights_only'
]
