"""Draw one SdAE mask plan: the image, the student's visible patches, each teacher fold (Fig. 3d).

The plan is drawn by the config's own ``MultiFoldMaskGenerator``, built by ``SdAE``'s constructor
exactly as in training (``num_patches`` from the config's backbone), seeded by ``--seed``; every
mode works (``multi_fold``, ``only_masked``, ``full_image``, ``teacher_crop``). Panels, left to
right: the input with its patch grid; the student's visible patches (masked ones grey); each
teacher view in its own colour, framed where it is a loss target; all targets tinted by fold.
See :mod:`sdae_plugin.visualization.mask_figure`.

Examples:
    python tools/visualize_masks.py configs/sdae_vit-tiny_fashion-mnist_demo.py --index 0 \
        --out docs/masks.png
    python tools/visualize_masks.py configs/sdae_vit-b_300e.py --image photo.jpg --seed 3 \
        --out masks.png
    python tools/visualize_masks.py CONFIG --image photo.jpg --out fold4.png \
        --cfg-options model.mask_generator.num_folds=4 model.mask_generator.drop_remainder=True
"""
import argparse
import sys

from mmengine.config import Config, DictAction

from sdae_plugin.visualization import visualize_masks


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


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)  # runs custom_imports (sdae_plugin)
    cfg.merge_from_dict(args.cfg_options)
    out = visualize_masks(cfg, image=args.image, index=args.index, seed=args.seed, out=args.out,
                          dpi=args.dpi)
    print(f'wrote {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
