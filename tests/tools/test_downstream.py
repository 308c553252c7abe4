"""Downstream transfer end to end: extracted backbones load, and each downstream config trains.

Tiny real-pixel data sets are drawn here (textured canvases with rectangles, discs and triangles
whose boxes, polygons, masks and label maps are exact), written in the COCO, ADE20K and ImageNet
layouts; each downstream config, with a small ViT and small images, runs 2 training iterations
and one validation pass through ``tools/train.py`` or ``mim train``.
"""
import json
import re
import struct
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / 'configs'
COCO_CFG = CONFIGS / 'coco_maskrcnn_sdae.py'
ADE_CFG = CONFIGS / 'ade20k_upernet_sdae.py'
FT_CFG = CONFIGS / 'benchmarks/sdae_vit-b-p16_ft-8xb256-coslr-100e_in1k.py'
LINEAR_CFG = CONFIGS / 'benchmarks/sdae_vit-b-p16_linear-8xb2048-coslr-90e_in1k.py'
DEMO_CFG = CONFIGS / 'sdae_vit-tiny_fashion-mnist_demo.py'
MIM = Path(sys.executable).parent / 'mim'

# The small ViT of the end-to-end runs: 4 blocks of width 32, patch 16 (the real stride).
SMALL_VIT = dict(embed_dims=32, num_layers=4, num_heads=2, feedforward_channels=64)
SHAPES = ('box', 'disc', 'triangle')  # category ids 1, 2, 3; ADE20K label values 1, 2, 3
CANVAS = 128


# ------------------------------------------------------------------------------------------
# real-pixel data with exact annotations
# ------------------------------------------------------------------------------------------
def _canvas(rng: np.random.Generator, size: int = CANVAS) -> np.ndarray:
    """A smooth colour gradient with grain: a textured background (BGR, uint8)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    base = rng.uniform(40, 200, 3)
    slope = rng.uniform(-50, 50, (2, 3))
    img = base + xx[..., None] * slope[0] + yy[..., None] * slope[1]
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _polygon(rng: np.random.Generator, shape: str, size: int = CANVAS) -> np.ndarray:
    """Integer polygon vertices (N, 2) of one shape fully inside the canvas."""
    w, h = rng.integers(size // 4, size // 2, 2)
    x0, y0 = rng.integers(2, size - 2 - w), rng.integers(2, size - 2 - h)
    if shape == 'box':
        pts = [(x0, y0), (x0 + w, y0), (x0 + w, y0 + h), (x0, y0 + h)]
    elif shape == 'triangle':
        pts = [(x0 + w // 2, y0), (x0 + w, y0 + h), (x0, y0 + h)]
    else:  # disc: an ellipse as a 36-gon
        pts = cv2.ellipse2Poly((int(x0 + w // 2), int(y0 + h // 2)), (int(w // 2), int(h // 2)),
                               0, 0, 360, 10)
    return np.asarray(pts, dtype=np.int32).reshape(-1, 2)


def draw_scene(rng: np.random.Generator, num_objects: int):
    """Image, per-object (shape index, polygon, binary mask) and the label map (0 = background)."""
    img = _canvas(rng)
    label = np.zeros(img.shape[:2], np.uint8)
    objects = []
    for k in range(num_objects):
        cls = int(rng.integers(len(SHAPES)))
        poly = _polygon(rng, SHAPES[cls])
        mask = np.zeros(img.shape[:2], np.uint8)
        cv2.fillPoly(mask, [poly], 1)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.fillPoly(img, [poly], colour)
        # stripes inside the object: texture that is not the background's
        for y in range(int(poly[:, 1].min()), int(poly[:, 1].max()), 6):
            img[y][mask[y] > 0] = np.clip(np.asarray(colour) * 0.6, 0, 255).astype(np.uint8)
        for prev in objects:  # later objects occlude earlier ones
            prev[2][mask > 0] = 0
        label[mask > 0] = cls + 1
        objects.append([cls, poly, mask])
    return img, [o for o in objects if o[2].any()], label


def write_coco(root: Path, num_train: int = 4, num_val: int = 2) -> Path:
    """COCO instance layout: train2017/, val2017/, annotations/instances_{split}2017.json."""
    rng = np.random.default_rng(0)
    (root / 'annotations').mkdir(parents=True, exist_ok=True)
    for split, count in (('train', num_train), ('val', num_val)):
        (root / f'{split}2017').mkdir(exist_ok=True)
        images, annotations = [], []
        for i in range(count):
            img, objects, _ = draw_scene(rng, num_objects=2)
            name = f'{split}_{i:03d}.png'
            cv2.imwrite(str(root / f'{split}2017' / name), img)
            images.append(dict(id=i + 1, file_name=name, height=CANVAS, width=CANVAS))
            for cls, poly, mask in objects:
                if mask.sum() == cv2.fillPoly(np.zeros_like(mask), [poly], 1).sum():
                    # unoccluded: the polygon, its extent as the box (COCO's continuous
                    # coordinates) and its area
                    (x0, y0), (x1, y1) = poly.min(0).tolist(), poly.max(0).tolist()
                    box, area = [x0, y0, x1 - x0, y1 - y0], cv2.contourArea(poly)
                    segmentation = [poly.astype(float).ravel().tolist()]
                else:  # occluded: the visible pixels as uncompressed RLE, their extent and count
                    ys, xs = np.nonzero(mask)
                    x0, y0 = int(xs.min()), int(ys.min())
                    box = [x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1]
                    area = float(mask.sum())
                    flat = np.asfortranarray(mask).ravel(order='F')
                    runs, last, count_ = [], 0, 0
                    for value in flat:
                        if value != last:
                            runs.append(count_)
                            last, count_ = value, 0
                        count_ += 1
                    runs.append(count_)
                    segmentation = dict(counts=runs, size=[CANVAS, CANVAS])
                annotations.append(dict(id=len(annotations) + 1, image_id=i + 1,
                                        category_id=cls + 1, bbox=box,
                                        area=float(area), iscrowd=0,
                                        segmentation=segmentation))
        categories = [dict(id=k + 1, name=n) for k, n in enumerate(SHAPES)]
        (root / 'annotations' / f'instances_{split}2017.json').write_text(json.dumps(
            dict(images=images, annotations=annotations, categories=categories)))
    return root


def write_ade(root: Path, num_train: int = 4, num_val: int = 2) -> Path:
    """ADE20K layout: images/{training,validation}/*.jpg, annotations/.../*.png label maps."""
    rng = np.random.default_rng(1)
    for split, count in (('training', num_train), ('validation', num_val)):
        (root / 'images' / split).mkdir(parents=True, exist_ok=True)
        (root / 'annotations' / split).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            img, _, label = draw_scene(rng, num_objects=3)
            cv2.imwrite(str(root / 'images' / split / f'ADE_{split}_{i:08d}.jpg'), img)
            cv2.imwrite(str(root / 'annotations' / split / f'ADE_{split}_{i:08d}.png'), label)
    return root


def write_imagenet(root: Path, per_class: int = 4) -> Path:
    """ImageNet layout: {train,val}/<class>/*.png with meta/{train,val}.txt; one shape per image."""
    rng = np.random.default_rng(2)
    (root / 'meta').mkdir(parents=True, exist_ok=True)
    for split in ('train', 'val'):
        lines = []
        for cls, name in enumerate(SHAPES):
            (root / split / name).mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                img = _canvas(rng)
                poly = _polygon(rng, name)
                cv2.fillPoly(img, [poly], tuple(int(c) for c in rng.integers(0, 256, 3)))
                cv2.imwrite(str(root / split / name / f'{i}.png'), img)
                lines.append(f'{name}/{i}.png {cls}')
        (root / 'meta' / f'{split}.txt').write_text('\n'.join(lines) + '\n')
    return root


def test_scene_annotations_are_exact():
    """The drawn boxes, masks and label maps agree with each other pixel for pixel."""
    rng = np.random.default_rng(0)
    img, objects, label = draw_scene(rng, num_objects=3)
    assert img.shape == (CANVAS, CANVAS, 3) and img.dtype == np.uint8 and img.std() > 10
    assert objects
    union = np.zeros_like(label)
    for cls, poly, mask in objects:
        assert np.all(label[mask > 0] == cls + 1)  # the label map agrees with every mask
        union |= mask
    assert np.array_equal(union > 0, label > 0)


def test_coco_annotations_decode_to_the_drawn_masks(tmp_path):
    """pycocotools reads back every polygon/RLE as a mask whose extent is the box."""
    from pycocotools.coco import COCO
    root = write_coco(tmp_path / 'coco', num_train=6, num_val=0)
    coco = COCO(str(root / 'annotations/instances_train2017.json'))
    assert len(coco.getAnnIds()) >= 6 and len(coco.getCatIds()) == 3
    kinds = set()
    for ann in coco.loadAnns(coco.getAnnIds()):
        mask = coco.annToMask(ann)
        ys, xs = np.nonzero(mask)
        segm = ann['segmentation']
        kinds.add(type(segm).__name__)
        if isinstance(segm, dict):  # RLE: exactly the visible pixels, their extent
            assert mask.sum() == ann['area']
            assert ann['bbox'] == [xs.min(), ys.min(), xs.max() - xs.min() + 1,
                                   ys.max() - ys.min() + 1]
        else:  # polygon: the box is its extent; COCO's rasterization stays inside it
            pts = np.asarray(segm[0]).reshape(-1, 2)
            x0, y0 = pts.min(0)
            assert ann['bbox'] == [x0, y0, *(pts.max(0) - pts.min(0))]
            assert x0 <= xs.min() and xs.max() <= x0 + ann['bbox'][2]
            assert y0 <= ys.min() and ys.max() <= y0 + ann['bbox'][3]
            assert abs(mask.sum() - ann['area']) < 0.15 * ann['area']
    assert kinds == {'list', 'dict'}  # polygons and (occluded) RLE masks both occur


# ------------------------------------------------------------------------------------------
# helpers: checkpoints, configs, runs
# ------------------------------------------------------------------------------------------
def run(cmd, **kwargs) -> str:
    result = subprocess.run([str(c) for c in cmd], cwd=ROOT, capture_output=True, text=True,
                            timeout=600, **kwargs)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-6000:]
    return out


def make_sdae_checkpoint(path: Path) -> Path:
    """A 3-channel, patch-16 SdAE (small ViT) saved in the pretraining checkpoint layout."""
    import sdae_plugin  # noqa: F401
    from mmpretrain.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='SdAE',
        backbone=dict(type='SdAEViT', arch=SMALL_VIT, img_size=64, patch_size=16),
        neck=dict(type='SdAENeck', num_patches=16, embed_dim=32, decoder_embed_dim=16,
                  decoder_depth=1, decoder_num_heads=2),
        head=dict(type='SdAEHead'),
        mask_generator=dict(type='MultiFoldMaskGenerator', mask_ratio=0.75, num_folds=3)))
    model.init_weights()
    torch.save(dict(state_dict=model.state_dict(), meta=dict(epoch=1)), path)
    return path


@pytest.fixture(scope='module')
def small_backbone(tmp_path_factory) -> Path:
    """tools/extract_backbone.py output for the small 3-channel ViT."""
    folder = tmp_path_factory.mktemp('small_backbone')
    src = make_sdae_checkpoint(folder / 'sdae.pth')
    out = folder / 'backbone.pth'
    run([sys.executable, ROOT / 'tools/extract_backbone.py', src, out])
    return out


def small_backbone_cfg(checkpoint: Path, **extra) -> str:
    """Python source of a backbone override: the small ViT, loading ``checkpoint``."""
    items = dict(_delete_=True, type='mmpretrain.VisionTransformer', arch=SMALL_VIT,
                 patch_size=16, init_cfg=dict(type='Pretrained', checkpoint=str(checkpoint),
                                              prefix='backbone.'), **extra)
    return repr(items)


def final_losses(out: str) -> dict:
    """The last logged value of every ``loss*`` key."""
    losses = {}
    for key, value in re.findall(r'\s([\w.]*loss[\w.]*): (-?[\d.]+(?:e[-+]?\d+)?|nan|inf)', out):
        losses[key] = float(value)
    return losses


def assert_trained_and_validated(out: str, work_dir: Path, metric_keys) -> dict:
    assert 'Iter(train) [2/2]' in out or 'Epoch(train)' in out, out[-4000:]
    losses = final_losses(out)
    assert losses and all(np.isfinite(v) for v in losses.values()), losses
    scalars = sorted(work_dir.glob('*/vis_data/scalars.json'))
    assert scalars, out[-4000:]
    rows = [json.loads(line) for line in scalars[-1].read_text().splitlines()]
    metrics = {k: v for row in rows for k, v in row.items() if k in metric_keys}
    assert set(metrics) == set(metric_keys), (metrics, out[-4000:])
    return dict(losses=losses, metrics=metrics)


def common_runtime(work_dir: Path) -> str:
    return f'''
work_dir = {str(work_dir)!r}
env_cfg = dict(dist_cfg=dict(backend='gloo'))
log_level = 'INFO'
'''


# ------------------------------------------------------------------------------------------
# end-to-end: each downstream config trains 2 iterations and validates once
# ------------------------------------------------------------------------------------------
COCO_OVERRIDE = '''
_base_ = [{base!r}]
data_root = {data!r}
scales = [(s, 160) for s in (96, 112, 128)]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomChoice', transforms=[
        [dict(type='RandomChoiceResize', scales=scales, keep_ratio=True)],
        [dict(type='RandomChoiceResize', scales=[(100, 160), (120, 160)], keep_ratio=True),
         dict(type='RandomCrop', crop_type='absolute_range', crop_size=(80, 100),
              allow_negative_crop=True),
         dict(type='RandomChoiceResize', scales=scales, keep_ratio=True)]]),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(160, 128), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                                          'scale_factor')),
]
metainfo = dict(classes={classes!r})
model = dict(
    backbone={backbone},
    neck=[dict(type='mmpretrain.ViTPyramidAdapter', in_channels=32, scales=(4, 2, 1, 0.5),
               norm_cfg=dict(type='SyncBN', requires_grad=True)),
          dict(type='FPN', in_channels=[32] * 4, out_channels=32, num_outs=5)],
    # narrower heads and fewer RoIs: the same structure at a CPU-test cost
    rpn_head=dict(in_channels=32, feat_channels=32),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=32),
        bbox_head=dict(num_classes=3, in_channels=32, conv_out_channels=32, fc_out_channels=64),
        mask_roi_extractor=dict(out_channels=32),
        mask_head=dict(num_classes=3, in_channels=32, conv_out_channels=32)),
    train_cfg=dict(rpn_proposal=dict(nms_pre=200, max_per_img=100),
                   rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=200, max_per_img=100), rcnn=dict(max_per_img=20)))
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=train_pipeline,
                 filter_cfg=dict(filter_empty_gt=True, min_size=4)))
val_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + '/annotations/instances_val2017.json')
test_evaluator = val_evaluator
train_cfg = dict(max_epochs=1, val_interval=1)
default_hooks = dict(logger=dict(interval=1))
'''


@pytest.mark.slow
def test_coco_maskrcnn_trains_and_evaluates_via_mim(tmp_path, small_backbone):
    data = write_coco(tmp_path / 'coco')
    work = tmp_path / 'work'
    cfg = tmp_path / 'coco_maskrcnn_sdae_test.py'
    cfg.write_text(COCO_OVERRIDE.format(
        base=str(COCO_CFG), data=str(data), classes=SHAPES,
        backbone=small_backbone_cfg(small_backbone, img_size=64, out_indices=(0, 1, 2, 3),
                                    out_type='featmap', final_norm=False))
        + common_runtime(work))
    # 4 images, batch 2: one epoch is 2 iterations, then the COCO evaluation
    out = run([MIM, 'train', 'mmdet', cfg, '--work-dir', work])
    assert f'load backbone. in model from: {small_backbone}' in out
    result = assert_trained_and_validated(
        out, work, ['coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP', 'coco/segm_mAP_50'])
    assert {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox', 'loss_mask'} <= set(
        result['losses'])
    print(result)
    # the written checkpoint is weights-only loadable (WeightsOnlyCheckpointHook from mmdet scope)
    ckpt = torch.load(work / 'epoch_1.pth', weights_only=True)
    assert any(k.startswith('backbone.layers.') for k in ckpt['state_dict'])
    # ... so `mim test` reads it without TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD
    out = run([MIM, 'test', 'mmdet', cfg, '--checkpoint', work / 'epoch_1.pth', '--work-dir',
               tmp_path / 'test'])
    assert re.search(r'Epoch\(test\) \[2/2\].*coco/bbox_mAP: .*coco/segm_mAP: ', out)


ADE_OVERRIDE = '''
_base_ = [{base!r}]
data_root = {data!r}
crop_size = (64, 64)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(256, 64), ratio_range=(1.0, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 96), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone={backbone},
    neck=dict(embed_dim=32),
    decode_head=dict(in_channels=[32] * 4, channels=32),
    auxiliary_head=dict(in_channels=32, channels=16),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(43, 43)))
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(batch_size=1, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=2, val_interval=2)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2))
'''


@pytest.mark.slow
def test_ade20k_upernet_trains_and_evaluates_via_mim(tmp_path, small_backbone):
    data = write_ade(tmp_path / 'ade')
    work = tmp_path / 'work'
    cfg = tmp_path / 'ade20k_upernet_sdae_test.py'
    cfg.write_text(ADE_OVERRIDE.format(
        base=str(ADE_CFG), data=str(data),
        backbone=small_backbone_cfg(small_backbone, img_size=(64, 64), out_indices=(0, 1, 2, 3),
                                    out_type='featmap', final_norm=False))
        + common_runtime(work))
    out = run([MIM, 'train', 'mmseg', cfg, '--work-dir', work])
    assert f'load backbone. in model from: {small_backbone}' in out
    result = assert_trained_and_validated(out, work, ['mIoU', 'aAcc', 'mAcc'])
    assert {'decode.loss_ce', 'aux.loss_ce'} <= set(result['losses'])
    print(result)
    ckpt = torch.load(work / 'iter_2.pth', weights_only=True)
    assert any(k.startswith('backbone.layers.') for k in ckpt['state_dict'])


CLS_OVERRIDE = '''
_base_ = [{base!r}]
data_root = {data!r}
model = dict(
    backbone={backbone},
    {neck}
    head=dict(num_classes=3, in_channels=32))
data_preprocessor = dict(num_classes=3)
train_dataloader = dict(batch_size=6, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(batch_size=6, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, 2))
test_evaluator = val_evaluator
train_cfg = dict(max_epochs=1)
default_hooks = dict(logger=dict(interval=1))
'''


def _cls_pipelines(base_cfg: Path) -> str:
    """The config's own pipelines with the 224/256 sizes shrunk to 64/72."""
    from mmengine.config import Config
    cfg = Config.fromfile(str(base_cfg))
    text = repr(dict(train=cfg.train_dataloader.dataset.pipeline,
                     test=cfg.val_dataloader.dataset.pipeline))
    text = text.replace('224', '64').replace('256', '72')
    pipelines = eval(text)  # plain dicts, lists, numbers and strings
    return (f'train_pipeline = {pipelines["train"]!r}\n'
            f'test_pipeline = {pipelines["test"]!r}\n')


@pytest.mark.slow
def test_imagenet_finetune_trains_and_evaluates_via_mim(tmp_path, small_backbone):
    data = write_imagenet(tmp_path / 'imagenet')
    work = tmp_path / 'work'
    cfg = tmp_path / 'finetune_test.py'
    cfg.write_text(_cls_pipelines(FT_CFG) + CLS_OVERRIDE.format(
        base=str(FT_CFG), data=str(data), neck='',
        backbone=small_backbone_cfg(small_backbone, img_size=64, drop_path_rate=0.1,
                                    out_type='avg_featmap', final_norm=False))
        + common_runtime(work))
    # 12 images, batch 6: 2 iterations, then accuracy on the 12 validation images
    out = run([MIM, 'train', 'mmpretrain', cfg, '--work-dir', work])
    result = assert_trained_and_validated(out, work, ['accuracy/top1', 'accuracy/top2'])
    print(result)
    torch.load(work / 'epoch_1.pth', weights_only=True)


@pytest.mark.slow
def test_imagenet_linear_probe_trains_and_evaluates(tmp_path, small_backbone):
    data = write_imagenet(tmp_path / 'imagenet')
    work = tmp_path / 'work'
    cfg = tmp_path / 'linear_test.py'
    cfg.write_text(_cls_pipelines(LINEAR_CFG) + CLS_OVERRIDE.format(
        base=str(LINEAR_CFG), data=str(data), neck='neck=dict(input_features=32),',
        backbone=small_backbone_cfg(small_backbone, img_size=64, frozen_stages=4,
                                    out_type='cls_token', final_norm=True))
        + common_runtime(work))
    out = run([sys.executable, ROOT / 'tools/train.py', cfg, '--work-dir', work])
    result = assert_trained_and_validated(out, work, ['accuracy/top1', 'accuracy/top2'])
    print(result)
    # the frozen encoder is exactly the extracted one after training
    trained = torch.load(work / 'epoch_1.pth', weights_only=True)['state_dict']
    source = torch.load(small_backbone, weights_only=True)['state_dict']
    for key, value in source.items():
        torch.testing.assert_close(trained[key], value, rtol=0, atol=0)


# ------------------------------------------------------------------------------------------
# a backbone extracted from a demo pretraining run loads into all three downstream models
# ------------------------------------------------------------------------------------------
def write_idx(folder: Path, num: int = 16) -> None:
    """A tiny Fashion-MNIST-format set of drawn shapes (idx files)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    images = np.stack([cv2.resize(cv2.cvtColor(draw_scene(rng, 1)[0], cv2.COLOR_BGR2GRAY),
                                  (28, 28), interpolation=cv2.INTER_AREA) for _ in range(num)])
    labels = rng.integers(0, 10, num, dtype=np.uint8)
    for prefix in ('train', 't10k'):
        (folder / f'{prefix}-images-idx3-ubyte').write_bytes(
            struct.pack('>IIII', 2051, num, 28, 28) + images.astype(np.uint8).tobytes())
        (folder / f'{prefix}-labels-idx1-ubyte').write_bytes(
            struct.pack('>II', 2049, num) + labels.tobytes())


DEMO_ARCH = dict(embed_dims=192, num_layers=6, num_heads=3, feedforward_channels=768)


def build_downstream(config: Path, checkpoint: Path, **backbone):
    """The config's model with the demo encoder's shape, initialized from ``checkpoint``."""
    from mmengine.config import Config
    from mmengine.registry import MODELS, DefaultScope
    cfg = Config.fromfile(str(config))
    cfg.model.backbone.arch = DEMO_ARCH
    cfg.model.backbone.update(patch_size=4, in_channels=1, img_size=32, **backbone)
    cfg.model.backbone.init_cfg.checkpoint = str(checkpoint)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
    model.init_weights()
    return model.backbone


@pytest.mark.slow
def test_demo_backbone_loads_into_classifier_maskrcnn_and_upernet(tmp_path):
    data = tmp_path / 'fashion_mnist'
    write_idx(data)
    pre = tmp_path / 'pretrain'
    run([sys.executable, ROOT / 'tools/train.py', DEMO_CFG, '--work-dir', pre, '--cfg-options',
         f'train_dataloader.dataset.data_root={data}', 'train_dataloader.dataset.indices=None',
         f'custom_hooks.2.bank_dataloader.dataset.data_root={data}',  # the kNN monitor
         f'custom_hooks.2.query_dataloader.dataset.data_root={data}', 'custom_hooks.2.k=5',
         'train_dataloader.batch_size=8', 'train_dataloader.num_workers=0',
         'train_dataloader.persistent_workers=False', 'train_cfg.max_epochs=1'])
    out_path = tmp_path / 'backbone.pth'
    shrink = ['model.backbone.arch._delete_=True', 'model.backbone.arch.embed_dims=192',
              'model.backbone.arch.num_layers=6', 'model.backbone.arch.num_heads=3',
              'model.backbone.arch.feedforward_channels=768', 'model.backbone.patch_size=4',
              'model.backbone.in_channels=1', 'model.backbone.img_size=32',
              'model.backbone.out_indices=(1,3,4,5)']
    out = run([sys.executable, ROOT / 'tools/extract_backbone.py', pre / 'epoch_1.pth', out_path,
               '--config', COCO_CFG, '--config', ADE_CFG, '--config', FT_CFG,
               '--cfg-options', *shrink])
    print(out[-1500:])
    assert 'matches MMPretrain VisionTransformer: 0 missing, 0 unexpected keys' in out

    source = torch.load(pre / 'epoch_1.pth', weights_only=True)['state_dict']
    student = {k[len('backbone.'):]: v for k, v in source.items() if k.startswith('backbone.')}
    extracted = torch.load(out_path, weights_only=True)['state_dict']
    assert extracted.keys() == {'backbone.' + k for k in student}
    dense = dict(out_indices=(1, 3, 4, 5))
    models = {
        'classifier': build_downstream(FT_CFG, out_path),
        'linear': build_downstream(LINEAR_CFG, out_path, frozen_stages=6),
        'mask_rcnn': build_downstream(COCO_CFG, out_path, **dense),
        'upernet': build_downstream(ADE_CFG, out_path, **dense),
    }
    for name, backbone in models.items():
        loaded = backbone.state_dict()
        # every tensor the downstream backbone shares with the encoder is the source tensor
        shared = [k for k in student if k in loaded]
        new = sorted(set(loaded) - set(student))
        assert new == (['ln2.bias', 'ln2.weight'] if name == 'classifier' else []), (name, new)
        unused = sorted(set(student) - set(loaded))
        assert unused == ([] if name == 'linear' else ['ln1.bias', 'ln1.weight']), (name, unused)
        for key in shared:
            torch.testing.assert_close(loaded[key], student[key], rtol=0, atol=0,
                                       msg=f'{name}: {key}')
