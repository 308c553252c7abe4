"""projects.mini_sweep.plot: the kNN-vs-epoch PNG of the curve rows, mean and range over seeds."""
from PIL import Image

from projects.mini_sweep.plot import plot_knn_curves, seed_bands


def test_seed_bands_are_mean_min_max_at_the_epochs_every_seed_has():
    runs = [dict(row='sdae', seed=0, curve=[(0, 50.0, 40.0), (10, 60.0, 70.0), (20, 64.0, 66.0)]),
            dict(row='sdae', seed=1, curve=[(0, 52.0, 44.0), (10, 66.0, 60.0)])]
    assert seed_bands(runs, 1) == [(0, 51.0, 50.0, 52.0, 2), (10, 63.0, 60.0, 66.0, 2)]
    assert seed_bands(runs, 2) == [(0, 42.0, 40.0, 44.0, 2), (10, 65.0, 60.0, 70.0, 2)]


def test_plot_writes_a_png_of_the_curve_rows(tmp_path):
    runs = [dict(row='random', seed=0, curve=[]),
            dict(row='sdae', seed=0, curve=[(0, 50.0, 51.0), (1, 60.0, 61.0), (2, 65.0, 64.0)]),
            dict(row='sdae', seed=1, curve=[(0, 51.0, 50.0), (1, 61.0, 60.0), (2, 66.0, 62.0)]),
            dict(row='mae', seed=0, curve=[(0, 50.0, 51.0), (1, 62.0, 60.0), (2, 66.0, 67.0)])]
    out = tmp_path / 'plots' / 'knn.png'
    assert plot_knn_curves(runs, str(out), 'title', 'kNN top-1 (%)', pixels=80.0)
    assert Image.open(out).size == (768, 504)  # 6.4 x 4.2 inches at 120 dpi
    assert not plot_knn_curves(runs[:1], str(tmp_path / 'none.png'), 'title', 'y')
    assert not (tmp_path / 'none.png').exists()
