"""Last-layer cls-token attention of a pretrained SdAE encoder, per head and averaged (Fig. 7).

The encoder (student by default, ``--teacher`` for the EMA teacher) is read from any checkpoint
that ``tools/extract_backbone.py`` reads (this plugin's pretraining checkpoints, the released
format, or an extracted backbone file) and loaded, strictly, into the config's backbone. The image
is resized (short side) and centre-cropped to the model's input size and normalized with the
config's data preprocessor. One row per image:

* the input;
* all heads together: for every head, the smallest set of patches that holds ``--mass`` of its
  cls-to-patch attention, painted in the head's colour (the paper follows iBOT here);
* the mean over heads of the cls token's attention to every patch;
* each head's map (colour scale per panel; the title gives its largest weight).

Examples:
    python tools/visualize_attention.py configs/sdae_vit-tiny_fashion-mnist_demo.py \
        work_dirs/demo/epoch_4.pth --index 0 1 2 --out docs/attention.png
    python tools/visualize_attention.py configs/sdae_vit-b_300e.py epoch_300.pth \
        --image a.jpg b.jpg --teacher --out attention.png
"""
import argparse
import copy
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, too

from mmengine.config import Config, DictAction  # noqa: E402

from sdae_plugin.engine.checkpoint_io import (  # noqa: E402
    check_backbone_state, extract_backbone, load_checkpoint_file)
from sdae_plugin.visualization import (  # noqa: E402
    cls_attention_maps, dataset_image, last_layer_attention, load_image, preprocess, progress)
from sdae_plugin.visualization import drawing  # noqa: E402

PANEL_W, PANEL_H, HEADER = 1.8, 2.05, 0.45  # inches per panel, and the title band


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='the pretraining config the checkpoint was trained with')
    parser.add_argument('checkpoint', help='pretraining checkpoint (or extracted backbone)')
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--image', nargs='+', help='image file(s), one row each')
    source.add_argument('--index', type=int, nargs='+',
                        help='image index(es) of the config\'s train_dataloader.dataset')
    parser.add_argument('--teacher', action='store_true', help='the EMA teacher, not the student')
    parser.add_argument('--mass', type=float, default=0.6,
                        help='attention mass each head\'s colour covers (default 0.6)')
    parser.add_argument('--out', default='attention.png', help='PNG to write')
    parser.add_argument('--dpi', type=int, default=100, help='pixels per inch (default 100)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='config overrides, key=value')
    parser.add_argument('--unsafe-load', action='store_true',
                        help='read the checkpoint with torch.load(weights_only=False)')
    return parser.parse_args(argv)


def figure_size(num_images: int, num_heads: int) -> tuple:
    """Inches: per row the image, all heads, the mean and one panel per head."""
    return (3 + num_heads) * PANEL_W, num_images * PANEL_H + HEADER


def load_encoder(cfg: Config, checkpoint: str, teacher: bool = False, unsafe: bool = False):
    """The config's backbone (eval mode) with the checkpoint's student or teacher weights."""
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    backbone_cfg = copy.deepcopy(cfg.model.backbone)
    backbone_cfg.pop('init_cfg', None)
    backbone_cfg.update(drop_path_rate=0., drop_rate=0.)
    backbone = MODELS.build(backbone_cfg)
    state = extract_backbone(load_checkpoint_file(checkpoint, unsafe=unsafe), teacher=teacher)
    check_backbone_state(backbone, state, strict=True, context=f'({checkpoint})')
    backbone.eval()  # (MMPretrain backbones' train() returns None)
    return backbone


def top_mass(weights: np.ndarray, mass: float) -> np.ndarray:
    """Boolean mask of the fewest entries of ``weights`` whose sum reaches ``mass`` of the total."""
    flat = weights.ravel()
    order = np.argsort(flat)[::-1]
    cumulative = np.cumsum(flat[order]) / flat.sum()
    keep = np.zeros(flat.shape, dtype=bool)
    keep[order[:int(np.searchsorted(cumulative, mass)) + 1]] = True
    return keep.reshape(weights.shape)


def render(images, maps: np.ndarray, out: str, dpi: int = 100, mass: float = 0.6,
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


def main(argv=None) -> int:
    args = parse_args(argv)
    if not 0 < args.mass <= 1:
        raise SystemExit(f'--mass must be in (0, 1], got {args.mass}')
    cfg = Config.fromfile(args.config)  # runs custom_imports (sdae_plugin)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    backbone = load_encoder(cfg, args.checkpoint, args.teacher, args.unsafe_load)
    grid = backbone.patch_resolution
    size = grid[0] * backbone.patch_embed.projection.kernel_size[0]
    in_channels = backbone.patch_embed.projection.in_channels
    sources = args.image or args.index
    images, names = [], []
    for source in progress(sources, 'images'):
        if args.image:
            images.append(load_image(source, size, in_channels))
            names.append(Path(source).name)
        else:
            images.append(dataset_image(cfg.train_dataloader.dataset, source, size, in_channels))
            names.append(f'index {source}')
    inputs = preprocess(images, cfg.model.get('data_preprocessor')
                        or cfg.get('data_preprocessor'))
    with torch.no_grad():
        maps = torch.cat([cls_attention_maps(last_layer_attention(backbone, x[None]), grid)
                          for x in progress(inputs, 'attention')])
    branch = 'teacher' if args.teacher else 'student'
    title = (f'{Path(args.checkpoint).name} ({branch}): last-layer cls-token attention, '
             f'{maps.shape[1]} heads')
    out = render(images, maps.numpy(), args.out, dpi=args.dpi, mass=args.mass, title=title,
                 row_names=names)
    print(f'wrote {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
