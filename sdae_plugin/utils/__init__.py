from .flops import ViTShape, train_step_flops
from .quiet_console import quiet_console

__all__ = ['ViTShape', 'train_step_flops', 'quiet_console']
