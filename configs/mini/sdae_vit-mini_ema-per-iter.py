# Fig. 4(a): the teacher follows the student after every iteration instead of every epoch,
# momentum 0.999 -> 0.9999 as configs/ablations/sdae_vit-b_100e_ema-per-iter.py (not tuned here).
# With 64 iterations per epoch, 0.999 keeps 0.999**64 = 0.94 of the teacher per epoch at the
# start, against 0.96 for the per-epoch EMA.
_base_ = './sdae_vit-mini_fashion-mnist.py'
custom_hooks = [
    {{_base_.knn_monitor}},
    dict(type='TeacherEMAHook', base_momentum=0.999, final_momentum=0.9999, interval='iter'),
    dict(type='CollapseWatchHook', std_threshold=0.05, interval=10)
]
