"""SdAE vs MAE in miniature on Fashion-MNIST, plus the paper's ablations: train, evaluate, report.

For every row (method) and seed: pretrain with ``tools/train.py`` on ``configs/mini/*`` (its kNN
monitor evaluates held-out training images every ``--monitor-interval`` epochs: the curves);
extract the encoder (``tools/extract_backbone.py``); weighted kNN on the test split
(``tools/knn_eval.py``, cls token and mean-pooled patch tokens); linear probe and fine-tuning
(``tools/train.py`` on ``configs/mini/eval/*``), each evaluated once on the test split after its
last epoch. A random-init encoder is the floor, kNN on the raw pixels the no-network reference.
With ``--lrs``, the tuned rows (``--tune-rows``) first pretrain on the first seed with every
learning rate of the grid, and each keeps the one with the best validation kNN for all its seeds.
Writes ``--out`` (a Markdown report with the setup read from the resolved configs, the tables,
the machine, the seeds and every command) and a PNG of kNN top-1 vs. epoch (mean and range over
seeds) next to it. A
hand-written reading of the results, kept in ``<out stem>_reading.md`` next to ``--out``
(``docs/results_mini_reading.md`` for ``--preset learning``, whose report is
``docs/results_mini.md``; the first, short sweep's is ``docs/results_mini_short.md``), is included
in the report when that file exists. The logic
is :mod:`sdae_plugin.experiments` (rows, stages, results, report, plot).

Every stage's result is stored in ``WORK_DIR/results.json`` as soon as it is done; a rerun with
the same size options skips finished stages (an interrupted sweep continues where it stopped, and
a run with more ``--rows`` adds to an earlier one). Other size options in the same work dir are
refused.

Precision: ``--amp`` (default fp32) for the stages that train an encoder, ``--eval-amp``
(default bf16 CPU autocast) for the frozen-encoder stages (kNN features, linear probe). On the
2-core AMX machine bf16 halved the time of feature extraction and gave the same kNN top-1 (within
0.4 points), but did not speed up training steps of this 128-wide ViT. Pass ``--threads 1`` when
other processes share the cores (two OpenMP threads then slow down several-fold).

Examples:
    python tools/reproduce_mini.py --dry-run             # print every command, run nothing
    python tools/reproduce_mini.py --rows sdae mae       # floor, SdAE and MAE, 2 seeds each
    python tools/reproduce_mini.py                       # + ablation and investigation rows
                                                         #   (89 min of stages on 2 cores)
    python tools/reproduce_mini.py --preset learning     # issue 14: 100 epochs, lr chosen on
                                                         #   validation images, 3 seeds
    python tools/reproduce_mini.py --preset learning --seeds 0   # a flag overrides the preset
    python tools/reproduce_mini.py --smoke --data-root /tmp/tiny_fashion --work-dir /tmp/w \
        --out /tmp/results.md                            # CI-sized pipeline check
"""
import argparse
import shlex
import sys

from sdae_plugin.experiments import (PRESETS, ROWS, SweepInputError, SweepSettings,
                                     make_settings, run_sweep)


def parse_args(argv=None) -> SweepSettings:
    d = SweepSettings()
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--rows', nargs='+', default=d.rows, choices=list(ROWS),
                        help='rows to run (random is the floor)')
    parser.add_argument('--seeds', nargs='+', type=int, default=d.seeds,
                        help='seeds of the main rows (SdAE and MAE, decoder depth 2 and 8); '
                        'the other rows use the first')
    parser.add_argument('--epochs', type=int, default=d.epochs, help='pretraining epochs (>= 2)')
    parser.add_argument('--subset', type=int, default=d.subset,
                        help='pretraining images (the first N of the train split; 0: all 60k)')
    parser.add_argument('--batch-size', type=int, default=d.batch_size, help='pretraining batch')
    parser.add_argument('--amp', choices=['bf16', 'fp32'], default=d.amp,
                        help='precision of the stages that train an encoder (pretraining, '
                        'fine-tuning); bf16: CPU autocast (AMX)')
    parser.add_argument('--eval-amp', choices=['bf16', 'fp32'], default=d.eval_amp,
                        help='precision of the stages with a frozen encoder (kNN features, '
                        'linear probe)')
    parser.add_argument('--knn-train', type=int, default=d.knn_train,
                        help='kNN memory bank: the first N train images (0: all 60k)')
    parser.add_argument('--knn-test', type=int, default=d.knn_test,
                        help='kNN queries: the first N test images (0: all 10k)')
    parser.add_argument('--linear-epochs', type=int, default=d.linear_epochs)
    parser.add_argument('--linear-subset', type=int, default=d.linear_subset)
    parser.add_argument('--linear-rows', nargs='+', choices=list(ROWS),
                        help='rows with a linear probe (default: all)')
    parser.add_argument('--ft-epochs', type=int, default=d.ft_epochs,
                        help='fine-tune epochs (>= 2)')
    parser.add_argument('--ft-subset', type=int, default=d.ft_subset)
    parser.add_argument('--ft-rows', nargs='+', choices=list(ROWS), default=d.ft_rows,
                        help='rows that are fine-tuned')
    parser.add_argument('--curve-rows', nargs='+', choices=list(ROWS), default=d.curve_rows,
                        help='rows whose kNN monitor curves are plotted (mean and range over '
                        'seeds)')
    parser.add_argument('--lrs', nargs='+', type=float, default=d.lrs,
                        help='pretraining learning rates to choose from on validation images '
                        '(default: each config\'s own)')
    parser.add_argument('--tune-rows', nargs='+', choices=list(ROWS), default=d.tune_rows,
                        help='rows tuned over --lrs; the others take their baseline\'s choice')
    parser.add_argument('--monitor-interval', type=int, default=d.monitor_interval,
                        help='epochs between kNN monitor evaluations (validation images)')
    parser.add_argument('--monitor-bank', type=int, default=d.monitor_bank,
                        help='kNN monitor memory bank: the first N train images (default: the '
                        'config\'s)')
    parser.add_argument('--monitor-queries', nargs=2, type=int, default=d.monitor_queries,
                        metavar=('START', 'STOP'),
                        help='kNN monitor queries: train images START..STOP-1 (default: the '
                        'config\'s); keep them outside --subset')
    parser.add_argument('--device', choices=['cpu', 'cuda'], default=d.device,
                        help='where the stages run (cuda: bf16 through AmpOptimWrapper)')
    parser.add_argument('--batched-data', action=argparse.BooleanOptionalAction,
                        default=d.batched_data,
                        help='pretraining fetches a batch at a time and runs its augmentations on '
                        'the device (same distributions, other random draws than per image)')
    parser.add_argument('--jobs', type=int, default=d.jobs,
                        help='stages run at a time (the grid\'s learning rates, then the rows and '
                        'seeds; on a GPU they share the card)')
    parser.add_argument('--workers', type=int, default=d.workers, help='dataloader workers')
    parser.add_argument('--threads', type=int, default=d.threads,
                        help='torch threads of every stage (OMP_NUM_THREADS); 0: torch default')
    parser.add_argument('--logger-interval', type=int, default=d.logger_interval)
    parser.add_argument('--data-root', default=d.data_root)
    parser.add_argument('--work-dir', default=d.work_dir)
    parser.add_argument('--out', default=d.out)
    parser.add_argument('--plot', help='PNG path (default: --out with _knn.png)')
    parser.add_argument('--keep-checkpoints', action='store_true',
                        help='keep every epoch checkpoint (default: only the last)')
    parser.add_argument('--preset', choices=sorted(PRESETS),
                        help='a named size of the whole sweep: its values are the defaults, '
                        'options given with it override them')
    parser.add_argument('--smoke', action='store_true',
                        help='--preset smoke: CI-sized, 2 tiny epochs of SdAE and MAE on a few '
                        'images, every stage once')
    parser.add_argument('--dry-run', action='store_true', help='print the plan, run nothing')
    # the preset's values become the defaults (options it sets that have no flag included), so
    # that a flag given beside it wins instead of being dropped
    named, _ = parser.parse_known_args(argv)
    preset = 'smoke' if named.smoke else named.preset
    parser.set_defaults(**PRESETS.get(preset, {}))
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
