"""The mask-plan picture (the paper's Fig. 3d): ``tools/visualize_masks.py``.

Panels, left to right: the input at the model's size, with the patch grid; what the student
encodes (the visible patches, masked ones grey); each teacher view in its own colour (the patches
fed to the teacher as one sequence, framed where they are loss targets); all views together
(each masked patch tinted with the colour of the fold that gives its target).
"""
from pathlib import Path
from typing import Optional

import numpy as np

from . import drawing
from .images import dataset_image, load_image
from .masks import NO_TARGET, VISIBLE, build_sdae_skeleton, draw_plan, patch_labels

PANEL_W, PANEL_H, HEADER = 2.0, 2.3, 0.35  # inches per panel, and the title band


def figure_size(num_views: int) -> tuple:
    """Inches: image, student, one panel per view, all views."""
    return (2 + num_views + 1) * PANEL_W, PANEL_H + HEADER


def patch_frame(array: np.ndarray, row: int, col: int, step: int, width: int,
                rgb: np.ndarray) -> None:
    """Paint a ``width``-pixel frame of colour ``rgb`` inside patch (row, col) of ``array``."""
    top, left = row * step, col * step
    block = array[top:top + step, left:left + step]
    block[:width], block[-width:] = rgb, rgb
    block[:, :width], block[:, -width:] = rgb, rgb


def render_plan(image: np.ndarray, plan, grid: int, out: str, dpi: int = 100,
                title: str = '') -> Path:
    """Draw sample 0 of ``plan`` over ``image`` (uint8 ``(H, W, C)`` at the model's size)."""
    size = image.shape[0]
    patch = size // grid
    factor = drawing.display_factor(size)
    step = patch * factor
    frame = max(2, step // 10)
    base = drawing.upsample(drawing.display_rgb(image), factor)
    labels = patch_labels(plan).numpy()
    views = plan.view_ids[0].numpy()
    num_views = views.shape[0]
    targets = plan.num_targets

    def cells(ids):
        return [(int(i) // grid, int(i) % grid) for i in ids]

    def fill(array, ids, value):
        for r, c in cells(ids):
            array[r * step:(r + 1) * step, c * step:(c + 1) * step] = value

    panels = [('image', base.copy(), 'black')]
    student = np.full_like(base, 0.55)
    for r, c in cells(np.flatnonzero(labels == VISIBLE)):
        student[r * step:(r + 1) * step, c * step:(c + 1) * step] = \
            base[r * step:(r + 1) * step, c * step:(c + 1) * step]
    panels.append((f'student: {plan.ids_keep.shape[1]} visible', student, 'black'))

    for v in range(num_views):
        rgb = drawing.colour(v)
        panel = np.full_like(base, 0.92)
        for r, c in cells(views[v]):
            sl = (slice(r * step, (r + 1) * step), slice(c * step, (c + 1) * step))
            panel[sl] = 0.7 * base[sl] + 0.3 * rgb
        for r, c in cells(views[v][:targets]):
            patch_frame(panel, r, c, step, frame, rgb)
        name = 'fold' if plan.view_ids.shape[1] > 1 else 'view'
        extra = f', {targets} targets' if targets != views.shape[1] else ''
        panels.append((f'teacher {name} {v + 1}: {views.shape[1]} patches{extra}', panel,
                       tuple(rgb)))

    combined = base.copy()
    fill(combined, np.flatnonzero(labels == NO_TARGET), 0.55)
    for v in range(num_views):
        rgb = drawing.colour(v)
        for r, c in cells(np.flatnonzero(labels == v)):
            sl = (slice(r * step, (r + 1) * step), slice(c * step, (c + 1) * step))
            combined[sl] = 0.4 * base[sl] + 0.6 * rgb
    panels.append(('targets by fold (colour)', combined, 'black'))

    width_in, height_in = figure_size(num_views)
    fig = drawing.new_figure(width_in, height_in, dpi)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=1 - HEADER / height_in - 0.05,
                        wspace=0.06)
    for ax, (name, array, title_colour) in zip(axes, panels):
        ax.imshow(np.clip(array, 0, 1), interpolation='nearest')
        for k in range(1, grid):  # patch grid
            ax.axhline(k * step - 0.5, color='white', lw=0.4, alpha=0.6)
            ax.axvline(k * step - 0.5, color='white', lw=0.4, alpha=0.6)
        ax.set_title(name, fontsize=8.5, color=title_colour)
        drawing.clean_axes(ax)
    if title:
        fig.suptitle(title, fontsize=10, y=1 - 0.12 / height_in, va='top')
    return drawing.save(fig, out)


def visualize_masks(cfg, image: Optional[str] = None, index: Optional[int] = None,
                    seed: int = 0, out: str = 'masks.png', dpi: int = 100) -> Path:
    """Draw one mask plan of an SdAE config's own generator on an image.

    Args:
        cfg (Config): an SdAE pretraining config (``--cfg-options`` applied).
        image (str, optional): an image file.
        index (int, optional): or an index of the config's training dataset.
        seed (int): seed of the mask draw. Defaults to 0.
        out (str): the PNG to write.
        dpi (int): pixels per inch.

    Returns:
        Path: the written PNG.
    """
    if (image is None) == (index is None):
        raise ValueError('give an image file or a dataset index (one of the two)')
    model = build_sdae_skeleton(cfg)
    generator, backbone = model.mask_generator, model.backbone
    grid = backbone.patch_resolution[0]
    size = grid * backbone.patch_embed.projection.kernel_size[0]
    in_channels = backbone.patch_embed.projection.in_channels
    if image is not None:
        picture = load_image(image, size, in_channels)
    else:
        picture = dataset_image(cfg.train_dataloader.dataset, index, size, in_channels)
    plan = draw_plan(generator, seed)
    name = Path(cfg.filename).stem if cfg.filename else 'config'
    title = (f'{name}: {generator.mode}, {generator.num_patches} patches, '
             f'{generator.num_visible} visible, {generator.num_views} x {generator.view_len} '
             f'to the teacher (seed {seed})')
    return render_plan(picture, plan, grid, out, dpi=dpi, title=title)
