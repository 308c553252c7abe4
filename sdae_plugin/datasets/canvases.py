"""Downstream data sets from real images: Fashion-MNIST items pasted on black canvases.

Each canvas (default 64x64, grey, uint8, black background) holds a few Fashion-MNIST items
(default 2-4), each resized to a random square side (default 20-36 px) and pasted, whole, at a
random position. An item is pasted where its resized pixels are above ``threshold`` (default 30),
so its silhouette is exact; later items occlude earlier ones. An instance's mask is its VISIBLE
silhouette after occlusion, its box the mask's tight box, its class the item's Fashion-MNIST label.

Mostly hidden items (visible area below ``min_visible`` of the pasted silhouette, or below
``min_area`` pixels) are dropped and the canvas is drawn again without them: what a canvas shows
is exactly its annotated instances (no unlabelled remnants; every pixel above ``threshold`` is in
exactly one mask, every other pixel is 0). Removing an item only uncovers the items below it, so
the kept ones stay kept. Dark parts of a garment (at or below ``threshold``, e.g. stripes) are not
pasted: they are holes in its mask, showing what lies below.

Everything follows from the options and ``seed``: canvas ``i`` of a split is drawn from its own
generator, ``numpy.random.default_rng([seed, split code, i])``, so it does not depend on how many
canvases are asked for, and train and val canvases differ for the same seed.

Sources (no pretraining image is reused):
    * ``'train'`` canvases take items from the Fashion-MNIST TRAINING split, only from
      ``index_range`` (half-open, default ``(50000, 60000)``: the last 10,000 images).
      Pretraining reads the first ``train_subset`` images (8,192 in
      ``configs/_base_/fashion_mnist_pretrain.py``); the demo's kNN memory bank (the last 1,500,
      read for evaluation only) lies inside the default range.
    * ``'val'`` canvases take items from the TEST split only (default: all of it).

Two layouts are written from the same canvases (the same arguments give the same canvases and
file names, ``{index:06d}.png``):

Instances (COCO), :func:`write_instance_set`::

    ROOT/annotations/instances_{train,val}.json
    ROOT/{train,val}/000000.png ...

``segmentation`` is COCO RLE (``pycocotools.mask.encode``, ``counts`` as str: exact), ``bbox``
``[x, y, w, h]`` in pixel edges (``w = x_max - x_min + 1``), ``area`` the mask's pixel count,
``iscrowd`` 0. Category ids are ``label + 1`` (1..10, named :data:`FASHION_CLASSES`): the same value
as in the semantic label maps, and id 0 stays free, as in COCO (MMDetection maps ids to labels by
name through ``metainfo=dict(classes=FASHION_CLASSES)``, so any ids would load). Each image entry
records ``source_indices`` (the kept items' indices in the source split, in paste order), each
annotation its ``source_index``; ``info`` records the split, source split, index range and options.

Semantic (MMSegmentation ``BaseSegDataset``), :func:`write_semantic_set`::

    ROOT/img_dir/{train,val}/000000.png ...    the canvases
    ROOT/ann_dir/{train,val}/000000.png ...    uint8 label maps: 0 background, label + 1 (1..10)
    ROOT/sources_{train,val}.json              info and per-image source indices

``reduce_zero_label``: ADE20K's config sets ``reduce_zero_label=True`` (value 0 is "other" there:
mapped to 255 and ignored, value v becomes class v - 1). Here 0 is the black background, a real
class: a config on these maps sets ``reduce_zero_label=False``,
``metainfo=dict(classes=SEG_CLASSES)`` and ``num_classes=11`` (:data:`SEG_CLASSES` =
``('background', *FASHION_CLASSES)``, class index = map value). With ``reduce_zero_label=True``
and the 10 :data:`FASHION_CLASSES` instead, background pixels would be ignored in the loss and
in mIoU.

Images are single-channel PNGs: load them with ``LoadImageFromFile(color_type='grayscale')`` and a
one-value mean/std (the plain ``LoadImageFromFile`` reads them as 3 equal BGR channels).
"""
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmpretrain.datasets import FashionMNIST
from mmpretrain.datasets.mnist import read_image_file, read_label_file

FASHION_CLASSES: Tuple[str, ...] = tuple(FashionMNIST.METAINFO['classes'])
SEG_CLASSES: Tuple[str, ...] = ('background', *FASHION_CLASSES)
# COCO category id = Fashion-MNIST label + CATEGORY_ID_OFFSET = value in the semantic label maps
CATEGORY_ID_OFFSET = 1
DEFAULT_TRAIN_RANGE = (50000, 60000)
# canvas split -> Fashion-MNIST idx file prefix (the split the items come from)
SOURCE_FILES = {'train': 'train', 'val': 't10k'}
SOURCE_SPLITS = {'train': 'train', 'val': 'test'}
_SPLIT_CODES = {'train': 0, 'val': 1}


class CanvasError(ValueError):
    """Options or source data that cannot give the asked-for canvases; the message says what to
    change."""


class Canvas(NamedTuple):
    """One canvas and its instances (K kept items, in paste order: later ones on top).

    Attributes:
        image: uint8 ``(H, W)``, 0 where no item is.
        masks: bool ``(K, H, W)``, each instance's visible pixels; disjoint.
        labels: int64 ``(K,)``, Fashion-MNIST labels 0..9.
        boxes: float32 ``(K, 4)``, the masks' tight boxes ``(x1, y1, x2, y2)`` in pixel edges
            (``x2 = x_max + 1``), as MMDetection reads the COCO ``bbox``.
        sources: int64 ``(K,)``, the items' indices in the source split.
        dropped: int64 ``(D,)``, source indices of the items dropped as mostly hidden.
    """
    image: np.ndarray
    masks: np.ndarray
    labels: np.ndarray
    boxes: np.ndarray
    sources: np.ndarray
    dropped: np.ndarray


class SetSummary(NamedTuple):
    """What a ``write_*_set`` call wrote: counts and paths."""
    split: str
    canvases: int
    instances: int
    dropped: int
    image_dir: Path
    annotations: Path  # the COCO json, or the folder of label maps


@dataclass(frozen=True)
class CanvasOptions:
    """How canvases are drawn (checked when made).

    Attributes:
        canvas_size: side of the square canvas, pixels.
        items: ``(min, max)`` items pasted per canvas, both inclusive.
        scale: ``(min, max)`` side of a resized item, pixels, both inclusive (28 is the original).
        threshold: an item pixel is part of its silhouette (pasted) where it is above this.
        min_visible: an item whose visible area is below this fraction of its silhouette is dropped.
        min_area: an item with fewer visible pixels than this is dropped.
        seed: seed of every canvas's generator.
    """
    canvas_size: int = 64
    items: Tuple[int, int] = (2, 4)
    scale: Tuple[int, int] = (20, 36)
    threshold: int = 30
    min_visible: float = 0.3
    min_area: int = 16
    seed: int = 0

    def __post_init__(self) -> None:
        lo_items, hi_items = self.items
        lo_side, hi_side = self.scale
        if self.canvas_size < 1:
            raise CanvasError(f'canvas_size must be >= 1, got {self.canvas_size}')
        if not 1 <= lo_items <= hi_items:
            raise CanvasError(f'items must be (min, max) with 1 <= min <= max, got {self.items}')
        if not 1 <= lo_side <= hi_side:
            raise CanvasError(f'scale must be (min, max) with 1 <= min <= max, got {self.scale}')
        if hi_side > self.canvas_size:
            raise CanvasError(f'scale {self.scale} allows items of {hi_side} px on a '
                              f'{self.canvas_size} px canvas: lower the scale maximum to at most '
                              f'{self.canvas_size} or enlarge the canvas')
        if not 0 <= self.threshold < 255:
            raise CanvasError(f'threshold must be in [0, 255), got {self.threshold}')
        if not 0 <= self.min_visible <= 1:
            raise CanvasError(f'min_visible must be in [0, 1], got {self.min_visible}')
        if self.min_area < 1:
            raise CanvasError(f'min_area must be >= 1 pixel, got {self.min_area}')


def _read_idx(path: Path, reader: Callable[[str], torch.Tensor]) -> np.ndarray:
    """One un-gzipped idx file through MMPretrain's reader, with our errors."""
    if not path.is_file():
        raise CanvasError(f'{path} not found: put the un-gzipped Fashion-MNIST idx files there '
                          '(tools/fetch_fashion_mnist.sh DIR does) or pass another data root')
    try:
        return reader(str(path)).numpy()
    except Exception as err:  # noqa: BLE001  (MMPretrain asserts on headers and sizes)
        raise CanvasError(f'{path} is not a complete idx file of Fashion-MNIST (un-gzip it?): '
                          f'{err!r}') from err


def read_fashion_split(data_root: str, split: str) -> Tuple[np.ndarray, np.ndarray]:
    """The Fashion-MNIST split that ``split`` canvases take items from.

    Args:
        data_root: folder of the un-gzipped idx files (``train-images-idx3-ubyte``, ...).
        split: ``'train'`` (reads the training split) or ``'val'`` (reads the test split).

    Returns:
        images uint8 ``(N, 28, 28)`` and labels int64 ``(N,)``.
    """
    _check_split(split)
    prefix = Path(data_root) / SOURCE_FILES[split]
    images = _read_idx(Path(f'{prefix}-images-idx3-ubyte'), read_image_file)
    labels = _read_idx(Path(f'{prefix}-labels-idx1-ubyte'), read_label_file).astype(np.int64)
    if len(images) != len(labels):
        raise CanvasError(f'{data_root}: {len(images)} {SOURCE_FILES[split]} images but '
                          f'{len(labels)} labels')
    return images, labels


def _check_split(split: str) -> None:
    if split not in SOURCE_FILES:
        raise CanvasError(f"split must be one of {sorted(SOURCE_FILES)}, got {split!r}")


def _check_range(index_range: Optional[Sequence[int]], split: str, num_source: int,
                 options: CanvasOptions) -> Tuple[int, int]:
    if index_range is None:
        index_range = DEFAULT_TRAIN_RANGE if split == 'train' else (0, num_source)
    start, stop = (int(i) for i in index_range)
    source = f'the Fashion-MNIST {SOURCE_SPLITS[split]} split ({num_source} images)'
    if not 0 <= start < stop <= num_source:
        raise CanvasError(f'index range [{start}, {stop}) is not inside {source}: give a '
                          f'half-open range with 0 <= start < stop <= {num_source}')
    if stop - start < options.items[1]:
        raise CanvasError(f'index range [{start}, {stop}) holds {stop - start} items, fewer than '
                          f'the {options.items[1]} distinct items a canvas may take: widen the '
                          'range or lower the items maximum')
    return start, stop


def _mask_box(mask: np.ndarray) -> List[float]:
    ys, xs = np.nonzero(mask)
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]


def _render(items: Sequence[np.ndarray], positions: Sequence[Tuple[int, int]], size: int,
            threshold: int) -> Tuple[np.ndarray, np.ndarray, List[int]]:
    """Paste ``items`` in order; returns the image, the owner map (-1 background) and each
    item's silhouette area."""
    image = np.zeros((size, size), np.uint8)
    owner = np.full((size, size), -1, np.int64)
    areas = []
    for k, (item, (x, y)) in enumerate(zip(items, positions)):
        h, w = item.shape
        if x < 0 or y < 0 or x + w > size or y + h > size:
            raise CanvasError(f'item {k} ({w}x{h} at x={x}, y={y}) does not fit on a {size} px '
                              'canvas')
        silhouette = item > threshold
        image[y:y + h, x:x + w][silhouette] = item[silhouette]
        owner[y:y + h, x:x + w][silhouette] = k
        areas.append(int(silhouette.sum()))
    return image, owner, areas


def compose_canvas(items: Sequence[np.ndarray], positions: Sequence[Tuple[int, int]],
                   labels: Sequence[int], sources: Sequence[int],
                   options: CanvasOptions = CanvasOptions()) -> Canvas:
    """Paste already resized items (later on top), drop the mostly hidden ones, annotate.

    Args:
        items: uint8 ``(h, w)`` item images, in paste order.
        positions: ``(x, y)`` of each item's top-left corner; each item lies wholly on the canvas.
        labels: each item's Fashion-MNIST label.
        sources: each item's index in its source split (recorded, not read).
        options: canvas size, ``threshold``, ``min_visible``, ``min_area`` are used.

    Returns:
        The canvas drawn with the kept items only, and their annotations.
    """
    size = options.canvas_size
    _, owner, areas = _render(items, positions, size, options.threshold)
    visible = [int((owner == k).sum()) for k in range(len(items))]
    keep = [k for k, (seen, area) in enumerate(zip(visible, areas))
            if seen >= options.min_area and seen >= options.min_visible * area]
    image, owner, _ = _render([items[k] for k in keep], [positions[k] for k in keep], size,
                              options.threshold)
    masks = owner[None] == np.arange(len(keep))[:, None, None]
    boxes = np.asarray([_mask_box(m) for m in masks], np.float32).reshape(-1, 4)
    dropped = [sources[k] for k in range(len(items)) if k not in keep]
    return Canvas(image=image, masks=masks, labels=np.asarray([labels[k] for k in keep], np.int64),
                  boxes=boxes, sources=np.asarray([sources[k] for k in keep], np.int64),
                  dropped=np.asarray(dropped, np.int64))


def draw_canvas(images: np.ndarray, labels: np.ndarray, index_range: Tuple[int, int],
                options: CanvasOptions, rng: np.random.Generator) -> Canvas:
    """One random canvas from ``images[start:stop]`` (distinct items, random sides and places).

    Args:
        images: uint8 ``(N, 28, 28)`` source items; labels: int64 ``(N,)``.
        index_range: half-open ``(start, stop)`` of the items that may be used.
        options: see :class:`CanvasOptions`.
        rng: the canvas's generator.
    """
    start, stop = index_range
    count = int(rng.integers(options.items[0], options.items[1] + 1))
    sources = start + rng.choice(stop - start, count, replace=False)
    sides = rng.integers(options.scale[0], options.scale[1] + 1, count)
    items, positions = [], []
    for index, side in zip(sources, sides):
        item = images[index]
        interpolation = cv2.INTER_AREA if side < item.shape[0] else cv2.INTER_LINEAR
        items.append(cv2.resize(item, (int(side), int(side)), interpolation=interpolation))
        x, y = rng.integers(0, options.canvas_size - side + 1, 2)
        positions.append((int(x), int(y)))
    return compose_canvas(items, positions, labels[sources].tolist(), sources.tolist(), options)


def make_canvases(data_root: str, split: str, num_canvases: int,
                  options: CanvasOptions = CanvasOptions(),
                  index_range: Optional[Sequence[int]] = None) -> Tuple[List[Canvas], Dict]:
    """Draw ``num_canvases`` canvases of a split (see the module docstring for the sources).

    Args:
        data_root: folder of the Fashion-MNIST idx files.
        split: ``'train'`` or ``'val'``.
        num_canvases: how many, >= 1.
        options: see :class:`CanvasOptions`.
        index_range: half-open ``(start, stop)`` in the source split; default ``(50000, 60000)``
            for train, the whole test split for val.

    Returns:
        The canvases (canvas ``i`` depends only on options, split, range and ``i``) and an
        ``info`` dict (split, source split, index range, options) recorded with the sets.
    """
    _check_split(split)
    if int(num_canvases) < 1:
        raise CanvasError(f'num_canvases must be >= 1, got {num_canvases}')
    images, labels = read_fashion_split(data_root, split)
    start, stop = _check_range(index_range, split, len(images), options)
    canvases = [draw_canvas(images, labels, (start, stop), options,
                            np.random.default_rng([options.seed, _SPLIT_CODES[split], i]))
                for i in range(int(num_canvases))]
    info = dict(description='Fashion-MNIST items pasted on black canvases '
                '(sdae_plugin.datasets.canvases)', split=split,
                source_split=SOURCE_SPLITS[split], index_range=[start, stop], **asdict(options))
    return canvases, info


def semantic_map(canvas: Canvas) -> np.ndarray:
    """uint8 ``(H, W)`` label map: 0 background, ``label + 1`` on each instance's mask."""
    label_map = np.zeros(canvas.image.shape, np.uint8)
    for mask, label in zip(canvas.masks, canvas.labels):
        label_map[mask] = label + CATEGORY_ID_OFFSET
    return label_map


def _write_png(path: Path, array: np.ndarray) -> None:
    if not cv2.imwrite(str(path), array):
        raise OSError(f'could not write {path}')


def _file_name(index: int) -> str:
    return f'{index:06d}.png'


def write_instance_set(root: str, data_root: str, split: str, num_canvases: int,
                       options: CanvasOptions = CanvasOptions(),
                       index_range: Optional[Sequence[int]] = None) -> SetSummary:
    """Write a split as a COCO instance set: ``root/{split}/*.png`` and
    ``root/annotations/instances_{split}.json`` (arguments as :func:`make_canvases`)."""
    from pycocotools import mask as mask_utils
    canvases, info = make_canvases(data_root, split, num_canvases, options, index_range)
    image_dir, ann_file = Path(root) / split, Path(root) / 'annotations' / f'instances_{split}.json'
    image_dir.mkdir(parents=True, exist_ok=True)
    ann_file.parent.mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for i, canvas in enumerate(canvases):
        _write_png(image_dir / _file_name(i), canvas.image)
        height, width = canvas.image.shape
        images.append(dict(id=i + 1, file_name=_file_name(i), height=height, width=width,
                           source_indices=canvas.sources.tolist()))
        for mask, label, box, source in zip(canvas.masks, canvas.labels, canvas.boxes,
                                            canvas.sources):
            rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
            x1, y1, x2, y2 = box.tolist()
            # ids from 1: COCOeval takes a matched annotation id of 0 for "unmatched"
            annotations.append(dict(
                id=len(annotations) + 1, image_id=i + 1,
                category_id=int(label) + CATEGORY_ID_OFFSET, bbox=[x1, y1, x2 - x1, y2 - y1],
                area=float(mask.sum()), iscrowd=0, source_index=int(source),
                segmentation=dict(size=[height, width], counts=rle['counts'].decode('ascii'))))
    categories = [dict(id=k + CATEGORY_ID_OFFSET, name=name, supercategory='clothing')
                  for k, name in enumerate(FASHION_CLASSES)]
    ann_file.write_text(json.dumps(dict(info=info, images=images, annotations=annotations,
                                        categories=categories)))
    return SetSummary(split, len(canvases), len(annotations),
                      sum(len(c.dropped) for c in canvases), image_dir, ann_file)


def write_semantic_set(root: str, data_root: str, split: str, num_canvases: int,
                       options: CanvasOptions = CanvasOptions(),
                       index_range: Optional[Sequence[int]] = None) -> SetSummary:
    """Write a split as a semantic set: ``root/img_dir/{split}/*.png``, label maps in
    ``root/ann_dir/{split}/*.png`` (0 background, label + 1) and ``root/sources_{split}.json``.

    With the same arguments as :func:`write_instance_set` these are the same canvases, under the
    same file names (arguments as :func:`make_canvases`).
    """
    canvases, info = make_canvases(data_root, split, num_canvases, options, index_range)
    image_dir, map_dir = Path(root) / 'img_dir' / split, Path(root) / 'ann_dir' / split
    image_dir.mkdir(parents=True, exist_ok=True)
    map_dir.mkdir(parents=True, exist_ok=True)
    sources = {}
    for i, canvas in enumerate(canvases):
        _write_png(image_dir / _file_name(i), canvas.image)
        _write_png(map_dir / _file_name(i), semantic_map(canvas))
        sources[_file_name(i)] = canvas.sources.tolist()
    (Path(root) / f'sources_{split}.json').write_text(json.dumps(
        dict(info=dict(info, classes=SEG_CLASSES), source_indices=sources)))
    return SetSummary(split, len(canvases), sum(len(c.labels) for c in canvases),
                      sum(len(c.dropped) for c in canvases), image_dir, map_dir)


__all__ = ['CATEGORY_ID_OFFSET', 'Canvas', 'CanvasError', 'CanvasOptions', 'DEFAULT_TRAIN_RANGE',
           'FASHION_CLASSES', 'SEG_CLASSES', 'SetSummary', 'compose_canvas', 'draw_canvas',
           'make_canvases', 'read_fashion_split', 'semantic_map', 'write_instance_set',
           'write_semantic_set']
