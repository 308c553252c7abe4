from .cpu_amp import CPUAutocastOptimWrapper
from .layer_decay import ViTLayerDecayOptimWrapperConstructor
from .optimizers import SdAEOptimWrapperConstructor

__all__ = [
    'CPUAutocastOptimWrapper', 'SdAEOptimWrapperConstructor', 'ViTLayerDecayOptimWrapperConstructor'
]
