"""projects.mini_sweep.results: the resumable results.json (including work dirs written
by earlier versions of the sweep) and the metrics read from MMEngine logs."""
import json

import pytest

from projects.mini_sweep import ResultStore, SettingsMismatch, last_metric, make_settings
from projects.mini_sweep.results import stage_seconds


def test_a_work_dir_of_the_same_settings_resumes(tmp_path):
    settings = make_settings(work_dir=str(tmp_path), data_root=str(tmp_path / 'data'))
    # results.json as the sweep writes it for the default options
    old = {'_settings': {'epochs': 6, 'subset': 8192, 'batch_size': 128, 'amp': 'fp32',
                         'eval_amp': 'bf16', 'knn_train': 10000, 'knn_test': 5000,
                         'linear_epochs': 3, 'linear_subset': 8192, 'ft_epochs': 2,
                         'ft_subset': 8192, 'smoke': False, 'monitor_interval': 10,
                         'monitor_bank': None, 'monitor_queries': None, 'device': 'cpu',
                         'data_root': str((tmp_path / 'data').resolve())},
           'knn/pixels': {'rows': [{'top1_pixels': 82.4}], 'wall_s': 30.0},
           'linear/sdae/s0': {'top1': 66.95, 'wall_s': 60.0}}
    path = tmp_path / 'results.json'
    path.write_text(json.dumps(old))
    store = ResultStore(path, settings.resume_key())
    assert 'knn/pixels' in store and store.get('linear/sdae/s0')['top1'] == 66.95
    store.put('ft/sdae/s0', {'top1': 62.9, 'wall_s': 90.0})
    again = json.loads(path.read_text())
    assert again == {**old, 'ft/sdae/s0': {'top1': 62.9, 'wall_s': 90.0}}
    assert not path.with_suffix('.tmp').exists()

    other = make_settings(epochs=8, work_dir=str(tmp_path), data_root=str(tmp_path / 'data'))
    with pytest.raises(SettingsMismatch, match='other settings.*--work-dir'):
        ResultStore(path, other.resume_key())
    # batched pretraining draws other augmentations: not the same results (an option added
    # later than the work dir, so it is only recorded when set)
    batched = make_settings(batched_data=True, work_dir=str(tmp_path),
                            data_root=str(tmp_path / 'data'))
    assert 'batched_data' not in settings.resume_key() and batched.resume_key()['batched_data']
    with pytest.raises(SettingsMismatch):
        ResultStore(path, batched.resume_key())
    # a work dir of the sweep before the kNN monitor and the learning-rate grid (no such keys)
    before = {'_settings': {k: v for k, v in old['_settings'].items()
                            if k not in ('monitor_interval', 'monitor_bank', 'monitor_queries',
                                         'device')}}
    (tmp_path / 'before').mkdir()
    (tmp_path / 'before' / 'results.json').write_text(json.dumps(before))
    with pytest.raises(SettingsMismatch):
        ResultStore(tmp_path / 'before' / 'results.json', settings.resume_key())
    # a dry run reads nothing and writes nothing
    assert ResultStore(path, other.resume_key(), load=False).get('knn/pixels') is None


def test_stage_seconds_sums_per_kind_of_stage():
    results = {'_settings': {}, 'pretrain/sdae/s0': {'wall_s': 120.0},
               'knn/pixels': {'rows': [], 'wall_s': 30.0}, 'pretrain/mae/s0': {'wall_s': 60.0},
               'pretrain/random/s0': {'wall_s': 0.0}, 'extract/sdae/s0': {'wall_s': None}}
    assert stage_seconds(results) == {'pretrain': 180.0, 'knn': 30.0}


def test_last_metric(tmp_path):
    log = tmp_path / 'run' / '20260101_000000' / 'vis_data'
    log.mkdir(parents=True)
    log.joinpath('scalars.json').write_text('{"loss": 1.0, "step": 1}\n'
                                            '{"accuracy/top1": 80.0, "step": 2}\n'
                                            '{"accuracy/top1": 81.234, "step": 3}\n')
    assert last_metric(tmp_path / 'run', 'accuracy/top1') == 81.23
    with pytest.raises(RuntimeError, match="no 'missing'"):
        last_metric(tmp_path / 'run', 'missing')
