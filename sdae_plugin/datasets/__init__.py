"""Datasets: images fetched a batch at a time (their augmentations run on the device, in
:class:`~sdae_plugin.models.BatchAugmentDataPreprocessor`; registered in
``mmpretrain.registry.DATASETS`` and MMEngine's ``FUNCTIONS``), and the downstream canvases made
from Fashion-MNIST items (:mod:`.canvases`: COCO instances and semantic label maps)."""
from .batched_images import (BATCHED_FASHION_MNIST_OPTIONS, BatchedFashionMNIST,
                             BatchedImagesMixin, collate_image_batch)
from .canvases import (FASHION_CLASSES, SEG_CLASSES, Canvas, CanvasError, CanvasOptions,
                       make_canvases, write_instance_set, write_semantic_set)

__all__ = ['BATCHED_FASHION_MNIST_OPTIONS', 'BatchedFashionMNIST', 'BatchedImagesMixin',
           'collate_image_batch', 'FASHION_CLASSES', 'SEG_CLASSES', 'Canvas', 'CanvasError',
           'CanvasOptions', 'make_canvases', 'write_instance_set', 'write_semantic_set']
