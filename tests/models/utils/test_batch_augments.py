"""Batched RandomResizedCrop / RandomFlip against MMPretrain's and MMCV's per-image transforms."""
import mmcv
import numpy as np
import pytest
import torch
from mmpretrain.registry import TRANSFORMS

from sdae_plugin.models.utils.batch_augments import (BatchAugmentError, apply_batch_augments,
                                                   batch_augment_plan, crop_boxes,
                                                   cubic_resize_matrix, random_flip)

CROP = dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.4, 1.0),
            interpolation='bicubic')


def transforms(*cfgs):
    return [TRANSFORMS.build(dict(cfg)) for cfg in cfgs]


def images(num: int, size: int = 28) -> np.ndarray:
    """Smooth-ish uint8 images with the full 0-255 range (worst case for rounding)."""
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, (num, size, size), dtype=np.uint8)


def test_a_box_is_resized_as_mmcv_crops_and_resizes_it():
    torch.manual_seed(0)
    imgs = images(300)
    boxes = crop_boxes(300, 28, 28, (0.4, 1.0), (3 / 4, 4 / 3), 10)
    rows = cubic_resize_matrix(boxes[:, 0], boxes[:, 2], 28, 32)
    cols = cubic_resize_matrix(boxes[:, 1], boxes[:, 3], 28, 32)
    ours = (rows @ torch.from_numpy(imgs).double() @ cols.transpose(1, 2)).round().clamp(0, 255)
    diff = []
    for img, box, out in zip(imgs, boxes.tolist(), ours):
        top, left, h, w = box
        ref = mmcv.imresize(mmcv.imcrop(img, np.array([left, top, left + w - 1, top + h - 1])),
                            (32, 32), interpolation='bicubic')
        diff.append(np.abs(ref.astype(int) - out.numpy().astype(int)))
    diff = np.stack(diff)
    # OpenCV resizes uint8 in fixed point: a rare off-by-one, never more
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3


@pytest.mark.parametrize('area, ratio', [((0.4, 1.0), (3 / 4, 4 / 3)), ((0.08, 1.0), (0.5, 2.0))])
def test_boxes_follow_mmpretrain_distribution(area, ratio):
    n, size = 20000, 28
    torch.manual_seed(0)
    ours = crop_boxes(n, size, size, area, ratio, 10).numpy()
    reference = TRANSFORMS.build(dict(CROP, crop_ratio_range=area, aspect_ratio_range=ratio))
    np.random.seed(0)
    img = np.zeros((size, size), np.uint8)
    theirs = np.array([reference.rand_crop_params(img) for _ in range(n)])
    assert (ours[:, 2] >= 1).all() and (ours[:, 0] + ours[:, 2] <= size).all()
    assert (ours[:, 3] >= 1).all() and (ours[:, 1] + ours[:, 3] <= size).all()
    for column in range(4):  # top, left, height, width: total variation of their histograms
        a = np.bincount(ours[:, column], minlength=size + 1) / n
        b = np.bincount(theirs[:, column], minlength=size + 1) / n
        assert 0.5 * np.abs(a - b).sum() < 0.03, column


@pytest.mark.parametrize('area, ratio', [((1.5, 2.0), (3 / 4, 4 / 3)), ((1.5, 2.0), (2.0, 3.0)),
                                         ((1.5, 2.0), (0.2, 0.5))])
def test_no_fitting_draw_falls_back_to_mmpretrains_central_crop(area, ratio):
    reference = TRANSFORMS.build(dict(CROP, crop_ratio_range=area, aspect_ratio_range=ratio))
    expected = reference.rand_crop_params(np.zeros((28, 28), np.uint8))
    boxes = crop_boxes(5, 28, 28, area, ratio, 10)
    assert boxes.tolist() == [list(expected)] * 5


def test_flip():
    batch = torch.arange(2 * 3 * 4 * 5.).reshape(2, 3, 4, 5)
    assert torch.equal(random_flip(batch, 1.0, 'horizontal'), batch.flip(-1))
    assert torch.equal(random_flip(batch, 1.0, 'vertical'), batch.flip(-2))
    assert torch.equal(random_flip(batch, 0.0, 'horizontal'), batch)
    torch.manual_seed(0)
    many = torch.arange(4000.)[:, None, None, None].expand(4000, 1, 1, 2) * torch.tensor([1, -1.])
    flipped = (random_flip(many, 0.5, 'horizontal')[:, 0, 0, 0] < 0).float().mean()
    assert abs(flipped - 0.5) < 0.03


def test_plan_is_read_from_the_pipeline():
    plan = batch_augment_plan(transforms(CROP, dict(type='RandomFlip', prob=0.5),
                                         dict(type='PackInputs')))
    assert plan == (dict(type='RandomResizedCrop', size=(32, 32), area=(0.4, 1.0),
                         ratio=(3 / 4, 4 / 3), attempts=10),
                    dict(type='RandomFlip', prob=0.5, direction='horizontal'))


@pytest.mark.parametrize('pipeline, message', [
    ([CROP, dict(type='ColorJitter', brightness=0.4), dict(type='PackInputs')], 'ColorJitter'),
    ([CROP], 'PackInputs'),
    ([dict(CROP, backend='pillow'), dict(type='PackInputs')], 'pillow'),
    ([dict(CROP, interpolation='bilinear'), dict(type='PackInputs')], 'bilinear'),
    ([dict(type='RandomFlip', prob=[0.3, 0.3], direction=['horizontal', 'vertical']),
      dict(type='PackInputs')], 'one direction'),
])
def test_a_pipeline_without_batched_equivalent_is_refused(pipeline, message):
    with pytest.raises(BatchAugmentError, match=message):
        batch_augment_plan(transforms(*pipeline))


def test_autocast_leaves_the_pixels_exact():
    plan = batch_augment_plan(transforms(CROP, dict(type='PackInputs')))
    batch = torch.from_numpy(images(16))[:, None]
    torch.manual_seed(3)
    plain = apply_batch_augments(batch, plan)
    torch.manual_seed(3)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        autocast = apply_batch_augments(batch, plan)
    assert plain.dtype == autocast.dtype == torch.float32
    assert torch.equal(plain, autocast) and plain.shape == (16, 1, 32, 32)
    assert torch.equal(plain, plain.round()) and plain.min() >= 0 and plain.max() <= 255
