"""MultiFoldMaskGenerator: partitions, sizes, randomness and the documented errors."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sdae_plugin.models.utils import MultiFoldMaskGenerator


def check_partition(gen: MultiFoldMaskGenerator, plan, batch: int) -> None:
    n = gen.num_patches
    assert plan.ids_keep.shape == (batch, gen.num_visible)
    assert plan.view_ids.shape == (batch, gen.num_views, gen.view_len)
    for b in range(batch):
        keep = set(plan.ids_keep[b].tolist())
        views = [set(v.tolist()) for v in plan.view_ids[b]]
        assert len(keep) == gen.num_visible
        assert all(len(v) == gen.view_len for v in views)
        if gen.mode == 'multi_fold':
            union = set().union(*views)
            assert len(union) == gen.num_views * gen.view_len  # folds are disjoint
            assert not union & keep  # ... and disjoint from the visible set
            if gen.num_masked % gen.num_folds == 0:
                assert union | keep == set(range(n))  # together they cover the image
        elif gen.mode == 'full_image':
            assert views[0] == set(range(n))
            assert set(plan.target_ids[b, 0].tolist()) == set(range(n)) - keep
        else:
            assert not views[0] & keep
    # ids_restore inverts the shuffle: position of each patch in [visible, masked] order
    order = plan.ids_restore.argsort(dim=1)
    assert torch.equal(order[:, :gen.num_visible], plan.ids_keep)


@settings(max_examples=60, deadline=None)
@given(side=st.integers(2, 16), folds=st.integers(1, 6), seed=st.integers(0, 2**31 - 1),
       batch=st.integers(1, 4))
def test_multi_fold_partition_for_many_shapes(side, folds, seed, batch):
    n = side * side
    if n % 4:  # 0.75 * n must be an integer
        return
    num_masked = 3 * n // 4
    if num_masked % folds or num_masked // folds < 1:
        return
    gen = MultiFoldMaskGenerator(num_patches=n, mask_ratio=0.75, num_folds=folds)
    torch.manual_seed(seed)
    plan = gen(batch, torch.device('cpu'))
    check_partition(gen, plan, batch)
    assert gen.view_len == num_masked // folds
    assert gen.num_views * plan.num_targets == num_masked  # every masked patch is a target


@pytest.mark.parametrize('mode,kwargs,views,length,targets', [
    ('multi_fold', dict(num_folds=3), 3, 49, 49),
    ('only_masked', {}, 1, 147, 147),
    ('full_image', {}, 1, 196, 147),
    ('teacher_crop', dict(crop_ratio=1 / 3), 1, 49, 49),
])
def test_modes_of_table_1(mode, kwargs, views, length, targets):
    gen = MultiFoldMaskGenerator(num_patches=196, mode=mode, **kwargs)
    plan = gen(4, torch.device('cpu'))
    assert (gen.num_views, gen.view_len, plan.num_targets) == (views, length, targets)
    assert plan.target_ids.shape == (4, views, targets)
    check_partition(gen, plan, 4)


def test_different_samples_get_different_masks_and_seed_reproduces():
    gen = MultiFoldMaskGenerator(num_patches=196)
    torch.manual_seed(3)
    first = gen(8, torch.device('cpu'))
    keeps = {tuple(sorted(k.tolist())) for k in first.ids_keep}
    assert len(keeps) == 8
    torch.manual_seed(3)
    again = gen(8, torch.device('cpu'))
    assert torch.equal(first.view_ids, again.view_ids)
    assert torch.equal(first.ids_keep, again.ids_keep)
    assert not torch.equal(gen(8, torch.device('cpu')).view_ids, first.view_ids)


def test_drop_remainder_keeps_whole_folds():
    gen = MultiFoldMaskGenerator(num_patches=196, num_folds=4, drop_remainder=True)
    plan = gen(2, torch.device('cpu'))
    assert (gen.num_views, gen.view_len) == (4, 36)  # 3 of 147 masked patches get no target
    check_partition(gen, plan, 2)


@pytest.mark.parametrize('kwargs,message', [
    (dict(num_patches=10, mask_ratio=0.75), r'num_patches \* mask_ratio \(10 \* 0.75\) = 7.5'),
    (dict(num_patches=196, num_folds=4), r'147 masked patches .* num_folds=4'),
    (dict(num_patches=64, num_folds=5), r'48 masked patches .* num_folds=5'),
    (dict(num_patches=196, mode='teacher_crop', crop_ratio=0.1), r'147 \* 0.1\) = 14.7'),
    (dict(num_patches=196, mode='teacher_crop', crop_ratio=0.001, drop_remainder=True),
     'empty teacher crop'),
    (dict(num_patches=196, num_folds=0), 'num_folds must be an integer >= 1'),
    (dict(num_patches=196, num_folds=200, drop_remainder=True), 'every fold needs'),
    (dict(num_patches=196, mask_ratio=1.0), r'mask_ratio must be in \(0, 1\)'),
    (dict(num_patches=196, mask_ratio=0.0), r'mask_ratio must be in \(0, 1\)'),
    (dict(num_patches=196, crop_ratio=1.5), r'crop_ratio must be in \(0, 1\]'),
    (dict(num_patches=196, mode='tokens'), "Unknown mask mode 'tokens'"),
])
def test_invalid_settings_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MultiFoldMaskGenerator(**kwargs)


def test_non_dividing_error_mentions_drop_remainder():
    with pytest.raises(ValueError, match='drop_remainder=True'):
        MultiFoldMaskGenerator(num_patches=196, num_folds=4)
