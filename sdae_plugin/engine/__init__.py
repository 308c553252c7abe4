"""Optimizer wrapper constructors, registered in MMPretrain's ``OPTIM_WRAPPER_CONSTRUCTORS``:
SdAE's (the frozen teacher left out) and the ViT layer-wise lr decay of the transfer configs."""
from .layer_decay import ViTLayerDecayOptimWrapperConstructor
from .optimizers import SdAEOptimWrapperConstructor

__all__ = ['SdAEOptimWrapperConstructor', 'ViTLayerDecayOptimWrapperConstructor']
