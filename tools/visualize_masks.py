"""Draw one SdAE mask plan: the image, the student's visible patches, each teacher fold (Fig. 3d).

The plan is drawn by the config's own ``MultiFoldMaskGenerator`` (``model.mask_generator``, with
``num_patches`` from the config's backbone), seeded by ``--seed``; every mode works
(``multi_fold``, ``only_masked``, ``full_image``, ``teacher_crop``). Panels, left to right:

* the input at the model's size, with the patch grid;
* what the student encodes: the visible patches (masked ones grey);
* each teacher view in its own colour: the patches fed to the teacher as one sequence, framed
  where they are loss targets;
* all views together: each masked patch tinted with the colour of the fold that gives its target.

Examples:
    python tools/visualize_masks.py configs/sdae_vit-tiny_fashion-mnist_demo.py --index 0 \
        --out docs/masks.png
    python tools/visualize_masks.py configs/sdae_vit-b_300e.py --image photo.jpg --seed 3 \
        --out masks.png
    python tools/visualize_masks.py CONFIG --image photo.jpg --out fold4.png \
        --cfg-options model.mask_generator.num_folds=4 model.mask_generator.drop_remainder=True
"""
import argparse
import copy
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, too

from mmengine.config import Config, DictAction  # noqa: E402

from sdae_plugin.visualization import (  # noqa: E402
    NO_TARGET, VISIBLE, build_mask_generator, dataset_image, draw_plan, load_image, patch_labels)
from sdae_plugin.visualization import drawing  # noqa: E402

PANEL_W, PANEL_H, HEADER = 2.0, 2.3, 0.35  # inches per panel, and the title band


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='an SdAE pretraining config')
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--image', help='an image file')
    source.add_argument('--index', type=int,
                        help='image INDEX of the config\'s train_dataloader.dataset')
    parser.add_argument('--seed', type=int, default=0, help='seed of the mask draw (default 0)')
    parser.add_argument('--out', default='masks.png', help='PNG to write (default masks.png)')
    parser.add_argument('--dpi', type=int, default=100, help='pixels per inch (default 100)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='config overrides, key=value')
    return parser.parse_args(argv)


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


def render(image: np.ndarray, plan, grid: int, out: str, dpi: int = 100,
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


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)  # runs custom_imports (sdae_plugin)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    backbone_cfg = copy.deepcopy(cfg.model.backbone)
    backbone_cfg.pop('init_cfg', None)
    backbone = MODELS.build(backbone_cfg)
    generator = build_mask_generator(cfg.model, backbone.num_patches)
    size = backbone.patch_resolution[0] * backbone.patch_embed.projection.kernel_size[0]
    in_channels = backbone.patch_embed.projection.in_channels
    if args.image:
        image = load_image(args.image, size, in_channels)
    else:
        image = dataset_image(cfg.train_dataloader.dataset, args.index, size, in_channels)
    plan = draw_plan(generator, args.seed)
    grid = backbone.patch_resolution[0]
    title = (f'{Path(args.config).stem}: {generator.mode}, {generator.num_patches} patches, '
             f'{generator.num_visible} visible, {generator.num_views} x {generator.view_len} '
             f'to the teacher (seed {args.seed})')
    out = render(image, plan, grid, args.out, dpi=args.dpi, title=title)
    print(f'wrote {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
