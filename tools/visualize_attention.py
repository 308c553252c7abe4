"""Last-layer cls-token attention of a pretrained SdAE encoder, per head and averaged (Fig. 7).

The encoder (student by default, ``--teacher`` for the EMA teacher) is read from any checkpoint
that ``tools/extract_backbone.py`` reads (this plugin's pretraining checkpoints, the released
format, or an extracted backbone file) and loaded, strictly, into the config's backbone. The image
is resized (short side) and centre-cropped to the model's input size and normalized with the
config's data preprocessor. One row per image: the input; all heads together (each head's colour
on the fewest patches holding ``--mass`` of its attention); the mean over heads; each head's map.
See :mod:`sdae_plugin.visualization.attention_figure`.

Examples:
    python tools/visualize_attention.py configs/sdae_vit-tiny_fashion-mnist_demo.py \
        work_dirs/demo/epoch_4.pth --index 0 1 2 --out docs/attention.png
    python tools/visualize_attention.py configs/sdae_vit-b_300e.py epoch_300.pth \
        --image a.jpg b.jpg --teacher --out attention.png
"""
import argparse
import sys

from mmengine.config import Config, DictAction

from sdae_plugin.visualization import visualize_attention


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


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)  # runs custom_imports (sdae_plugin)
    cfg.merge_from_dict(args.cfg_options)
    try:
        out = visualize_attention(cfg, args.checkpoint, images=args.image, indices=args.index,
                                  out=args.out, teacher=args.teacher, mass=args.mass,
                                  dpi=args.dpi, unsafe=args.unsafe_load)
    except ValueError as err:  # a bad --mass, a checkpoint that does not fit the config
        print(f'error: {err}', file=sys.stderr)
        return 1
    print(f'wrote {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
