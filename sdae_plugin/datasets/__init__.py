"""Datasets that fetch a batch at a time (their augmentations run on the device, in
:class:`~sdae_plugin.models.BatchAugmentDataPreprocessor`); registered in
``mmpretrain.registry.DATASETS`` and MMEngine's ``FUNCTIONS``."""
from .batched_images import (BATCHED_FASHION_MNIST_OPTIONS, BatchedFashionMNIST,
                             BatchedImagesMixin, collate_image_batch)

__all__ = ['BATCHED_FASHION_MNIST_OPTIONS', 'BatchedFashionMNIST', 'BatchedImagesMixin',
           'collate_image_batch']
