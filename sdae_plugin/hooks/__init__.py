"""SdAE's own hooks, registered in ``mmpretrain.registry.HOOKS``: the teacher's EMA schedule,
the collapse watch and the kNN monitor. The hooks that make any run safe (checkpoints, exact
resume, NaN guard) are in :mod:`sdae_plugin.runtime`."""
from .collapse_watch import CollapseWatchHook
from .knn_monitor import KNNMonitorHook
from .teacher_ema import TeacherEMAHook, cosine_momentum

__all__ = ['CollapseWatchHook', 'KNNMonitorHook', 'TeacherEMAHook', 'cosine_momentum']
