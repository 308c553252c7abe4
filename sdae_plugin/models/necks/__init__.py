from .sdae_neck import SdAENeck
from .vit_pyramid import ViTPyramidAdapter

__all__ = ['SdAENeck', 'ViTPyramidAdapter']
