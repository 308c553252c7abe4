"""sdae_plugin.experiments.plot: the kNN-vs-epoch PNG of the curve rows."""
from PIL import Image

from sdae_plugin.experiments.plot import plot_knn_curves


def test_plot_writes_a_png_of_the_curve_rows(tmp_path):
    runs = [dict(row='random', seed=0, curve=[]),
            dict(row='sdae', seed=0, curve=[(1, 60.0, 61.0), (2, 65.0, 64.0)]),
            dict(row='mae', seed=0, curve=[(1, 62.0, 60.0), (2, 66.0, 67.0)])]
    out = tmp_path / 'plots' / 'knn.png'
    assert plot_knn_curves(runs, str(out), 'title', 'kNN top-1 (%)', floor=40.0,
                           floor_mean=41.0, pixels=80.0)
    assert Image.open(out).size == (768, 504)  # 6.4 x 4.2 inches at 120 dpi
    assert not plot_knn_curves(runs[:1], str(tmp_path / 'none.png'), 'title', 'y')
    assert not (tmp_path / 'none.png').exists()
