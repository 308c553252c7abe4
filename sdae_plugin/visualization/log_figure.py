"""Training curves from MMEngine json logs: ``tools/plot_log.py``.

One panel per key (any logged scalar), x the global training iteration, one curve per log
(a json log, or a work directory whose ``--resume`` runs are joined by :func:`read_scalars`).
``momentum`` is the weight on the old teacher in the next EMA update; ``target_std`` falling
towards 0 means the teacher collapses.
"""
import math
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

from . import drawing
from .logs import read_scalars, series

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
    """A log's default legend label: its work directory's name."""
    path = Path(path)
    return path.parents[1].name if path.name == 'scalars.json' else path.name


def render_logs(runs, keys, out: str, dpi: int = 100, window: int = 1, title: str = '') -> Path:
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


def plot_logs(logs: Sequence[str], keys: Sequence[str] = DEFAULT_KEYS,
              labels: Optional[Sequence[str]] = None, window: int = 1, out: str = 'log.png',
              dpi: int = 100) -> Tuple[Path, List[str]]:
    """Read every log and draw their curves.

    Args:
        logs (list[str]): json log files or work directories.
        keys (list[str]): scalars to plot, one panel each.
        labels (list[str], optional): legend label per log (default: its name).
        window (int): moving average over this many logged points (1: none).
        out (str): the PNG to write.
        dpi (int): pixels per inch.

    Returns:
        tuple: the written PNG and one summary line per log (rows, last iteration, keys found).

    Raises:
        ValueError: for a label count that is not the log count, or a log without training rows.
    """
    if labels and len(labels) != len(logs):
        raise ValueError(f'--labels needs one label per log ({len(logs)})')
    runs, summaries = [], []
    for index, log in enumerate(logs):
        rows = read_scalars(log)
        if not any('iter' in row for row in rows):
            raise ValueError(f'{log}: no training rows (no "iter" entry) in the log')
        runs.append((labels[index] if labels else log_label(log), rows))
        last = max(row['iter'] for row in rows if 'iter' in row)
        found = [k for k in keys if len(series(rows, k)[0])]
        summaries.append(f'{log}: {sum("iter" in r for r in rows)} training rows up to '
                         f'iteration {last}; keys found: {", ".join(found) or "none of --keys"}')
    smooth_note = f', moving average of {window}' if window > 1 else ''
    title = ', '.join(label for label, _ in runs) + smooth_note
    return render_logs(runs, keys, out, dpi=dpi, window=window, title=title), summaries
