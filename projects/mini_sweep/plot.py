"""kNN top-1 vs. pretraining epoch of the sweep's curve rows (mean and range over seeds), a PNG."""
from typing import Dict, List, Optional, Sequence, Tuple

from sdae_plugin.visualization.drawing import new_figure, save

COLOURS = {'sdae': 'tab:blue', 'mae': 'tab:orange'}
READOUTS = ((1, 'cls', '-o'), (2, 'mean-pool', ':'))  # (index in a curve point, name, style)


def seed_bands(runs: Sequence[dict], index: int) -> List[Tuple[int, float, float, float, int]]:
    """``[(epoch, mean, min, max, seeds), ...]`` over the runs' curves at every epoch that all
    of them evaluated (``index``: 1 for the cls readout, 2 for mean-pool)."""
    by_epoch: Dict[int, List[float]] = {}
    for run in runs:
        for point in run['curve']:
            by_epoch.setdefault(point[0], []).append(point[index])
    return [(epoch, sum(v) / len(v), min(v), max(v), len(v))
            for epoch, v in sorted(by_epoch.items()) if len(v) == len(runs)]


def plot_knn_curves(runs: Sequence[dict], path: str, title: str, ylabel: str,
                    pixels: Optional[float] = None) -> bool:
    """Plot, per row, the mean over seeds of its runs' ``curve`` and the range as a band.

    Args:
        runs: the runs to draw; ``curve`` is ``[(epoch, kNN cls, kNN mean-pool), ...]`` (epoch 0:
            the encoder at initialization).
        path: the PNG to write.
        title: the plot's title.
        ylabel: the name of the y axis (which kNN top-1).
        pixels: kNN top-1 on the raw pixels of the same images (a dash-dotted line).

    Returns:
        Whether a plot was written (False when no run has a curve).
    """
    rows: Dict[str, List[dict]] = {}
    for run in runs:
        if run.get('curve'):
            rows.setdefault(run['row'], []).append(run)
    if not rows:
        return False
    fig = new_figure(6.4, 4.2, dpi=120)
    ax = fig.add_subplot()
    for i, (row, row_runs) in enumerate(rows.items()):
        colour = COLOURS.get(row, f'C{i + 2}')
        for index, readout, style in READOUTS:
            band = seed_bands(row_runs, index)
            epochs = [b[0] for b in band]
            ax.plot(epochs, [b[1] for b in band], style, color=colour, markersize=3,
                    label=f'{row} ({readout}), mean of {len(row_runs)} seed(s)')
            if len(row_runs) > 1:
                ax.fill_between(epochs, [b[2] for b in band], [b[3] for b in band],
                                color=colour, alpha=0.15 if index == 1 else 0.08, linewidth=0)
    if pixels is not None:
        ax.axhline(pixels, color='black', linestyle='-.', linewidth=1, label='raw pixels')
    ax.set_xlabel('pretraining epoch (0: initialization)')
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc='lower right')
    fig.tight_layout()
    save(fig, path)
    return True
