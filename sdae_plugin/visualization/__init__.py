"""The picture and log tools (``tools/visualize_*.py``, ``tools/plot_log.py``) and their helpers.

Not imported by ``import sdae_plugin`` (nothing here is registered, and matplotlib is only needed
by the drawing helpers, which import it when called). Import what you need explicitly::

    from sdae_plugin.visualization import last_layer_attention, patch_labels, read_scalars

One function per tool: :func:`visualize_attention`, :func:`visualize_masks`, :func:`plot_logs`.
"""
from .attention import attention_weights, cls_attention_maps, last_layer_attention
from .attention_figure import load_attention_backbone, visualize_attention
from .images import dataset_image, load_image, preprocess, read_image_file
from .log_figure import plot_logs
from .logs import find_scalar_logs, read_scalars, series
from .mask_figure import visualize_masks
from .masks import NO_TARGET, VISIBLE, build_sdae_skeleton, draw_plan, patch_labels
from .progress import progress

__all__ = [
    'attention_weights', 'cls_attention_maps', 'last_layer_attention', 'load_attention_backbone',
    'visualize_attention', 'dataset_image', 'load_image', 'preprocess', 'read_image_file',
    'plot_logs', 'find_scalar_logs', 'read_scalars', 'series', 'visualize_masks', 'NO_TARGET',
    'VISIBLE', 'build_sdae_skeleton', 'draw_plan', 'patch_labels', 'progress'
]
