"""Helpers for the picture, log and export tools (``tools/visualize_*.py``, ``tools/plot_log.py``).

Not imported by ``import sdae_plugin`` (nothing here is registered, and matplotlib is only needed
by the drawing helpers, which import it when called). Import what you need explicitly::

    from sdae_plugin.visualization import last_layer_attention, patch_labels, read_scalars
"""
from .attention import attention_weights, cls_attention_maps, last_layer_attention
from .images import dataset_image, load_image, preprocess, read_image_file
from .logs import find_scalar_logs, read_scalars, series
from .masks import NO_TARGET, VISIBLE, build_mask_generator, draw_plan, patch_labels
from .progress import progress
from .tensorboard import enable_tensorboard, tensorboard_available

__all__ = [
    'attention_weights', 'cls_attention_maps', 'last_layer_attention', 'dataset_image',
    'load_image', 'preprocess', 'read_image_file', 'find_scalar_logs', 'read_scalars', 'series',
    'NO_TARGET', 'VISIBLE', 'build_mask_generator', 'draw_plan', 'patch_labels', 'progress',
    'enable_tensorboard', 'tensorboard_available'
]
