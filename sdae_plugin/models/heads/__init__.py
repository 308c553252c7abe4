from .sdae_head import SdAEHead, normalize_target

__all__ = ['SdAEHead', 'normalize_target']
