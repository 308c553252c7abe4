"""kNN top-1 vs. pretraining epoch of the sweep's curve rows, as a PNG."""
from typing import Optional, Sequence

from ..visualization.drawing import new_figure, save

COLOURS = {'sdae': 'tab:blue', 'mae': 'tab:orange'}


def plot_knn_curves(runs: Sequence[dict], path: str, title: str, ylabel: str,
                    floor: Optional[float] = None, floor_mean: Optional[float] = None,
                    pixels: Optional[float] = None) -> bool:
    """Plot the ``curve`` of every run that has one (cls token solid, mean-pool dotted).

    Args:
        runs: the sweep's runs; ``curve`` is ``[(epoch, kNN cls, kNN mean-pool), ...]``.
        path: the PNG to write.
        title: the plot's title.
        ylabel: the name of the y axis (which kNN top-1).
        floor: kNN cls top-1 of the random-init encoder (epoch 0 and a dashed line).
        floor_mean: its mean-pool top-1 (epoch 0 of the dotted curves).
        pixels: kNN top-1 on the raw pixels (a dash-dotted line).

    Returns:
        Whether a plot was written (False when no run has a curve).
    """
    curves = [r for r in runs if r.get('curve')]
    if not curves:
        return False
    fig = new_figure(6.4, 4.2, dpi=120)
    ax = fig.add_subplot()
    for i, run in enumerate(curves):
        colour = COLOURS.get(run['row'], f'C{i + 2}')
        start = [(0, floor)] if floor is not None else []
        cls = start + [(c[0], c[1]) for c in run['curve']]
        ax.plot([e for e, _ in cls], [v for _, v in cls], '-o', color=colour, markersize=3,
                label=f'{run["row"]} seed {run["seed"]} (cls)',
                alpha=1.0 if run['seed'] == curves[0]['seed'] else 0.6)
        start = [(0, floor_mean)] if floor_mean is not None else []
        mean = start + [(c[0], c[2]) for c in run['curve']]
        ax.plot([e for e, _ in mean], [v for _, v in mean], ':', color=colour, alpha=0.7,
                label=f'{run["row"]} seed {run["seed"]} (mean-pool)')
    if floor is not None:
        ax.axhline(floor, color='grey', linestyle='--', linewidth=1, label='random init (cls)')
    if pixels is not None:
        ax.axhline(pixels, color='black', linestyle='-.', linewidth=1, label='raw pixels')
    ax.set_xlabel('pretraining epoch')
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc='lower right')
    fig.tight_layout()
    save(fig, path)
    return True
