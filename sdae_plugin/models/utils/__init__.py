from .masking import MaskPlan, MultiFoldMaskGenerator

__all__ = ['MaskPlan', 'MultiFoldMaskGenerator']
