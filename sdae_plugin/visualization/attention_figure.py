"""The attention picture (the paper's Fig. 7): ``tools/visualize_attention.py``.

One row per image: the input; all heads together (for every head, the smallest set of patches
that holds ``mass`` of its cls-to-patch attention, painted in the head's colour, as the paper
follows iBOT); the mean over heads of the cls token's attention to every patch; each head's map
(colour scale per panel; the title gives its largest weight).
"""
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from torch import nn

from . import drawing
from .attention import cls_attention_maps, last_layer_attention
from .images import dataset_image, load_image, preprocess
from .progress import progress

PANEL_W, PANEL_H, HEADER = 1.8, 2.05, 0.45  # inches per panel, and the title band


def figure_size(num_images: int, num_heads: int) -> tuple:
    """Inches: per row the image, all heads, the mean and one panel per head."""
    return (3 + num_heads) * PANEL_W, num_images * PANEL_H + HEADER


def top_mass(weights: np.ndarray, mass: float) -> np.ndarray:
    """Boolean mask of the fewest entries of ``weights`` whose sum reaches ``mass`` of the total."""
    flat = weights.ravel()
    order = np.argsort(flat)[::-1]
    cumulative = np.cumsum(flat[order]) / flat.sum()
    keep = np.zeros(flat.shape, dtype=bool)
    keep[order[:int(np.searchsorted(cumulative, mass)) + 1]] = True
    return keep.reshape(weights.shape)


def render_attention(images, maps: np.ndarray, out: str, dpi: int = 100, mass: float = 0.6,
                     title: str = '', row_names=None) -> Path:
    """Draw ``maps`` (``(B, heads, rows, cols)``) next to ``images`` (uint8 ``(H, W, C)``)."""
    num_images, num_heads, grid, _ = maps.shape
    size = images[0].shape[0]
    factor = drawing.display_factor(size)
    step = size * factor // grid
    width_in, height_in = figure_size(num_images, num_heads)
    fig = drawing.new_figure(width_in, height_in, dpi)
    axes = fig.subplots(num_images, 3 + num_heads, squeeze=False)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01,
                        top=1 - HEADER / height_in - 0.1 / num_images, wspace=0.05, hspace=0.25)
    for row in range(num_images):
        rgb = drawing.upsample(drawing.display_rgb(images[row]), factor)
        head_maps = maps[row]
        mean = head_maps.mean(axis=0)
        composite = 0.35 * rgb.mean(axis=2, keepdims=True).repeat(3, axis=2) + 0.3
        for head in range(num_heads):
            keep = drawing.upsample(top_mass(head_maps[head], mass), step)
            composite[keep] = 0.5 * composite[keep] + 0.5 * drawing.colour(head)
        name = row_names[row] if row_names else f'image {row}'
        panels = [(name, rgb, None, 'black'),
                  (f'heads (top {mass:.0%} each)', composite, None, 'black'),
                  ('mean of heads', drawing.upsample(mean, step), 'inferno', 'black')]
        panels += [(f'head {h + 1} (max {head_maps[h].max():.2f})',
                    drawing.upsample(head_maps[h], step), 'inferno', tuple(drawing.colour(h)))
                   for h in range(num_heads)]
        for ax, (name, array, cmap, title_colour) in zip(axes[row], panels):
            ax.imshow(np.clip(array, 0, 1) if cmap is None else array, cmap=cmap,
                      interpolation='nearest')
            ax.set_title(name, fontsize=8, color=title_colour)
            drawing.clean_axes(ax)
    if title:
        fig.suptitle(title, fontsize=10, y=1 - 0.1 / height_in, va='top')
    return drawing.save(fig, out)


def load_attention_backbone(cfg, checkpoint: str, teacher: bool = False,
                            unsafe: bool = False) -> nn.Module:
    """The config's backbone (eval mode, no drop path) with the checkpoint's encoder, strictly.

    The head count is the config's; a checkpoint that states another one is an error
    (:mod:`~sdae_plugin.checkpoints.num_heads`).
    """
    from ..checkpoints import build_config_backbone, check_backbone_state, read_encoder
    encoder = read_encoder(checkpoint, teacher=teacher, config=cfg, unsafe=unsafe,
                           require_heads=False)
    backbone = build_config_backbone(cfg, drop_path_rate=0., drop_rate=0.)
    check_backbone_state(backbone, encoder.state, strict=True, context=f'({checkpoint})')
    backbone.eval()  # (MMPretrain backbones' train() returns None)
    return backbone


def visualize_attention(cfg, checkpoint: str, images: Optional[Sequence[str]] = None,
                        indices: Optional[Sequence[int]] = None, out: str = 'attention.png',
                        teacher: bool = False, mass: float = 0.6, dpi: int = 100,
                        unsafe: bool = False) -> Path:
    """Draw the last-layer cls-token attention of a checkpoint's encoder on some images.

    Args:
        cfg (Config): the pretraining config (backbone, data preprocessor, dataset).
        checkpoint (str): any file :func:`~sdae_plugin.checkpoints.read_encoder` reads.
        images (list[str], optional): image files, one row each.
        indices (list[int], optional): or indices of the config's training dataset.
        out (str): the PNG to write.
        teacher (bool): the EMA teacher instead of the student.
        mass (float): the attention mass each head's colour covers, in (0, 1].
        dpi (int): pixels per inch.
        unsafe (bool): ``torch.load(weights_only=False)``.

    Returns:
        Path: the written PNG.
    """
    if not 0 < mass <= 1:
        raise ValueError(f'--mass must be in (0, 1], got {mass}')
    if (images is None) == (indices is None):
        raise ValueError('give image files or dataset indices (one of the two)')
    backbone = load_attention_backbone(cfg, checkpoint, teacher, unsafe)
    grid = backbone.patch_resolution
    size = grid[0] * backbone.patch_embed.projection.kernel_size[0]
    in_channels = backbone.patch_embed.projection.in_channels
    pictures, names = [], []
    for source in progress(images or indices, 'images'):
        if images:
            pictures.append(load_image(source, size, in_channels))
            names.append(Path(source).name)
        else:
            pictures.append(dataset_image(cfg.train_dataloader.dataset, source, size,
                                          in_channels))
            names.append(f'index {source}')
    inputs = preprocess(pictures, cfg.model.get('data_preprocessor')
                        or cfg.get('data_preprocessor'))
    with torch.no_grad():
        maps = torch.cat([cls_attention_maps(last_layer_attention(backbone, x[None]), grid)
                          for x in progress(inputs, 'attention')])
    branch = 'teacher' if teacher else 'student'
    title = (f'{Path(checkpoint).name} ({branch}): last-layer cls-token attention, '
             f'{maps.shape[1]} heads')
    return render_attention(pictures, maps.numpy(), out, dpi=dpi, mass=mass, title=title,
                            row_names=names)
