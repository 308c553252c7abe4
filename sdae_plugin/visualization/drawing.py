"""Small matplotlib helpers shared by the picture tools (Agg canvas, no pyplot state).

Figures are built at an exact size: a PNG written by :func:`save` is
``round(width_in * dpi) x round(height_in * dpi)`` pixels (no tight bounding box).
"""
import math
from pathlib import Path

import numpy as np

# Distinct colours (RGB 0-255) for teacher folds and attention heads; cycled beyond 12.
PALETTE = (
    (230, 25, 75), (0, 130, 200), (60, 180, 75), (245, 130, 48), (145, 30, 180),
    (70, 240, 240), (240, 50, 230), (210, 245, 60), (0, 128, 128), (170, 110, 40),
    (128, 0, 0), (0, 0, 128),
)


def colour(index: int) -> np.ndarray:
    """Palette colour ``index`` as floats in [0, 1]."""
    return np.asarray(PALETTE[index % len(PALETTE)], dtype=np.float64) / 255


def new_figure(width_in: float, height_in: float, dpi: int):
    """A matplotlib ``Figure`` on an Agg canvas (works without a display)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width_in, height_in), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def save(fig, out: str) -> Path:
    """Write ``fig`` as PNG at its own dpi; returns the path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=fig.dpi, format='png', facecolor='white')
    return out


def display_rgb(image: np.ndarray) -> np.ndarray:
    """uint8 ``(H, W, 1 | 3)`` (colour in BGR, as mmcv reads) -> float RGB ``(H, W, 3)`` in [0, 1]."""
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    else:
        image = image[..., ::-1]
    return image.astype(np.float64) / 255


def upsample(array: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement by an integer factor along the first two axes."""
    return np.repeat(np.repeat(array, factor, axis=0), factor, axis=1)


def display_factor(img_size: int, target: int = 256) -> int:
    """Integer enlargement that brings a small input to about ``target`` pixels."""
    return max(1, math.ceil(target / img_size))


def clean_axes(ax) -> None:
    """No ticks, no frame: pictures only."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
