from .optimizers import SdAEOptimWrapperConstructor

__all__ = ['SdAEOptimWrapperConstructor']
