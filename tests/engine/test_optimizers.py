"""SdAEOptimWrapperConstructor keeps the teacher out of every param group."""
from mmengine.optim import build_optim_wrapper


def test_teacher_is_in_no_param_group(make_sdae):
    model = make_sdae()
    for paramwise_cfg in (None, dict(custom_keys={'bias': dict(decay_mult=0.)})):
        cfg = dict(constructor='SdAEOptimWrapperConstructor',
                   optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05), paramwise_cfg=paramwise_cfg)
        optimizer = build_optim_wrapper(model, cfg).optimizer
        in_groups = {id(p) for g in optimizer.param_groups for p in g['params']}
        assert not in_groups & {id(p) for p in model.teacher.parameters()}
        trainable = {id(p) for p in model.parameters() if p.requires_grad}
        assert in_groups == trainable


def test_default_constructor_would_include_the_teacher(make_sdae):
    """Why the constructor exists: without paramwise_cfg MMEngine optimizes model.parameters()."""
    model = make_sdae()
    cfg = dict(optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05))
    optimizer = build_optim_wrapper(model, cfg).optimizer
    in_groups = {id(p) for g in optimizer.param_groups for p in g['params']}
    assert in_groups & {id(p) for p in model.teacher.parameters()}
