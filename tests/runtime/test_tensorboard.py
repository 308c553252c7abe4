"""The TensorBoard switch: MMEngine's TensorboardVisBackend next to the json log."""
import numpy as np
import pytest

from sdae_plugin.runtime.tensorboard import enable_tensorboard, tensorboard_available
from sdae_plugin.visualization import read_scalars, series


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
