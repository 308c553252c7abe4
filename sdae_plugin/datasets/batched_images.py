"""In-memory images fetched a batch at a time, their augmentations run on the model's device.

A map-style dataset with ``__getitems__`` gets a whole batch of indices from torch's
``DataLoader`` at once (torch >= 2.0). :class:`BatchedImagesMixin` answers with one indexing of a
uint8 tensor holding every image, and hands its pipeline's augmentations, as a
:func:`~sdae_plugin.models.utils.batch_augments.batch_augment_plan`, to
:class:`~sdae_plugin.models.utils.BatchAugmentDataPreprocessor`, which runs them on the batch.
The dataloader's cost is then one tensor indexing per batch instead of the per-image pipeline's
(``tools/benchmark_loading.py`` measures both on the same config).

Config (pretraining; labels are not fetched)::

    train_dataloader = dict(
        dataset=dict(type='BatchedFashionMNIST', ...),  # the same arguments as FashionMNIST
        collate_fn=dict(type='collate_image_batch'))
    data_preprocessor = dict(type='BatchAugmentDataPreprocessor', mean=..., std=...)

Datasets whose data infos hold images as arrays (MMPretrain's MNIST, FashionMNIST, CIFAR10/100)
can be made batched in two lines, as :class:`BatchedFashionMNIST` is.
"""
from typing import Dict, List, Sequence

import numpy as np
import torch
from mmengine.registry import FUNCTIONS
from mmpretrain.datasets import FashionMNIST
from mmpretrain.registry import DATASETS

from ..models.utils.batch_augments import BatchAugmentError, batch_augment_plan


class BatchedImagesMixin:
    """Put before an MMEngine ``BaseDataset`` whose data infos hold images as arrays (``'img'``,
    (H, W) or (H, W, C), one size for all).

    ``__getitems__(indices)`` returns a whole batch: ``{'inputs': uint8 (B, C, H, W),
    'data_samples': None, 'augments': plan}``, the pipeline's augmentations not applied
    (``plan``: see :func:`~sdae_plugin.models.utils.batch_augments.batch_augment_plan`); collate
    it with ``collate_image_batch``. ``dataset[i]`` still runs the pipeline on one image (for browsing).

    Raises:
        BatchAugmentError: at build time, when the pipeline has a transform without a batched
            equivalent, or the images are not arrays of one size.
    """

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        super().full_init()
        self.augment_plan = batch_augment_plan(self.pipeline.transforms)
        images = [self.get_data_info(i).get('img') for i in range(len(self))]
        if not all(isinstance(img, np.ndarray) for img in images):
            raise BatchAugmentError(
                f'{type(self).__name__} needs images held in memory as arrays (data info '
                "'img'); this dataset's data infos have none: use its per-image class")
        shapes = sorted({img.shape for img in images})
        if len(shapes) != 1 or len(shapes[0]) not in (2, 3):
            raise BatchAugmentError(f'{type(self).__name__} stacks images of one size, (H, W) '
                                    f'or (H, W, C); got shapes {shapes[:4]}')
        stacked = torch.from_numpy(np.stack(images))
        # (N, C, H, W), as PackInputs lays out an image
        self.images = (stacked[:, None] if stacked.dim() == 3 else
                       stacked.permute(0, 3, 1, 2)).contiguous()

    def __getitems__(self, indices: Sequence[int]) -> Dict:
        if not self._fully_initialized:
            self.full_init()
        return dict(inputs=self.images[torch.as_tensor(indices, dtype=torch.long)],
                    data_samples=None, augments=self.augment_plan)


# --cfg-options that switch a FashionMNIST pretraining config (configs/_base_/
# fashion_mnist_pretrain.py) to batched loading: its pipeline's augmentations then run on the device
BATCHED_FASHION_MNIST_OPTIONS = {
    'train_dataloader.dataset.type': 'BatchedFashionMNIST',
    'train_dataloader.collate_fn.type': 'collate_image_batch',
    'data_preprocessor.type': 'BatchAugmentDataPreprocessor'}


@DATASETS.register_module()
class BatchedFashionMNIST(BatchedImagesMixin, FashionMNIST):
    """MMPretrain's ``FashionMNIST`` (same arguments), a batch at a time (see
    :class:`BatchedImagesMixin`)."""


@FUNCTIONS.register_module()
def collate_image_batch(batch: Dict) -> Dict:
    """The collate function of :class:`BatchedImagesMixin` datasets: their ``__getitems__``
    already returns the batch.

    Raises:
        TypeError: for per-image samples (a dataset without ``__getitems__``): use
            ``default_collate`` for those.
    """
    if not (isinstance(batch, dict) and 'augments' in batch):
        raise TypeError('collate_image_batch collates the batches of a Batched* dataset '
                        '(BatchedImagesMixin); this dataset returns single images: use '
                        "collate_fn=dict(type='default_collate')")
    return batch


__all__: List[str] = ['BatchedImagesMixin', 'BatchedFashionMNIST', 'collate_image_batch',
                      'BATCHED_FASHION_MNIST_OPTIONS']
