"""Scalars of MMEngine's json logs, read from a real training run and from resumed runs."""
import json
import re
from pathlib import Path

import numpy as np

from sdae_plugin.visualization import read_scalars, series


def text_log_values(work_dir: Path, key: str) -> list:
    """``key: value`` pairs of MMEngine's text log (4 decimals), in order."""
    text = next(work_dir.glob('*/*.log')).read_text()
    return [float(v) for v in re.findall(rf'\s{key}: ([-0-9.e+]+)', text)]


def test_scalars_of_a_real_training_log(tmp_path, make_runner):
    work_dir = tmp_path / 'run'
    make_runner(work_dir, max_epochs=2, batch_size=2, length=8).train()  # 8 iterations, all logged
    rows = read_scalars(str(work_dir))
    steps, loss = series(rows, 'loss')
    assert steps.tolist() == list(range(1, 9))
    np.testing.assert_allclose(loss, text_log_values(work_dir, 'loss'), atol=6e-5)
    for key in ('lr', 'momentum', 'target_std', 'cosine'):
        assert len(series(rows, key)[0]) == 8, key
    np.testing.assert_allclose(series(rows, 'momentum')[1], text_log_values(work_dir, 'momentum'),
                               atol=6e-5)
    # MMEngine's progress line: ETA and iteration time at every logged iteration
    assert len(re.findall(r'eta: \d+:\d\d:\d\d', next(work_dir.glob('*/*.log')).read_text())) == 8


def test_read_scalars_joins_resumed_runs(tmp_path):
    first, second = tmp_path / '20260101_000000/vis_data', tmp_path / '20260101_010000/vis_data'
    for folder, rows in ((first, [(1, 0.9), (2, 0.8), (3, 0.7)]), (second, [(3, 0.5), (4, 0.4)])):
        folder.mkdir(parents=True)
        lines = [json.dumps(dict(loss=v, iter=i, epoch=1, step=i)) for i, v in rows]
        (folder / 'scalars.json').write_text('\n'.join(lines + ['{"accuracy": 1.0, "step": 1}',
                                                                '{"loss": 0.1, "it']) + '\n')
    steps, loss = series(read_scalars(str(tmp_path)), 'loss')
    assert steps.tolist() == [1, 2, 3, 4] and loss.tolist() == [0.9, 0.8, 0.5, 0.4]
