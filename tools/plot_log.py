"""Plot training curves from MMEngine json logs: loss, EMA momentum, target std and LR.

Each LOG is a json log (``<work_dir>/<timestamp>/vis_data/scalars.json``) or a work directory, whose
runs (one per ``--resume``) are joined into one curve; several LOGs are drawn as several labelled
curves on the same panels. The x axis is the global training iteration; one panel per ``--keys``
entry (any logged scalar: ``cosine``, ``base_lr``, ``time``, ...). ``momentum`` is the weight on the
old teacher in the next EMA update; ``target_std`` falling towards 0 means the teacher collapses;
``knn/top1_cls`` and ``knn/top1_mean`` are what ``KNNMonitorHook`` measured (one point per evaluation).

Examples:
    python tools/plot_log.py work_dirs/demo --out docs/log.png
    python tools/plot_log.py work_dirs/a work_dirs/b --keys loss cosine --smooth 20 --out cmp.png
    python tools/plot_log.py work_dirs/demo --keys loss knn/top1_cls --out knn.png
"""
import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, too

from sdae_plugin.visualization import read_scalars, series  # noqa: E402
from sdae_plugin.visualization import drawing  # noqa: E402

DEFAULT_KEYS = ('loss', 'momentum', 'target_std', 'lr')
PANEL_W, PANEL_H, HEADER = 5.0, 3.2, 0.4  # inches per panel, and the title band
LABELS = {
    'loss': 'loss (1 - cosine to the teacher)',
    'momentum': 'EMA momentum (weight on the old teacher)',
    'target_std': 'target std (collapse if -> 0)',
    'lr': 'learning rate',
    'cosine': 'student-teacher cosine',
    'knn/top1_cls': 'kNN top-1 % (cls token; KNNMonitorHook)',
    'knn/top1_mean': 'kNN top-1 % (mean of patch tokens)',
}


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


def figure_size(num_keys: int) -> tuple:
    """Inches: two panels per row."""
    cols = min(2, num_keys)
    return cols * PANEL_W, math.ceil(num_keys / cols) * PANEL_H + HEADER


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average (the first points average what exists so far)."""
    if window <= 1 or len(values) == 0:
        return values
    cumulative = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    return (cumulative[1:] - cumulative[np.arange(1, len(values) + 1) - counts]) / counts


def log_label(path: str) -> str:
    path = Path(path)
    return path.parents[1].name if path.name == 'scalars.json' else path.name


def render(runs, keys, out: str, dpi: int = 100, window: int = 1, title: str = '') -> Path:
    """``runs``: ``[(label, rows)]`` from :func:`read_scalars`; one panel per key."""
    width_in, height_in = figure_size(len(keys))
    cols = min(2, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig = drawing.new_figure(width_in, height_in, dpi)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.09 * 2 / (rows + 1),
                        top=1 - (HEADER + 0.3) / height_in, wspace=0.28, hspace=0.45)
    for ax, key in zip(axes, keys):
        drawn = False
        for index, (label, data) in enumerate(runs):
            steps, values = series(data, key)
            if len(steps):
                ax.plot(steps, smooth(values, window), lw=1.4, color=drawing.colour(index),
                        label=label)
                drawn = True
        if not drawn:
            ax.text(0.5, 0.5, f'"{key}" is not in the log', ha='center', va='center',
                    transform=ax.transAxes, color='grey')
        if key == 'lr':
            ax.ticklabel_format(axis='y', style='sci', scilimits=(-2, 3))
        ax.set_title(LABELS.get(key, key), fontsize=10)
        ax.set_xlabel('iteration', fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        if drawn and len(runs) > 1:
            ax.legend(fontsize=8)
    for ax in axes[len(keys):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=11, y=1 - 0.1 / height_in, va='top')
    return drawing.save(fig, out)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.labels and len(args.labels) != len(args.logs):
        raise SystemExit(f'--labels needs one label per log ({len(args.logs)})')
    runs = []
    for index, log in enumerate(args.logs):
        rows = read_scalars(log)
        if not any('iter' in row for row in rows):
            raise SystemExit(f'{log}: no training rows (no "iter" entry) in the log')
        label = args.labels[index] if args.labels else log_label(log)
        runs.append((label, rows))
        last = max(row['iter'] for row in rows if 'iter' in row)
        found = [k for k in args.keys if len(series(rows, k)[0])]
        print(f'{log}: {sum("iter" in r for r in rows)} training rows up to iteration {last}; '
              f'keys found: {", ".join(found) or "none of --keys"}')
    smooth_note = f', moving average of {args.smooth}' if args.smooth > 1 else ''
    title = ', '.join(label for label, _ in runs) + smooth_note
    out = render(runs, args.keys, args.out, dpi=args.dpi, window=args.smooth, title=title)
    print(f'wrote {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
