"""Time a pretraining config's data loading per image (MMPretrain's pipeline) against a batch at a
time (augmentations on the batch, on the device), side by side in one process.

Examples:
    python tools/benchmark_loading.py configs/mini/sdae_vit-mini_fashion-mnist.py --batch 512
    python tools/benchmark_loading.py configs/mini/sdae_vit-mini_fashion-mnist.py --batch 2048 \
        --device cuda --workers 8 --out loading.json
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # projects/ of this clone

import sdae_plugin  # noqa: E402,F401  (registers SdAE's modules)
from projects.benchmark import loading_table, measure_loading  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a pretraining config with a FashionMNIST dataset')
    parser.add_argument('--batch', type=int, default=512)
    parser.add_argument('--batches', type=int, default=10, help='timed batches per way and round')
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--workers', type=int, default=0, help="the dataloader's num_workers")
    parser.add_argument('--device', default='cpu', help='where the data preprocessor runs')
    parser.add_argument('--subset', type=int,
                        help="the first N training images (0: all; default: the config's)")
    parser.add_argument('--out', help='write the result as JSON here')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    result = measure_loading(args.config, args.batch, args.batches, args.rounds, args.device,
                             args.workers, args.subset)
    print(loading_table(result))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))
    return result


if __name__ == '__main__':
    main()
