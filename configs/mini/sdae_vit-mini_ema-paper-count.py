# As many EMA updates as the paper's schedule. The paper updates the
# teacher once per epoch for 300 epochs with momentum 0.96 -> 0.99, which leaves ~0.98**300 ~ 0 of
# the initial teacher. The mini schedule has 6 epochs: per-epoch updates leave ~0.8 of the
# teacher's random init at the end. Here the same 0.96 -> 0.99 schedule runs once per iteration
# (6 x 64 = 384 updates, close to the paper's 300), so the teacher moves as far as in the paper.
_base_ = './sdae_vit-mini_fashion-mnist.py'
custom_hooks = [
    {{_base_.knn_monitor}},
    dict(type='TeacherEMAHook', base_momentum=0.96, final_momentum=0.99, interval='iter'),
    dict(type='CollapseWatchHook', std_threshold=0.05, interval=10)
]
