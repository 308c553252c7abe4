"""Logging: tools/plot_log.py on a log written by a real training run, MMEngine's ETA line, the
TensorBoard switch, and the progress bars."""
import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sdae_plugin.visualization import (enable_tensorboard, progress, read_scalars, series,
                                       tensorboard_available)
from sdae_plugin.visualization import drawing

ROOT = Path(__file__).resolve().parents[2]


def load_tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / f'tools/{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def text_log_values(work_dir: Path, key: str) -> list:
    """``key: value`` pairs of MMEngine's text log (4 decimals), in order."""
    text = next(work_dir.glob('*/*.log')).read_text()
    return [float(v) for v in re.findall(rf'\s{key}: ([-0-9.e+]+)', text)]


def test_plot_log_reads_a_real_training_log(tmp_path, make_runner):
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

    tool = load_tool('plot_log')
    out = tmp_path / 'log.png'
    assert tool.main([str(work_dir), '--out', str(out)]) == 0
    image = Image.open(out)
    assert image.size == drawing.png_size(*tool.figure_size(4), 100)
    pixels = np.asarray(image.convert('RGB'))
    assert ((np.abs(pixels.astype(int) - drawing.PALETTE[0]).max(-1)) <= 10).sum() > 200  # curves

    # two runs compared, five panels, smoothing
    out2 = tmp_path / 'log2.png'
    assert tool.main([str(work_dir), str(next(work_dir.glob('*/vis_data/scalars.json'))),
                      '--keys', 'loss', 'cosine', 'lr', 'momentum', 'target_std', '--smooth',
                      '3', '--labels', 'a', 'b', '--out', str(out2), '--dpi', '60']) == 0
    assert Image.open(out2).size == drawing.png_size(*tool.figure_size(5), 60)


def test_read_scalars_joins_resumed_runs(tmp_path):
    first, second = tmp_path / '20260101_000000/vis_data', tmp_path / '20260101_010000/vis_data'
    for folder, rows in ((first, [(1, 0.9), (2, 0.8), (3, 0.7)]), (second, [(3, 0.5), (4, 0.4)])):
        folder.mkdir(parents=True)
        lines = [json.dumps(dict(loss=v, iter=i, epoch=1, step=i)) for i, v in rows]
        (folder / 'scalars.json').write_text('\n'.join(lines + ['{"accuracy": 1.0, "step": 1}',
                                                                '{"loss": 0.1, "it']) + '\n')
    steps, loss = series(read_scalars(str(tmp_path)), 'loss')
    assert steps.tolist() == [1, 2, 3, 4] and loss.tolist() == [0.9, 0.8, 0.5, 0.4]


def test_smooth_is_a_trailing_mean():
    tool = load_tool('plot_log')
    np.testing.assert_allclose(tool.smooth(np.array([1., 3., 5., 7.]), 2), [1, 2, 4, 6])


def test_enable_tensorboard_adds_the_backend_and_keeps_the_json_log():
    cfg = dict(visualizer=dict(type='UniversalVisualizer',
                               vis_backends=[dict(type='LocalVisBackend')]))
    enable_tensorboard(cfg, check=False)
    enable_tensorboard(cfg, check=False)  # idempotent
    assert cfg['visualizer'] == dict(
        type='UniversalVisualizer',
        vis_backends=[dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])


def test_enable_tensorboard_says_how_to_install(monkeypatch):
    import importlib.util as util
    real = util.find_spec
    monkeypatch.setattr(util, 'find_spec',
                        lambda name, *a: None if name == 'tensorboard' else real(name, *a))
    with pytest.raises(ImportError, match='pip install tensorboard'):
        enable_tensorboard({})


@pytest.mark.skipif(not tensorboard_available(), reason='tensorboard is optional')
def test_tensorboard_backend_writes_events_during_training(tmp_path, make_runner):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    cfg = enable_tensorboard(dict(visualizer=dict(
        type='UniversalVisualizer', vis_backends=[dict(type='LocalVisBackend')])))
    work_dir = tmp_path / 'tb'
    make_runner(work_dir, max_epochs=1, batch_size=2, length=6, visualizer=cfg['visualizer']).train()
    events, = work_dir.glob('*/vis_data/events.out.tfevents.*')
    accumulator = EventAccumulator(str(events))
    accumulator.Reload()
    assert {'loss', 'lr', 'target_std'} <= set(accumulator.Tags()['scalars'])
    logged = [e.value for e in accumulator.Scalars('loss')]
    _, loss = series(read_scalars(str(work_dir)), 'loss')  # the json log is still written
    np.testing.assert_allclose(logged, loss, rtol=1e-6)


def test_progress_draws_a_bar_when_asked(capsys):
    assert list(progress(range(3), 'work', enable=True)) == [0, 1, 2]
    assert 'work' in capsys.readouterr().err
    assert list(progress(range(3), 'quiet', enable=False)) == [0, 1, 2]
    assert 'quiet' not in capsys.readouterr().err
