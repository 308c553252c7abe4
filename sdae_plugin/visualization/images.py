"""Input images for the picture tools: from a file or from a config's dataset, at the model's size.

Images are ``uint8`` arrays ``(H, W, C)``: ``C = 1`` for grey models, otherwise 3 channels in
mmcv's BGR order (what ``LoadImageFromFile`` gives the training pipeline). They are resized so
that the short side is the model's input size and centre-cropped to a square, then normalized by
the config's own data preprocessor (mean, std, ``to_rgb``) for the model.
"""
import copy
from typing import Optional, Sequence

import numpy as np
import torch


def _fit(image: np.ndarray, size: int) -> np.ndarray:
    """Short side to ``size`` (bicubic), then the centre ``size x size`` crop."""
    import mmcv
    height, width = image.shape[:2]
    scale = size / min(height, width)
    new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
    if (new_w, new_h) != (width, height):
        resized = mmcv.imresize(image, (new_w, new_h), interpolation='bicubic')
        image = resized.reshape(new_h, new_w, *image.shape[2:])  # cv2 drops a 1-channel axis
    top, left = (new_h - size) // 2, (new_w - size) // 2
    return image[top:top + size, left:left + size]


def _channels(image: np.ndarray, in_channels: int) -> np.ndarray:
    """``(H, W, in_channels)``: grey images are repeated for colour models and vice versa."""
    import mmcv
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[2] == in_channels:
        return image
    if in_channels == 1:
        return mmcv.bgr2gray(image[..., :3], keepdim=True)
    if in_channels == 3 and image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    raise ValueError(f'cannot turn a {image.shape[2]}-channel image into {in_channels} channels')


def read_image_file(path: str, in_channels: int) -> np.ndarray:
    """An image file (anything mmcv reads) as ``(H, W, in_channels)`` uint8, BGR for colour."""
    import mmcv
    image = mmcv.imread(str(path), flag='grayscale' if in_channels == 1 else 'color')
    if image is None:
        raise FileNotFoundError(f'cannot read an image from {path}')
    return _channels(image, in_channels)


def load_image(path: str, size: int, in_channels: int) -> np.ndarray:
    """:func:`read_image_file`, resized and centre-cropped to ``size x size``."""
    return _fit(read_image_file(path, in_channels), size)


def dataset_image(dataset_cfg: dict, index: int, size: int, in_channels: int) -> np.ndarray:
    """Image ``index`` of a config's dataset (its pipeline is not run: no random crop or flip).

    Works for datasets whose annotations hold the pixels (``img``, e.g. MNIST/FashionMNIST) or a
    file path (``img_path``, e.g. ImageNet); the result is resized like :func:`load_image`.
    """
    from mmpretrain.registry import DATASETS
    cfg = copy.deepcopy(dict(dataset_cfg))
    cfg['pipeline'] = []
    cfg.pop('indices', None)  # a subset of the training set would renumber the images
    dataset = DATASETS.build(cfg)
    if not 0 <= index < len(dataset):
        raise IndexError(f'index {index} is outside the dataset ({len(dataset)} images)')
    info = dataset.get_data_info(index)
    if info.get('img') is not None:
        image = np.asarray(info['img'])
        if image.dtype != np.uint8:
            image = np.clip(image, 0, 255).astype(np.uint8)
        image = _channels(image, in_channels)
    elif info.get('img_path') is not None:
        image = read_image_file(info['img_path'], in_channels)
    else:
        raise ValueError(f'dataset entry {index} has neither "img" nor "img_path": {sorted(info)}')
    return _fit(image, size)


def preprocess(images: Sequence[np.ndarray], data_preprocessor: Optional[dict]) -> torch.Tensor:
    """Stack uint8 ``(H, W, C)`` images and normalize them with the config's data preprocessor.

    Args:
        images (list[ndarray]): images of one size.
        data_preprocessor (dict, optional): ``model.data_preprocessor`` (or the config's top-level
            ``data_preprocessor``); ``SelfSupDataPreprocessor`` when None, as in SdAE.

    Returns:
        Tensor: ``(B, C, H, W)`` float, as the model sees it.
    """
    from mmpretrain.registry import MODELS
    cfg = dict(data_preprocessor or {})
    cfg.setdefault('type', 'SelfSupDataPreprocessor')
    module = MODELS.build(cfg)
    batch = torch.from_numpy(np.stack([np.ascontiguousarray(im.transpose(2, 0, 1))
                                       for im in images]))
    return module(dict(inputs=batch, data_samples=None), False)['inputs']
