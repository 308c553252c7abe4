"""Time one training step of MAE and of SdAE's teacher feedings (the paper's Table 1), side by side.

Every model is built and warmed up in one process, then the timed steps (forward + backward +
AdamW step, the same optimizer for every model) go round-robin over the models so that the
machine's drift hits them alike (``sdae_plugin.benchmark``). Prints a Markdown table: median and
spread of the step time, peak memory, analytic FLOPs per step, achieved FLOP/s, FLOP/s as a
fraction of a plain GEMM measured in the same run, the ratio to MAE, and the cost of one teacher
EMA update (SdAE applies it once per epoch, so it is not part of the step).

Examples:
    python tools/benchmark.py --arch base --batch 4 --amp none --steps 5
    python tools/benchmark.py --arch base --batch 4 --amp bf16 --profile
    python tools/benchmark.py --arch base --batch 96 --amp bf16 --device cuda --out gpu.json
    python tools/benchmark.py --arch tiny --steps 2 --out results.json   # CI smoke mode
"""
import argparse
import json
from pathlib import Path

import torch

import sdae_plugin  # noqa: F401  (registers SdAE's modules)
from sdae_plugin.benchmark import ARCHS, ROWS, BenchmarkOptions, run_benchmark, summary


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--arch', choices=sorted(ARCHS), default='base')
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--img-size', type=int, default=224)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--amp', choices=['none', 'fp16', 'bf16'], default='none')
    parser.add_argument('--compile', action='store_true', help='torch.compile the loss forward')
    parser.add_argument('--steps', type=int, default=5, help='timed steps per model')
    parser.add_argument('--warmup', type=int, default=2, help='untimed steps per model')
    parser.add_argument('--fused-adamw', action='store_true',
                        help='torch.optim.AdamW(fused=True) for every model')
    parser.add_argument('--rows', nargs='+', choices=sorted(ROWS),
                        help='rows to run; default: all (without sdae_multi_fold_teacher_bf16 '
                        'when --amp is not none, where it equals sdae_multi_fold)')
    parser.add_argument('--profile', action='store_true',
                        help='also time the parts of one SdAE multi-fold step')
    parser.add_argument('--out', help='write the results as JSON here')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    options = {k: v for k, v in vars(args).items() if k != 'out'}
    report = run_benchmark(BenchmarkOptions(**options), progress=lambda m: print(m, flush=True))
    print('\n' + summary(report))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2))
    return report


if __name__ == '__main__':
    main()
