from .sdae_neck import SdAENeck

__all__ = ['SdAENeck']
