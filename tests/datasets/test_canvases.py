"""Fashion-MNIST canvases for the downstream tasks: determinism, occlusion, the COCO and semantic
sets as pycocotools, MMDetection and MMSegmentation read them, sources, bad input, the tool."""
import importlib.util
import json
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope

from sdae_plugin.datasets.canvases import (CATEGORY_ID_OFFSET, FASHION_CLASSES, SEG_CLASSES,
                                           CanvasError, CanvasOptions, compose_canvas,
                                           make_canvases, semantic_map, write_instance_set,
                                           write_semantic_set)

ROOT = Path(__file__).resolve().parents[2]
RANGE = (16, 48)  # the tiny idx set has 48 images per split
OPTIONS = CanvasOptions(seed=3)


@pytest.fixture
def source(tmp_path, fashion_idx):
    """A tiny Fashion-MNIST idx folder (random pixels: most are above the threshold)."""
    fashion_idx(tmp_path / 'fashion', 48)
    return tmp_path / 'fashion'


def write_sets(out, source, num=4, options=OPTIONS):
    """Both sets, both splits; returns the COCO root and the semantic root."""
    for split, index_range in (('train', RANGE), ('val', None)):
        write_instance_set(out, source, split, num, options, index_range)
        write_semantic_set(out / 'seg', source, split, num, options, index_range)
    return out, out / 'seg'


def files(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob('*'))
            if p.is_file()}


def test_same_seed_same_files_other_seed_other_files(tmp_path, source):
    first = files(write_sets(tmp_path / 'a', source)[0])
    assert len(first) == 28  # 2 json + 8 canvases; seg/: 8 canvases + 8 label maps + 2 json
    assert first == files(write_sets(tmp_path / 'b', source)[0])
    other = files(write_sets(tmp_path / 'c', source, options=CanvasOptions(seed=4))[0])
    assert other.keys() == first.keys()
    assert all(other[k] != first[k] for k in first if k.endswith('.png'))
    # canvas i does not depend on how many are drawn; train and val differ
    three, _ = make_canvases(source, 'train', 3, OPTIONS, RANGE)
    five, _ = make_canvases(source, 'train', 5, OPTIONS, RANGE)
    assert all(np.array_equal(a.image, b.image) and np.array_equal(a.masks, b.masks)
               for a, b in zip(three, five))
    val, _ = make_canvases(source, 'val', 3, OPTIONS, RANGE)
    assert not any(np.array_equal(a.image, b.image) for a, b in zip(three, val))


def test_masks_are_the_visible_object_pixels(source):
    canvases, _ = make_canvases(source, 'train', 30, OPTIONS, RANGE)
    assert sum(len(c.labels) for c in canvases) > 40 and sum(len(c.dropped) for c in canvases)
    for c in canvases:
        k, size = len(c.labels), OPTIONS.canvas_size
        assert c.image.shape == (size, size) and c.image.dtype == np.uint8
        assert c.masks.shape == (k, size, size) and c.masks.dtype == bool
        assert c.boxes.shape == (k, 4) and c.labels.shape == c.sources.shape == (k,)
        assert c.masks.sum(0).max() <= 1  # disjoint: no mask overlaps another item's pixels
        # every mask pixel is an object pixel, every object pixel is in a mask, the rest is black
        assert np.array_equal(c.masks.any(0), c.image > OPTIONS.threshold)
        assert np.all(c.image[~c.masks.any(0)] == 0)
        for mask, box in zip(c.masks, c.boxes):
            assert mask.sum() >= OPTIONS.min_area
            ys, xs = np.nonzero(mask)
            assert box.tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        assert np.array_equal(semantic_map(c)[c.masks.any(0)] - 1,
                              (c.labels[:, None, None] * c.masks).sum(0)[c.masks.any(0)])


def square(side, value=200):
    return np.full((side, side), value, np.uint8)


def test_later_items_occlude_and_mostly_hidden_ones_are_dropped():
    opts = CanvasOptions(canvas_size=64, min_visible=0.3, min_area=16)
    # A (20x20) under B (20x20, shifted by 10): A keeps 300 of 400 pixels, minus B's square
    c = compose_canvas([square(20, 100), square(20, 200)], [(0, 0), (10, 10)], [3, 7], [5, 6],
                       opts)
    expected_a = np.zeros((64, 64), bool)
    expected_a[0:20, 0:20] = True
    expected_a[10:30, 10:30] = False
    assert np.array_equal(c.masks[0], expected_a) and c.masks[1].sum() == 400
    assert np.all(c.image[c.masks[0]] == 100) and np.all(c.image[c.masks[1]] == 200)
    assert c.boxes.tolist() == [[0, 0, 20, 20], [10, 10, 30, 30]] and c.labels.tolist() == [3, 7]
    # C fully covered, E 25 % visible (< 30 %), F visible but tiny: dropped, and not drawn at all
    items = [square(10, 50), square(30), square(20, 60), square(20), square(3, 90)]
    positions = [(12, 12), (5, 5), (40, 38), (40, 43), (0, 60)]
    c = compose_canvas(items, positions, [0, 1, 2, 3, 4], [10, 11, 12, 13, 14], opts)
    assert c.sources.tolist() == [11, 13] and c.dropped.tolist() == [10, 12, 14]
    kept = compose_canvas([items[1], items[3]], [positions[1], positions[3]], [1, 3], [11, 13],
                          opts)
    assert np.array_equal(c.image, kept.image) and np.array_equal(c.masks, kept.masks)
    assert set(np.unique(c.image)) == {0, 200}
    # 270 of 400 visible is kept; pixels at or below the threshold are not pasted: the ring's
    # hole shows what lies below (A, then black)
    ring = square(20)
    ring[5:15, 5:15] = 30  # a hole: what lies below shows through
    c = compose_canvas([square(20, 100), ring], [(0, 0), (0, 12)], [0, 1], [0, 1], opts)
    assert c.masks[0].sum() == 12 * 20 + 3 * 10 and c.masks[1].sum() == 300
    assert np.all(c.image[17:20, 5:15] == 100) and np.all(c.image[20:27, 5:15] == 0)


def test_coco_json_decodes_to_the_masks(tmp_path, source):
    from pycocotools.coco import COCO
    root, _ = write_sets(tmp_path, source)
    canvases, _ = make_canvases(source, 'train', 4, OPTIONS, RANGE)
    coco = COCO(str(root / 'annotations/instances_train.json'))
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == list(FASHION_CLASSES)
    assert coco.getCatIds() == list(range(1, 11))
    for image_id, canvas in zip(sorted(coco.getImgIds()), canvases):
        info = coco.loadImgs(image_id)[0]
        assert info['source_indices'] == canvas.sources.tolist()
        anns = coco.loadAnns(coco.getAnnIds(imgIds=image_id))
        assert len(anns) == len(canvas.labels)
        for ann, mask, label, box in zip(anns, canvas.masks, canvas.labels, canvas.boxes):
            assert np.array_equal(coco.annToMask(ann).astype(bool), mask)
            assert ann['category_id'] == label + CATEGORY_ID_OFFSET and ann['iscrowd'] == 0
            assert ann['area'] == mask.sum()
            x1, y1, x2, y2 = box.tolist()
            assert ann['bbox'] == [x1, y1, x2 - x1, y2 - y1]


def coco_eval(metric, dataset, samples, shift: float = 0.) -> dict:
    metric.results.clear()
    for sample in samples:
        gt = sample.gt_instances
        pred = dict(bboxes=gt.bboxes.tensor + shift, labels=gt.labels,
                    scores=torch.ones(len(gt)), masks=torch.from_numpy(gt.masks.masks).bool())
        metric.process({}, [dict(img_id=sample.img_id, ori_shape=sample.ori_shape,
                                 pred_instances=pred)])
    return metric.evaluate(len(dataset))


def test_mmdetection_reads_the_coco_set_and_scores_ground_truth_1(tmp_path, source):
    from mmdet.datasets import CocoDataset
    from mmdet.evaluation import CocoMetric
    root, _ = write_sets(tmp_path, source, num=6)
    canvases, _ = make_canvases(source, 'val', 6, OPTIONS)
    with DefaultScope.overwrite_default_scope('mmdet'):
        dataset = CocoDataset(
            data_root=str(root), ann_file='annotations/instances_val.json',
            data_prefix=dict(img='val/'), metainfo=dict(classes=FASHION_CLASSES),
            pipeline=[dict(type='LoadImageFromFile', color_type='grayscale'),
                      dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
                      dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape',
                                                            'img_shape'))])
        samples = []
        for i, canvas in enumerate(canvases):
            item = dataset[i]
            assert item['inputs'].shape == (1, 64, 64)
            assert np.array_equal(item['inputs'][0].numpy(), canvas.image)
            gt = item['data_samples'].gt_instances
            assert gt.labels.tolist() == canvas.labels.tolist()
            assert np.array_equal(gt.masks.masks.astype(bool), canvas.masks)
            assert np.array_equal(gt.bboxes.tensor.numpy(), canvas.boxes)
            samples.append(item['data_samples'])
        metric = CocoMetric(ann_file=str(root / 'annotations/instances_val.json'),
                            metric=['bbox', 'segm'])
        metric.dataset_meta = dataset.metainfo
        scores = coco_eval(metric, dataset, samples)
        assert scores['coco/bbox_mAP'] == 1.0 and scores['coco/segm_mAP'] == 1.0
        # the check has teeth: boxes 2 px off lose the strict IoU thresholds
        assert coco_eval(metric, dataset, samples, shift=2.)['coco/bbox_mAP'] < 1.0


def test_mmsegmentation_reads_the_semantic_set(tmp_path, source):
    from mmseg.datasets import BaseSegDataset
    root, seg = write_sets(tmp_path, source)
    canvases, _ = make_canvases(source, 'train', 4, OPTIONS, RANGE)
    # the same canvases as the COCO set, under the same names
    assert files(seg / 'img_dir/train') == files(root / 'train')
    sources = json.loads((seg / 'sources_train.json').read_text())
    assert sources['info']['classes'] == list(SEG_CLASSES) and len(SEG_CLASSES) == 11
    assert sources['source_indices']['000002.png'] == canvases[2].sources.tolist()
    maps = {}
    with DefaultScope.overwrite_default_scope('mmseg'):
        for reduce_zero_label in (False, True):
            dataset = BaseSegDataset(
                data_root=str(seg), data_prefix=dict(img_path='img_dir/train',
                                                     seg_map_path='ann_dir/train'),
                img_suffix='.png', seg_map_suffix='.png', reduce_zero_label=reduce_zero_label,
                metainfo=dict(classes=SEG_CLASSES if not reduce_zero_label else FASHION_CLASSES),
                pipeline=[dict(type='LoadImageFromFile', color_type='grayscale'),
                          dict(type='LoadAnnotations'), dict(type='PackSegInputs')])
            assert len(dataset) == 4
            maps[reduce_zero_label] = [dataset[i]['data_samples'].gt_sem_seg.data[0].numpy()
                                       for i in range(4)]
            if not reduce_zero_label:
                assert [dataset[i]['inputs'].shape for i in range(4)] == [(1, 64, 64)] * 4
    for canvas, kept, reduced in zip(canvases, maps[False], maps[True]):
        assert kept.min() >= 0 and kept.max() <= 10
        assert np.all(kept[canvas.image == 0] == 0)  # background where no item is
        assert np.array_equal(kept, semantic_map(canvas))
        # reduce_zero_label=True would ignore the background (255) and shift the classes
        assert np.array_equal(reduced, np.where(kept == 0, 255, kept - 1))


def write_constant_idx(folder: Path, train_values, test_value: int) -> None:
    """idx files whose images are constant: the value tells where a pasted pixel came from."""
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, values in (('train', train_values), ('t10k', [test_value] * len(train_values))):
        images = np.asarray(values, np.uint8)[:, None, None] * np.ones((28, 28), np.uint8)
        (folder / f'{prefix}-images-idx3-ubyte').write_bytes(
            struct.pack('>IIII', 2051, len(values), 28, 28) + images.tobytes())
        (folder / f'{prefix}-labels-idx1-ubyte').write_bytes(
            struct.pack('>II', 2049, len(values)) + (np.arange(len(values)) % 10).astype(
                np.uint8).tobytes())


def test_items_come_only_from_their_split_and_range(tmp_path):
    # training images 0..39 are 150, 40..59 are 200; test images are 100
    write_constant_idx(tmp_path, [150] * 40 + [200] * 20, 100)
    out = tmp_path / 'out'
    write_instance_set(out, tmp_path, 'train', 12, OPTIONS, (40, 60))
    write_instance_set(out, tmp_path, 'val', 12, OPTIONS)
    for split, value, index_range in (('train', 200, (40, 60)), ('val', 100, (0, 60))):
        data = json.loads((out / f'annotations/instances_{split}.json').read_text())
        assert data['info']['index_range'] == list(index_range)
        assert data['info']['source_split'] == {'train': 'train', 'val': 'test'}[split]
        used = {i for image in data['images'] for i in image['source_indices']}
        assert used and all(index_range[0] <= i < index_range[1] for i in used)
        for image in data['images']:
            pixels = cv2.imread(str(out / split / image['file_name']), cv2.IMREAD_UNCHANGED)
            assert set(np.unique(pixels)) <= {0, value}
        # labels are the source items' labels (index % 10 here)
        assert all(a['category_id'] == a['source_index'] % 10 + 1 for a in data['annotations'])


@pytest.mark.parametrize('kwargs, message', [
    (dict(index_range=None), r'index range \[50000, 60000\) is not inside the Fashion-MNIST '
                             r'train split \(48 images\).*0 <= start < stop <= 48'),
    (dict(index_range=(40, 42)), r'holds 2 items, fewer than the 4 distinct'),
    (dict(num_canvases=0), 'num_canvases must be >= 1'),
    (dict(split='test'), r"split must be one of \['train', 'val'\]"),
    (dict(data_root='nowhere'), r'nowhere/train-images-idx3-ubyte not found.*fetch_fashion'),
])
def test_bad_input_is_refused_with_what_to_change(source, kwargs, message):
    args = {**dict(data_root=source, split='train', num_canvases=2, index_range=RANGE), **kwargs}
    with pytest.raises(CanvasError, match=message):
        make_canvases(args.pop('data_root'), args.pop('split'), args.pop('num_canvases'),
                      OPTIONS, **args)


@pytest.mark.parametrize('kwargs, message', [
    (dict(scale=(20, 80)), r'items of 80 px on a 64 px canvas: lower the scale maximum'),
    (dict(items=(3, 2)), r'items must be \(min, max\) with 1 <= min <= max'),
    (dict(min_visible=1.5), r'min_visible must be in \[0, 1\]'),
])
def test_bad_options_are_refused(kwargs, message):
    with pytest.raises(CanvasError, match=message):
        CanvasOptions(**kwargs)


def load_tool():
    spec = importlib.util.spec_from_file_location('make_canvases',
                                                  ROOT / 'tools/make_canvases.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tool_writes_both_sets_and_reports(tmp_path, source, capsys):
    tool = load_tool()  # in-process: a subprocess would pay the package import again
    out = tmp_path / 'canvases'
    assert tool.main(['--data-root', str(source), '--out', str(out), '--num-train', '3',
                      '--num-val', '2', '--train-range', '16', '48', '--seed', '3']) == 0
    printed = capsys.readouterr().out
    assert 'instances train 3 canvases' in printed and 'semantic  val   2 canvases' in printed
    assert sorted(p.name for p in (out / 'train').iterdir()) == [f'00000{i}.png' for i in range(3)]
    assert (out / 'seg/ann_dir/val/000001.png').is_file()
    assert (out / 'annotations/instances_val.json').is_file()
    assert tool.main(['--data-root', str(source), '--out', str(out)]) == 2
    assert 'is not inside the Fashion-MNIST train split' in capsys.readouterr().err
