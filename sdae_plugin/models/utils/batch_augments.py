"""MMPretrain's pretraining augmentations, a whole batch at a time on the model's device.

MMPretrain runs a dataset's ``pipeline`` image by image in the dataloader: ~0.25 ms of Python per
28x28 Fashion-MNIST image for ``RandomResizedCrop`` + ``RandomFlip`` + ``PackInputs`` (measured on
one core, docs/results_mini_pilot.md). With all 60k images for 200 epochs that is ~49 CPU-minutes
per pretraining run. The same
augmentations, with the same random distributions and the same arithmetic, cost a few tensor
operations per batch here.

:func:`batch_augment_plan` reads a pipeline's transforms (the config stays the one source of the
augmentation parameters) and refuses any it cannot reproduce; :func:`apply_batch_augments` runs
the plan on a batch. Both mirror MMPretrain 1.x / MMCV 2.x:

- ``RandomResizedCrop`` (``backend='cv2'``, ``interpolation='bicubic'``): per image up to
  ``max_attempts`` draws of an area fraction and a log-uniform aspect ratio, the first crop that
  fits taken at a uniform offset, else the central fallback crop; then OpenCV's ``INTER_CUBIC``
  resize (Keys kernel, a = -0.75, edge pixels of the crop repeated), rounded and clipped to the
  0-255 of the uint8 image MMCV returns (OpenCV's fixed-point arithmetic may differ by 1).
- ``RandomFlip`` with one direction and a float ``prob``.
- ``PackInputs`` last (the batch is already a tensor).

Random draws come from torch's global CPU generator (the crop boxes of a batch are a few hundred
numbers), so :class:`~sdae_plugin.runtime.ExactResumeHook`'s per-iteration re-seeding makes them
reproducible and resumable, and different on every rank.
"""
import math
from typing import Dict, List, Sequence, Tuple

import torch

CUBIC_A = -0.75  # OpenCV's INTER_CUBIC kernel parameter
SUPPORTED = ('RandomResizedCrop', 'RandomFlip', 'PackInputs')
FLIP_DIMS = {'horizontal': (-1, ), 'vertical': (-2, ), 'diagonal': (-2, -1)}


class BatchAugmentError(ValueError):
    """A pipeline that cannot run a batch at a time; the message says what to change."""


def _crop_step(transform) -> Dict:
    if transform.backend != 'cv2' or transform.interpolation != 'bicubic':
        raise BatchAugmentError(
            'batched RandomResizedCrop reproduces backend="cv2" with interpolation="bicubic" '
            f'only, got backend={transform.backend!r}, interpolation='
            f'{transform.interpolation!r}; change the pipeline or keep per-image augmentation')
    return dict(type='RandomResizedCrop', size=tuple(int(s) for s in transform.scale),
                area=tuple(float(a) for a in transform.crop_ratio_range),
                ratio=tuple(float(r) for r in transform.aspect_ratio_range),
                attempts=int(transform.max_attempts))


def _flip_step(transform) -> Dict:
    if not isinstance(transform.prob, float) or not isinstance(transform.direction, str):
        raise BatchAugmentError(
            'batched RandomFlip takes one direction with a float prob, got prob='
            f'{transform.prob!r}, direction={transform.direction!r}')
    return dict(type='RandomFlip', prob=transform.prob, direction=transform.direction)


def batch_augment_plan(transforms: Sequence) -> Tuple[Dict, ...]:
    """The batch-at-a-time equivalent of a pipeline's transforms (built transform objects).

    Args:
        transforms: the dataset's ``pipeline.transforms``; the last must be ``PackInputs``.

    Returns:
        One plain dict per augmentation, in pipeline order (``PackInputs`` dropped).

    Raises:
        BatchAugmentError: a transform without a batched equivalent, or ``PackInputs`` missing.
    """
    names = [type(t).__name__ for t in transforms]
    if not names or names[-1] != 'PackInputs' or names.count('PackInputs') != 1:
        raise BatchAugmentError(f'the pipeline must end with its one PackInputs, got {names}')
    unsupported = [n for n in names if n not in SUPPORTED]
    if unsupported:
        raise BatchAugmentError(
            f'no batched equivalent of {unsupported} (batched: {list(SUPPORTED)}); use a '
            'per-image dataset (e.g. FashionMNIST instead of BatchedFashionMNIST)')
    steps = {'RandomResizedCrop': _crop_step, 'RandomFlip': _flip_step}
    return tuple(steps[n](t) for n, t in zip(names, transforms) if n != 'PackInputs')


def crop_boxes(num: int, height: int, width: int, area: Tuple[float, float],
               ratio: Tuple[float, float], attempts: int) -> torch.Tensor:
    """Random crop boxes as MMPretrain's ``RandomResizedCrop.rand_crop_params`` draws them.

    Args:
        num: number of images (B).
        height, width: the images' size.
        area: range of the crop's area as a fraction of the image's.
        ratio: range of the crop's aspect ratio (width / height), drawn log-uniformly.
        attempts: draws per image before the central fallback crop.

    Returns:
        Long tensor (B, 4): top, left, crop height, crop width.
    """
    full = height * width
    target_area = (area[0] + (area[1] - area[0]) * torch.rand(num, attempts,
                                                              dtype=torch.float64)) * full
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    aspect = torch.exp(log_lo + (log_hi - log_lo) * torch.rand(num, attempts,
                                                               dtype=torch.float64))
    crop_w = torch.round(torch.sqrt(target_area * aspect)).long()  # half to even, as round()
    crop_h = torch.round(torch.sqrt(target_area / aspect)).long()
    fits = (crop_w > 0) & (crop_w <= width) & (crop_h > 0) & (crop_h <= height)
    first = fits.long().argmax(dim=1, keepdim=True)  # the first attempt that fits
    crop_h, crop_w = crop_h.gather(1, first)[:, 0], crop_w.gather(1, first)[:, 0]
    offsets = torch.rand(num, 2, dtype=torch.float64)
    top = (offsets[:, 0] * (height - crop_h + 1)).long()
    left = (offsets[:, 1] * (width - crop_w + 1)).long()
    fallback = ~fits.any(dim=1)
    if fallback.any():
        in_ratio = width / height
        if in_ratio < min(ratio):
            fall_w, fall_h = width, int(round(width / min(ratio)))
        elif in_ratio > max(ratio):
            fall_w, fall_h = int(round(height * max(ratio))), height
        else:
            fall_w, fall_h = width, height
        crop_h[fallback], crop_w[fallback] = fall_h, fall_w
        top[fallback], left[fallback] = (height - fall_h) // 2, (width - fall_w) // 2
    return torch.stack([top, left, crop_h, crop_w], dim=1)


def cubic_resize_matrix(start: torch.Tensor, length: torch.Tensor, size: int,
                        out: int) -> torch.Tensor:
    """Matrices that resize the segment ``[start, start + length)`` of an axis of ``size``
    pixels to ``out`` pixels as OpenCV's ``INTER_CUBIC`` does.

    Output pixel j samples the crop at ``(j + 0.5) * length / out - 0.5`` with Keys' cubic
    kernel on its 4 neighbours; neighbours outside the crop repeat its edge pixel.

    Args:
        start, length: long tensors (B,): the segment of every image (the matrices are made on
            their device).
        size: the axis' length in the image.
        out: the output length.

    Returns:
        Float64 tensor (B, out, size) (each row sums to 1).
    """
    num, device = start.shape[0], start.device
    scale = length.double() / out
    src = (torch.arange(out, dtype=torch.float64, device=device)[None] + 0.5) * scale[:, None] - 0.5
    src = src.float().double()  # OpenCV computes the position in float
    base = torch.floor(src)
    t = src - base
    a = CUBIC_A
    weights = torch.stack([
        ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a,
        ((a + 2) * t - (a + 3)) * t * t + 1,
        ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1,
    ], dim=-1)
    weights = torch.cat([weights, 1 - weights.sum(dim=-1, keepdim=True)], dim=-1)  # (B,out,4)
    taps = base.long()[..., None] + torch.arange(-1, 3, device=device)  # (B, out, 4): in the crop
    taps = torch.minimum(taps.clamp(min=0), (length - 1)[:, None, None]) + start[:, None, None]
    matrix = torch.zeros(num, out, size, dtype=torch.float64, device=device)
    return matrix.scatter_add_(2, taps, weights)


def random_resized_crop(images: torch.Tensor, size: Tuple[int, int], area: Tuple[float, float],
                        ratio: Tuple[float, float], attempts: int) -> torch.Tensor:
    """MMPretrain's ``RandomResizedCrop`` (cv2, bicubic) of every image of a batch.

    Args:
        images: (B, C, H, W), values 0-255 (any dtype).
        size: output (height, width).
        area, ratio, attempts: as :func:`crop_boxes`.

    Returns:
        Float tensor (B, C, size[0], size[1]) of integers in 0-255 (the uint8 image MMCV gives).
    """
    num, _, height, width = images.shape
    # drawn on the CPU (torch's global generator), the resize matrices made on the device
    boxes = crop_boxes(num, height, width, area, ratio, attempts).to(images.device)
    rows = cubic_resize_matrix(boxes[:, 0], boxes[:, 2], height, size[0])
    cols = cubic_resize_matrix(boxes[:, 1], boxes[:, 3], width, size[1])
    # float64: exact for 0-255 values; autocast and TF32 leave float64 products alone
    out = rows[:, None] @ images.double() @ cols[:, None].transpose(-1, -2)
    return out.round_().clamp_(0, 255).float()


def random_flip(images: torch.Tensor, prob: float, direction: str) -> torch.Tensor:
    """MMCV's ``RandomFlip`` (one direction) of every image of a batch (B, C, H, W)."""
    flip = (torch.rand(images.shape[0]) < prob).to(images.device)
    return torch.where(flip[:, None, None, None], images.flip(FLIP_DIMS[direction]), images)


def apply_batch_augments(images: torch.Tensor, plan: Sequence[Dict]) -> torch.Tensor:
    """Run a :func:`batch_augment_plan` on a batch (B, C, H, W); a float batch comes back.

    An optimizer wrapper's autocast also covers the data preprocessor: the resize runs in
    float64, which autocast leaves alone, so the pixels are exact under it too.
    """
    images = images.float()
    for step in plan:
        kwargs = {k: v for k, v in step.items() if k != 'type'}
        images = (random_resized_crop if step['type'] == 'RandomResizedCrop'
                  else random_flip)(images, **kwargs)
    return images


__all__: List[str] = ['BatchAugmentError', 'batch_augment_plan', 'crop_boxes',
                      'cubic_resize_matrix', 'random_resized_crop', 'random_flip',
                      'apply_batch_augments']
