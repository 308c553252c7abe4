from .flops import ViTShape, train_step_flops

__all__ = ['ViTShape', 'train_step_flops']
