from .batch_augment_preprocessor import BatchAugmentDataPreprocessor
from .masking import MaskPlan, MultiFoldMaskGenerator

__all__ = ['BatchAugmentDataPreprocessor', 'MaskPlan', 'MultiFoldMaskGenerator']
