"""The kNN-per-epoch curve of a pretraining run (what ``KNNMonitorHook`` measured)."""
from pathlib import Path
from typing import Dict, Optional, Sequence

from . import drawing

WIDTH_IN, HEIGHT_IN = 5.0, 3.4


def draw_knn_curve(history: Sequence[Dict], out: str, pixels: Optional[float] = None,
                   title: str = 'kNN top-1 during pretraining', dpi: int = 100) -> Path:
    """Plot kNN top-1 (%) against the epoch, one line per feature, and write a PNG.

    Args:
        history: rows ``{'epoch': e, 'top1': {'cls': %, 'mean': %}}``; epoch 0 is the
            initialization.
        out (str): the PNG to write.
        pixels (float, optional): kNN top-1 of the raw pixels, drawn as a dashed level.
        title (str): the figure title.
        dpi (int): pixels per inch.

    Returns:
        Path: ``out``.
    """
    fig = drawing.new_figure(WIDTH_IN, HEIGHT_IN, dpi)
    ax = fig.add_subplot(1, 1, 1)
    epochs = [row['epoch'] for row in history]
    kinds = list(history[0]['top1']) if history else []
    for index, kind in enumerate(kinds):
        ax.plot(epochs, [row['top1'][kind] for row in history], marker='o', lw=1.4,
                color=drawing.colour(index), label=f'{kind} token' if kind == 'cls' else
                f'{kind} of patch tokens')
    if pixels is not None:
        ax.axhline(pixels, ls='--', lw=1.2, color='grey', label='raw pixels')
    ax.set_xlabel('epoch (0: initialization)', fontsize=9)
    ax.set_ylabel('kNN top-1 (%)', fontsize=9)
    ax.set_title(title, fontsize=10)
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.3)
    if 0 < len(set(epochs)) <= 12:  # integer epochs; longer runs keep matplotlib's ticks
        ax.set_xticks(sorted(set(epochs)))
    ax.legend(fontsize=8)
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.14, top=0.9)
    return drawing.save(fig, out)
