"""projects.mini_sweep.settings: defaults, presets and the errors on bad options."""
from pathlib import Path

import pytest

from projects.mini_sweep import PRESETS, ROWS, SweepInputError, make_settings


def test_defaults_and_the_floor_row():
    settings = make_settings(rows=['sdae', 'mae'])
    assert settings.rows == ['random', 'sdae', 'mae']  # the floor is always in
    assert settings.linear_rows == ['sdae', 'mae']  # default: the rows as given
    assert settings.ft_rows == ['random', 'sdae', 'mae']
    assert settings.plot.endswith('docs/results_mini_short_knn.png')
    assert Path(settings.plot).is_absolute()
    assert Path(settings.work_dir).is_absolute() and Path(settings.data_root).is_absolute()
    assert (settings.amp, settings.eval_amp) == ('fp32', 'bf16')
    assert settings.seeds_of('sdae') == [0, 1] and settings.seeds_of('no-target-norm') == [0]
    assert settings.lrs is None and settings.tune_rows == ['sdae', 'mae']
    assert make_settings().rows == list(ROWS)
    assert make_settings(out='x/r.md').plot.endswith('x/r_knn.png')


def test_a_preset_gives_defaults_that_options_override():
    assert make_settings(preset='smoke', epochs=20).epochs == 20
    smoke = make_settings(preset='smoke', work_dir='/tmp/w')
    assert smoke.epochs == 2 and smoke.seeds == [0] and smoke.smoke
    assert set(smoke.ft_rows) == set(smoke.rows) == set(smoke.linear_rows) == \
        {'random', 'sdae', 'mae'}
    assert (smoke.amp, smoke.eval_amp, smoke.threads) == ('fp32', 'fp32', 1)
    assert smoke.work_dir == '/tmp/w'  # given: over the preset's (none here)
    assert smoke.resume_key()['smoke'] is True
    assert set(PRESETS['smoke']) < set(vars(smoke))


@pytest.mark.parametrize('options,message', [
    (dict(epochs=1), '--epochs and --ft-epochs must be >= 2'),
    (dict(ft_epochs=1), '--epochs and --ft-epochs must be >= 2'),
    (dict(linear_epochs=0), '--linear-epochs >= 1'),
    (dict(rows=['sdae', 'byol']), r"rows: unknown rows \['byol'\]"),
    (dict(curve_rows=['nope']), 'curve_rows: unknown rows'),
    (dict(tune_rows=['nope']), 'tune_rows: unknown rows'),
    (dict(lrs=[1e-3, 0.0]), 'lrs must be positive'),
    (dict(lrs=[]), 'lrs must be positive'),
    (dict(monitor_interval=0), 'monitor_interval must be >= 1'),
    (dict(monitor_queries=[10, 5]), r'monitor_queries is \[start, stop\)'),
    (dict(device='tpu'), 'device must be one of'),
    (dict(amp='fp16'), "amp must be one of"),
    (dict(seeds=[]), 'at least one seed'),
    (dict(jobs=0), 'jobs must be >= 1'),
    (dict(preset='huge'), "unknown preset 'huge'"),
    (dict(epoch=3), r"unknown sweep options \['epoch'\]"),
])
def test_bad_options_say_what_to_change(options, message):
    with pytest.raises(SweepInputError, match=message):
        make_settings(**options)
