from .sdae_vit import SdAEViT, gather_tokens

__all__ = ['SdAEViT', 'gather_tokens']
