"""plot_logs: curves of real logs, one panel per key, several logs compared."""
import json

import numpy as np
import pytest
from PIL import Image

from sdae_plugin.visualization import drawing, plot_logs
from sdae_plugin.visualization.log_figure import figure_size, smooth


def write_log(folder, rows) -> None:
    folder.mkdir(parents=True)
    lines = [json.dumps(dict(loss=v, momentum=0.99, iter=i, epoch=1, step=i)) for i, v in rows]
    (folder / 'scalars.json').write_text('\n'.join(lines) + '\n')


def test_smooth_is_a_trailing_mean():
    np.testing.assert_allclose(smooth(np.array([1., 3., 5., 7.]), 2), [1, 2, 4, 6])
    np.testing.assert_allclose(smooth(np.array([1., 3.]), 1), [1, 3])


def test_curves_of_one_and_two_logs(tmp_path, png_size):
    write_log(tmp_path / 'a/20260101_000000/vis_data', [(i, 1 / i) for i in range(1, 60)])
    out, summaries = plot_logs([str(tmp_path / 'a')], out=str(tmp_path / 'log.png'))
    image = Image.open(out)
    assert image.size == png_size(*figure_size(4), 100)
    pixels = np.asarray(image.convert('RGB'))
    assert ((np.abs(pixels.astype(int) - drawing.PALETTE[0]).max(-1)) <= 10).sum() > 200  # curves
    assert summaries == [f'{tmp_path / "a"}: 59 training rows up to iteration 59; keys found: '
                         'loss, momentum']

    write_log(tmp_path / 'b/vis_data', [(i, 2 / i) for i in range(1, 30)])
    out2, _ = plot_logs([str(tmp_path / 'a'), str(tmp_path / 'b/vis_data/scalars.json')],
                        keys=['loss', 'cosine', 'lr', 'momentum', 'target_std'], labels=['a', 'b'],
                        window=3, out=str(tmp_path / 'log2.png'), dpi=60)
    pixels = np.asarray(Image.open(out2).convert('RGB'))
    assert pixels.shape[1::-1] == png_size(*figure_size(5), 60)
    assert ((np.abs(pixels.astype(int) - drawing.PALETTE[1]).max(-1)) <= 10).sum() > 50  # run b
    with pytest.raises(ValueError, match='one label per log'):
        plot_logs([str(tmp_path / 'a')], labels=['x', 'y'])
