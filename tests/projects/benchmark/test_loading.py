"""tools/benchmark_loading.py: both ways timed on the same config, the table printed."""
import json

from projects.benchmark.loading import WAYS, loading_table, measure_loading
from tests.conftest import ROOT


def pretrain_config(tmp_path, fashion_idx):
    """The mini SdAE config on a tiny Fashion-MNIST-format set."""
    fashion_idx(tmp_path / 'data', 64)
    config = tmp_path / 'pretrain.py'
    config.write_text(f"_base_ = '{ROOT}/configs/mini/sdae_vit-mini_fashion-mnist.py'\n"
                      'train_dataloader = dict(dataset=dict('
                      f"data_root='{tmp_path / 'data'}', indices=None))\n")
    return config


def test_both_ways_are_timed_side_by_side(tmp_path, fashion_idx):
    config = pretrain_config(tmp_path, fashion_idx)
    result = measure_loading(str(config), batch_size=16, batches=2, rounds=3)
    assert [r['way'] for r in result['rows']] == list(WAYS)
    assert len(result['speedups']) == 3 and all(s > 0 for s in result['speedups'])
    assert all(r['ms_per_batch'] > 0 for r in result['rows'])
    table = loading_table(result)
    assert '| per image |' in table and '| batched |' in table and 'per image / batched' in table


def test_the_tool_writes_json(tmp_path, fashion_idx, run_tool):
    config = pretrain_config(tmp_path, fashion_idx)
    out = tmp_path / 'loading.json'
    result = run_tool('benchmark_loading', config, '--batch', 16, '--batches', 1, '--rounds', 2,
                      '--out', out)
    assert 'per image / batched' in result.stdout
    assert json.loads(out.read_text())['batch_size'] == 16
