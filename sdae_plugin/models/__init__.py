'''SdAE model components, registered in ``mmpretrain.registry.MODELS``.'''
from .algorithms import SdAE
from .backbones import SdAEViT
from .heads import SdAEHead
from .necks import SdAENeck
from .utils import BatchAugmentDataPreprocessor, MaskPlan, MultiFoldMaskGenerator

__all__ = ['SdAE', 'SdAEViT', 'SdAEHead', 'SdAENeck', 'BatchAugmentDataPreprocessor', 'MaskPlan',
           'MultiFoldMaskGenerator']
