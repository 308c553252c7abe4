"""The GPU benchmark in one call: check against the released code, rows at a batch and at the
largest batch that fits, one JSON report and one Markdown page (``projects.benchmark.suite``).

``tools/gpu_benchmark.sh`` installs what is missing and calls this. On the CPU it is a dry run
with tiny sizes.

Examples:
    python tools/benchmark_suite.py --released-code SdAE --released-timm timm032 --out-dir out
    python tools/benchmark_suite.py --released-code SdAE --released-timm timm032 --out-dir out \\
        --device cpu --arch small --img-size 64 --batch 2 --max-batch 4 --steps 2 --warmup 1 \\
        --check-batch 2 --largest-steps 2
"""
import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # projects/ of this clone

import sdae_plugin  # noqa: E402,F401  (registers SdAE's modules)
from projects.benchmark import ARCHS, SuiteOptions, run_suite, suite_markdown  # noqa: E402
from projects.benchmark.measure import AMP_CHOICES  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--released-code', required=True, metavar='PATH')
    parser.add_argument('--released-timm', metavar='DIR')
    parser.add_argument('--out-dir', required=True, help='suite.json and suite.md go here')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--arch', choices=sorted(ARCHS), default='base')
    parser.add_argument('--img-size', type=int, default=224)
    parser.add_argument('--batch', type=int, default=96)
    parser.add_argument('--amp', choices=AMP_CHOICES, default='bf16')
    parser.add_argument('--steps', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--check-batch', type=int, default=8)
    parser.add_argument('--max-batch', type=int,
                        help='upper end of the largest-batch search (required on the CPU)')
    parser.add_argument('--largest-steps', type=int, default=8,
                        help='timed steps at the largest batch; 0 skips that part')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    out_dir = Path(args.out_dir)
    options = SuiteOptions(**{k: v for k, v in vars(args).items() if k != 'out_dir'})
    report = run_suite(options, progress=lambda msg: print(msg, flush=True))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / 'suite.json').write_text(json.dumps(report, indent=2))
    (out_dir / 'suite.md').write_text(suite_markdown(report) + '\n')
    print(f'\nwrote {out_dir / "suite.json"} and {out_dir / "suite.md"}')
    return report


if __name__ == '__main__':
    main()
