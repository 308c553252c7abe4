"""Time one training step of MAE and of SdAE's teacher feedings (the paper's Table 1), side by side.

Every model is built and warmed up in one process, then the timed steps (forward + backward +
AdamW step, the same optimizer settings for every model) go round-robin over the models so that
the machine's drift hits them alike (``projects.benchmark``). Prints a Markdown table: median
and spread of the step time, peak memory, analytic FLOPs per step, achieved FLOP/s, FLOP/s as a
fraction of a plain GEMM measured in the same run, the ratio to MAE, and the cost of one teacher
EMA update (SdAE applies it once per epoch, so it is not part of the step). With
``--released-code`` (a checkout of AbrahamYabo/SdAE, timm 0.3.2 from ``--released-timm``) the
released code's step is a row too, and every row gets its time over the released step's of the
same round; ``--check`` instead compares our SdAE, loaded with the released weights, with the
released step (same masks; loss and gradient differences) and exits 1 on a regression.

Examples:
    python tools/benchmark.py --arch base --batch 4 --amp none --steps 5
    python tools/benchmark.py --arch base --batch 4 --amp bf16 --profile
    python tools/benchmark.py --arch base --batch 96 --amp bf16 --device cuda --out gpu.json
    python tools/benchmark.py --arch tiny --steps 2 --out results.json   # CI smoke mode
    python tools/benchmark.py --released-code ../SdAE --released-timm ../timm032 --amp bf16 \
        --rows sdae_multi_fold sdae_multi_fold_fused sdae_multi_fold_fused_compiled released
    python tools/benchmark.py --released-code ../SdAE --released-timm ../timm032 --check
"""
import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # projects/ of this clone

import sdae_plugin  # noqa: E402,F401  (registers SdAE's modules)
from projects.benchmark import (ARCHS, ROWS, BenchmarkOptions, check_released,  # noqa: E402
                                run_benchmark, summary)
from projects.benchmark.measure import AMP_CHOICES  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--arch', choices=sorted(ARCHS), default='base')
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--img-size', type=int, default=224)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--amp', choices=AMP_CHOICES, default='none')
    parser.add_argument('--compile', action='store_true', help='torch.compile the loss forward')
    parser.add_argument('--steps', type=int, default=5, help='timed steps per model')
    parser.add_argument('--warmup', type=int, default=2, help='untimed steps per model')
    parser.add_argument('--fused-adamw', action='store_true',
                        help='torch.optim.AdamW(fused=True) for every model')
    parser.add_argument('--rows', nargs='+', choices=sorted(ROWS),
                        help='rows to run; default: all (without sdae_multi_fold_teacher_bf16 '
                        'when --amp is not none, where it equals sdae_multi_fold)')
    parser.add_argument('--profile', action='store_true',
                        help='also time the parts of one SdAE multi-fold step (eager rows)')
    parser.add_argument('--released-code', metavar='PATH',
                        help='a checkout of the released code (AbrahamYabo/SdAE): adds its row')
    parser.add_argument('--released-timm', metavar='DIR',
                        help='a directory holding timm 0.3.2 for the released code '
                        '(pip install --no-deps --target DIR timm==0.3.2)')
    parser.add_argument('--check', action='store_true',
                        help='instead of timing: our SdAE with the released weights against the '
                        'released step (fp32, --batch images, same masks); exit 1 on a regression')
    parser.add_argument('--check-drop-path', type=float, default=0.0,
                        help="the student's drop path in --check (both draw alike)")
    parser.add_argument('--out', help='write the results as JSON here')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.check:
        if not args.released_code:
            sys.exit('--check needs --released-code PATH')
        report, text = check_released(args.released_code, args.released_timm, args.arch,
                                      args.img_size, args.batch, args.device,
                                      args.check_drop_path)
        print(text)
    else:
        options = {k: v for k, v in vars(args).items()
                   if k not in ('out', 'check', 'check_drop_path')}
        report = run_benchmark(BenchmarkOptions(**options),
                               progress=lambda m: print(m, flush=True))
        print('\n' + summary(report))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2))
    if args.check and not report['ok']:
        sys.exit(1)
    return report


if __name__ == '__main__':
    main()
