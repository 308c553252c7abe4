"""Datasets that fetch a batch at a time, and MMPretrain's augmentations run on a whole batch;
registered in ``mmpretrain.registry.DATASETS`` and MMEngine's ``FUNCTIONS``."""
from .batch_transforms import BatchAugmentError, apply_batch_augments, batch_augment_plan
from .batched_images import (BATCHED_FASHION_MNIST_OPTIONS, BatchedFashionMNIST,
                             BatchedImagesMixin, collate_image_batch)

__all__ = ['BatchAugmentError', 'apply_batch_augments', 'batch_augment_plan',
           'BATCHED_FASHION_MNIST_OPTIONS', 'BatchedFashionMNIST', 'BatchedImagesMixin',
           'collate_image_batch']
