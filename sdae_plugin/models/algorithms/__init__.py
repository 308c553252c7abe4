from .sdae import SdAE

__all__ = ['SdAE']
