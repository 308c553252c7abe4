"""A self-supervised data preprocessor that also runs a batch's deferred augmentations."""
from typing import Dict

from mmpretrain.models.utils import SelfSupDataPreprocessor
from mmpretrain.registry import MODELS

from .batch_augments import apply_batch_augments


@MODELS.register_module()
class BatchAugmentDataPreprocessor(SelfSupDataPreprocessor):
    """MMPretrain's ``SelfSupDataPreprocessor`` (same arguments) for the batches of a
    :class:`~sdae_plugin.datasets.BatchedImagesMixin` dataset: it moves the uint8 batch
    (B, C, H, W) to the model's device, runs the dataset pipeline's augmentations on it there
    (:func:`~.batch_augments.apply_batch_augments`), then normalizes as its parent does.

    Batches without ``'augments'`` (per-image datasets, e.g. the kNN monitor's) are handled
    exactly as by ``SelfSupDataPreprocessor``.
    """

    def forward(self, data: Dict, training: bool = False) -> Dict:
        plan = data.get('augments')
        if plan is None:
            return super().forward(data, training)
        # the pipeline's augmentations run whatever `training` is, as they would in the dataset
        images = apply_batch_augments(self.cast_data(data['inputs']), plan)
        return super().forward(dict(inputs=images, data_samples=data['data_samples']), training)
