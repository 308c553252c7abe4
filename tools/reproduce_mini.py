"""SdAE vs MAE in miniature on Fashion-MNIST, plus the paper's ablations: train, evaluate, report.

Every row (method) and seed is pretrained, its encoder extracted and evaluated (kNN, linear probe,
fine-tuning) by this repository's tools run as subprocesses; ``--out`` gets a Markdown report and
a PNG of kNN top-1 vs. epoch; finished stages are kept in ``WORK_DIR/results.json`` (a rerun
continues). The sweep is ``projects/mini_sweep`` (see its README); it runs from a clone only.

Examples:
    python tools/reproduce_mini.py --dry-run             # print every command, run nothing
    python tools/reproduce_mini.py --rows sdae mae       # floor, SdAE and MAE, 2 seeds each
    python tools/reproduce_mini.py --preset learning     # 100 epochs, lr grid, 3 seeds (CPU)
    python tools/reproduce_mini.py --preset gpu --seeds 0 1   # a flag overrides the preset
    python tools/reproduce_mini.py --smoke --data-root DIR --work-dir DIR --out FILE   # CI-sized
"""
import argparse
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the clone: projects/ lives there, not in the package
sys.path.insert(0, str(ROOT))

from projects.mini_sweep import (PRESETS, ROWS, SweepInputError, SweepSettings,  # noqa: E402
                                 make_settings, run_sweep)


def add_rows(parser: argparse.ArgumentParser, d: SweepSettings) -> None:
    group = parser.add_argument_group('rows and seeds')
    group.add_argument('--rows', nargs='+', default=d.rows, choices=list(ROWS),
                       help='rows to run (random is the floor)')
    group.add_argument('--seeds', nargs='+', type=int, default=d.seeds,
                       help='seeds of the main rows (SdAE and MAE, decoder depth 2 and 8); '
                       'the other rows use the first')
    group.add_argument('--linear-rows', nargs='+', choices=list(ROWS),
                       help='rows with a linear probe (default: all)')
    group.add_argument('--ft-rows', nargs='+', choices=list(ROWS), default=d.ft_rows,
                       help='rows that are fine-tuned')
    group.add_argument('--curve-rows', nargs='+', choices=list(ROWS), default=d.curve_rows,
                       help='rows whose kNN monitor curves are plotted (mean and range over '
                       'seeds)')


def add_pretraining(parser: argparse.ArgumentParser, d: SweepSettings) -> None:
    group = parser.add_argument_group('pretraining')
    group.add_argument('--epochs', type=int, default=d.epochs, help='pretraining epochs (>= 2)')
    group.add_argument('--subset', type=int, default=d.subset,
                       help='pretraining images (the first N of the train split; 0: all 60k)')
    group.add_argument('--batch-size', type=int, default=d.batch_size, help='pretraining batch')
    group.add_argument('--lrs', nargs='+', type=float, default=d.lrs,
                       help='pretraining learning rates to choose from on validation images '
                       '(default: each config\'s own)')
    group.add_argument('--tune-rows', nargs='+', choices=list(ROWS), default=d.tune_rows,
                       help='rows tuned over --lrs; the others take their baseline\'s choice')
    group.add_argument('--monitor-interval', type=int, default=d.monitor_interval,
                       help='epochs between kNN monitor evaluations (validation images)')
    group.add_argument('--monitor-bank', type=int, default=d.monitor_bank,
                       help='kNN monitor memory bank: the first N train images (default: the '
                       'config\'s)')
    group.add_argument('--monitor-queries', nargs=2, type=int, default=d.monitor_queries,
                       metavar=('START', 'STOP'),
                       help='kNN monitor queries: train images START..STOP-1 (default: the '
                       'config\'s); keep them outside --subset')


def add_evaluation(parser: argparse.ArgumentParser, d: SweepSettings) -> None:
    group = parser.add_argument_group('evaluation')
    group.add_argument('--knn-train', type=int, default=d.knn_train,
                       help='kNN memory bank: the first N train images (0: all 60k)')
    group.add_argument('--knn-test', type=int, default=d.knn_test,
                       help='kNN queries: the first N test images (0: all 10k)')
    group.add_argument('--linear-epochs', type=int, default=d.linear_epochs)
    group.add_argument('--linear-subset', type=int, default=d.linear_subset)
    group.add_argument('--ft-epochs', type=int, default=d.ft_epochs, help='fine-tune epochs (>= 2)')
    group.add_argument('--ft-subset', type=int, default=d.ft_subset)


def add_machine(parser: argparse.ArgumentParser, d: SweepSettings) -> None:
    group = parser.add_argument_group('precision and machine')
    group.add_argument('--amp', choices=['bf16', 'fp32'], default=d.amp,
                       help='precision of the stages that train an encoder (pretraining, '
                       'fine-tuning); bf16: CPU autocast (AMX)')
    group.add_argument('--eval-amp', choices=['bf16', 'fp32'], default=d.eval_amp,
                       help='precision of the stages with a frozen encoder (kNN features, '
                       'linear probe)')
    group.add_argument('--device', choices=['cpu', 'cuda'], default=d.device,
                       help='where the stages run (cuda: bf16 through AmpOptimWrapper)')
    group.add_argument('--batched-data', action=argparse.BooleanOptionalAction,
                       default=d.batched_data,
                       help='pretraining fetches a batch at a time and runs its augmentations on '
                       'the device (same distributions, other random draws than per image)')
    group.add_argument('--jobs', type=int, default=d.jobs,
                       help='stages run at a time (the grid\'s learning rates, then the rows and '
                       'seeds; on a GPU they share the card)')
    group.add_argument('--workers', type=int, default=d.workers, help='dataloader workers')
    group.add_argument('--threads', type=int, default=d.threads,
                       help='torch threads of every stage (OMP_NUM_THREADS); 0: torch default')


def add_outputs(parser: argparse.ArgumentParser, d: SweepSettings) -> None:
    group = parser.add_argument_group('data and outputs')
    group.add_argument('--logger-interval', type=int, default=d.logger_interval)
    group.add_argument('--data-root', default=d.data_root)
    group.add_argument('--work-dir', default=d.work_dir)
    group.add_argument('--out', default=d.out)
    group.add_argument('--plot', help='PNG path (default: --out with _knn.png)')
    group.add_argument('--keep-checkpoints', action='store_true',
                       help='keep every epoch checkpoint (default: only the last)')


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--preset', choices=sorted(PRESETS),
                        help='a named size of the whole sweep: its values are the defaults, '
                        'options given with it override them')
    parser.add_argument('--smoke', action='store_true',
                        help='--preset smoke: CI-sized, 2 tiny epochs of SdAE and MAE on a few '
                        'images, every stage once')
    parser.add_argument('--dry-run', action='store_true', help='print the plan, run nothing')
    defaults = SweepSettings()
    for add in (add_rows, add_pretraining, add_evaluation, add_machine, add_outputs):
        add(parser, defaults)
    return parser


def parse_args(argv=None) -> SweepSettings:
    parser = build_parser()
    # the preset's values become the defaults (flagless options too): a flag given beside it wins
    named, _ = parser.parse_known_args(argv)
    parser.set_defaults(**PRESETS.get('smoke' if named.smoke else named.preset, {}))
    args = parser.parse_args(argv)
    try:
        return make_settings(**{k: v for k, v in vars(args).items() if k != 'preset'})
    except SweepInputError as error:
        parser.error(str(error))


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    settings = parse_args(argv)
    invocation = 'python tools/reproduce_mini.py ' + ' '.join(shlex.quote(x) for x in argv)
    try:
        outcome = run_sweep(settings, invocation)
    except SweepInputError as error:
        print(error, file=sys.stderr)
        return 2
    if settings.dry_run:
        print(f'# {len(outcome.commands)} commands; outputs: {settings.out}, {settings.plot}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
