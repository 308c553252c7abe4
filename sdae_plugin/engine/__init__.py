from .optimizers import SdAEOptimWrapperConstructor
from .layer_decay import ViTLayerDecayOptimWrapperConstructor

__all__ = ['SdAEOptimWrapperConstructor', 'ViTLayerDecayOptimWrapperConstructor']
