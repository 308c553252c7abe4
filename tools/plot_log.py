"""Plot training curves from MMEngine json logs: loss, EMA momentum, target std and LR.

Each LOG is a json log (``<work_dir>/<timestamp>/vis_data/scalars.json``) or a work directory, whose
runs (one per ``--resume``) are joined into one curve; several LOGs are drawn as several labelled
curves on the same panels. The x axis is the global training iteration; one panel per ``--keys``
entry (any logged scalar: ``cosine``, ``base_lr``, ``time``, ...). ``momentum`` is the weight on the
old teacher in the next EMA update; ``target_std`` falling towards 0 means the teacher collapses;
``knn/top1_cls`` and ``knn/top1_mean`` are what ``KNNMonitorHook`` measured (one point per
evaluation). See :mod:`sdae_plugin.visualization.log_figure`.

Examples:
    python tools/plot_log.py work_dirs/demo --out docs/log.png
    python tools/plot_log.py work_dirs/a work_dirs/b --keys loss cosine --smooth 20 --out cmp.png
    python tools/plot_log.py work_dirs/demo --keys loss knn/top1_cls --out knn.png
"""
import argparse
import sys

from sdae_plugin.visualization import plot_logs
from sdae_plugin.visualization.log_figure import DEFAULT_KEYS


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('logs', nargs='+', help='json log file(s) or work directory(ies)')
    parser.add_argument('--keys', nargs='+', default=list(DEFAULT_KEYS),
                        help=f'scalars to plot, one panel each (default: {" ".join(DEFAULT_KEYS)})')
    parser.add_argument('--labels', nargs='+', help='legend label per LOG (default: its name)')
    parser.add_argument('--smooth', type=int, default=1,
                        help='moving average over this many logged points (default 1: none)')
    parser.add_argument('--out', default='log.png', help='PNG to write (default log.png)')
    parser.add_argument('--dpi', type=int, default=100, help='pixels per inch (default 100)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        out, summaries = plot_logs(args.logs, args.keys, labels=args.labels, window=args.smooth,
                                   out=args.out, dpi=args.dpi)
    except ValueError as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    print('\n'.join(summaries))
    print(f'wrote {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
