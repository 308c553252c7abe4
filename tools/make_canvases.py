"""Write the downstream canvas sets (instance and semantic segmentation) from Fashion-MNIST.

Fashion-MNIST items pasted on black canvases (sdae_plugin.datasets.canvases), read from the idx
files, written as a COCO instance set and an MMSegmentation semantic set.

Layout (defaults; the semantic set holds the same canvases under the same file names)::

    data/fashion_canvases/                      --out
        annotations/instances_{train,val}.json  COCO: RLE masks, boxes, category_id = label + 1
        {train,val}/000000.png ...              64x64 grey canvases
        seg/                                    --seg-out (default: OUT/seg)
            img_dir/{train,val}/000000.png ...  the same canvases
            ann_dir/{train,val}/000000.png ...  label maps: 0 background, 1..10 = label + 1
            sources_{train,val}.json            per-image source indices and the options

Train canvases take items only from training images ``--train-range`` (default the last 10,000,
50000-59999, which pretraining's first-N subset does not use); val canvases only from the test
split (``--val-range``, default all of it). The same options and ``--seed`` give the same files.
A segmentation config on these maps sets ``reduce_zero_label=False`` and the 11 classes
``sdae_plugin.datasets.canvases.SEG_CLASSES`` (background is class 0). Nothing is downloaded.

Examples:
    python tools/make_canvases.py
    python tools/make_canvases.py --num-train 400 --num-val 100 --out /tmp/canvases --seed 1
"""
import argparse
import sys
from pathlib import Path


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog='\n'.join(__doc__.split('\n')[2:]))
    parser.add_argument('--data-root', default='data/fashion_mnist',
                        help='folder of the un-gzipped Fashion-MNIST idx files')
    parser.add_argument('--out', default='data/fashion_canvases', help='COCO instance set root')
    parser.add_argument('--seg-out', help='semantic set root (default: OUT/seg)')
    parser.add_argument('--num-train', type=int, default=4000, help='training canvases')
    parser.add_argument('--num-val', type=int, default=1000, help='validation canvases')
    parser.add_argument('--canvas-size', type=int, default=64, help='canvas side, pixels')
    parser.add_argument('--items', type=int, nargs=2, default=(2, 4), metavar=('MIN', 'MAX'),
                        help='items per canvas (inclusive)')
    parser.add_argument('--scale', type=int, nargs=2, default=(20, 36), metavar=('MIN', 'MAX'),
                        help='side of a resized item, pixels (inclusive)')
    parser.add_argument('--threshold', type=int, default=30,
                        help='item pixels above this are its silhouette (pasted, masked)')
    parser.add_argument('--min-visible', type=float, default=0.3,
                        help='drop items with less of their silhouette visible than this')
    parser.add_argument('--min-area', type=int, default=16,
                        help='drop items with fewer visible pixels than this')
    parser.add_argument('--seed', type=int, default=0, help='same seed, same files')
    parser.add_argument('--train-range', type=int, nargs=2, default=(50000, 60000),
                        metavar=('START', 'STOP'),
                        help='training images items are taken from (half-open)')
    parser.add_argument('--val-range', type=int, nargs=2, metavar=('START', 'STOP'),
                        help='test images items are taken from (half-open; default all)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    # imported here: --help answers without loading the OpenMMLab stack
    from sdae_plugin.datasets.canvases import (CanvasError, CanvasOptions, write_instance_set,
                                               write_semantic_set)
    seg_out = args.seg_out or str(Path(args.out) / 'seg')
    try:
        options = CanvasOptions(canvas_size=args.canvas_size, items=tuple(args.items),
                                scale=tuple(args.scale), threshold=args.threshold,
                                min_visible=args.min_visible, min_area=args.min_area,
                                seed=args.seed)
        summaries = []
        for split, count, index_range in (('train', args.num_train, args.train_range),
                                          ('val', args.num_val, args.val_range)):
            summaries.append(('instances', write_instance_set(
                args.out, args.data_root, split, count, options, index_range)))
            summaries.append(('semantic', write_semantic_set(
                seg_out, args.data_root, split, count, options, index_range)))
    except CanvasError as err:
        print(f'make_canvases: {err}', file=sys.stderr)
        return 2
    for kind, s in summaries:
        print(f'{kind:9s} {s.split:5s} {s.canvases} canvases, {s.instances} instances '
              f'({s.dropped} mostly hidden items dropped): images {s.image_dir}, '
              f'annotations {s.annotations}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
