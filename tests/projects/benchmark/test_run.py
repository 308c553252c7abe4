"""projects.benchmark: smoke runs through the tool (Table 1 rows; our fast rows beside the
released code's, from a stand-in), ratios per round, and the FLOP model."""
import json
import subprocess
import sys

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from projects.benchmark import ROWS, BenchmarkOptions, build, shape_of, train_step_flops
from projects.benchmark.rows import PEER_ROWS
from projects.benchmark.run import add_released_ratios, table
from tests.conftest import ROOT


@pytest.mark.slow
def test_tool_writes_every_row(tmp_path):
    out = tmp_path / 'results.json'
    proc = subprocess.run(
        [sys.executable, 'tools/benchmark.py', '--arch', 'tiny', '--steps', '2', '--warmup', '1',
         '--batch', '2', '--img-size', '128', '--profile', '--out', str(out)],
        cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert [r['row'] for r in report['results']] == [r for r in ROWS if r not in PEER_ROWS]
    for row in report['results']:
        assert row['median_s'] > 0 and row['flops'] > 0 and row['peak_mem_bytes'] > 0
        assert len(row['times_s']) == 2
        assert ('ema_update_s' in row) == (row['row'] != 'mae')
    parts, = [r['parts_s'] for r in report['results'] if 'parts_s' in r]
    assert list(parts) == ['teacher targets (no grad)', 'student (encoder+decoder) fwd+bwd',
                           'whole loss fwd+bwd', 'optimizer step', 'EMA update (once per epoch)']
    assert all(v > 0 for v in parts.values())
    assert report['gemm_flops_per_s'] > 0
    assert '| sdae_multi_fold |' in proc.stdout and 'Parts of one sdae_multi_fold' in proc.stdout


@pytest.mark.parametrize('row', ['mae', 'sdae_multi_fold', 'sdae_full_image', 'sdae_lite'])
def test_analytic_flops_match_torch_flop_counter(row):
    """The FLOP model counts what torch's counter sees in one forward + backward.

    On the CPU the counter does not see inside the fused attention kernel, so the attention
    products are left out of both sides here.
    """
    model = build(row, 'tiny', 128)
    images = torch.randn(2, 3, 128, 128)
    with FlopCounterMode(display=False) as counter:
        model.loss(images, None)['loss'].backward()
    shape, visible, views, view_len = shape_of(model)
    analytic = train_step_flops(shape, 2, visible, views, view_len, attention=False)
    assert analytic == pytest.approx(counter.get_total_flops(), rel=1e-3)
    assert train_step_flops(shape, 2, visible, views, view_len) > analytic


def test_default_rows_leave_out_the_bf16_teacher_row_under_autocast():
    assert 'sdae_multi_fold_teacher_bf16' in BenchmarkOptions().rows
    assert BenchmarkOptions(amp='bf16').rows == [
        r for r in ROWS if r != 'sdae_multi_fold_teacher_bf16' and r not in PEER_ROWS]
    assert BenchmarkOptions(amp='bf16', rows=['mae']).rows == ['mae']
    assert BenchmarkOptions(released_code='x').rows[-1] == 'released'
    with pytest.raises(ValueError, match='--released-code'):
        BenchmarkOptions(rows=['released'])


@pytest.mark.slow
def test_tool_times_our_fast_row_beside_the_released_code(tmp_path, released_standin):
    checkout, timm_dir = released_standin(tmp_path)
    out = tmp_path / 'results.json'
    proc = subprocess.run(
        [sys.executable, 'tools/benchmark.py', '--arch', 'small', '--img-size', '64', '--batch',
         '2', '--steps', '3', '--warmup', '1', '--rows', 'sdae_multi_fold_fused', 'released',
         '--released-code', checkout, '--released-timm', timm_dir, '--out', str(out)],
        cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    ours, released = report['results']
    assert released['row'] == 'released' and released['flops'] > 0
    assert 'ema_update_s' in ours and 'ema_update_s' not in released
    assert len(ours['vs_released']['per_round']) == 3
    assert released['vs_released']['median'] == 1.0
    assert report['compiled_graphs_while_timed'] == 0
    assert 'ours / released' in proc.stdout


def test_released_ratios_are_per_round():
    results = [dict(row='ours', times_s=[1.0, 4.0, 3.0]),
               dict(row='released', times_s=[2.0, 2.0, 2.0])]
    add_released_ratios(results)
    assert results[0]['vs_released'] == dict(median=1.5, min=0.5, max=2.0,
                                             per_round=[0.5, 2.0, 1.5])
    plain = [dict(row='ours', times_s=[1.0])]
    add_released_ratios(plain)
    assert 'vs_released' not in plain[0]


def test_table_has_the_released_column_only_with_the_released_row():
    row = dict(row='x', median_s=1., min_s=1., max_s=1., peak_mem_bytes=2**30, flops=1e9,
               flops_per_s=1e9)
    report = dict(results=[dict(row, row='released', times_s=[1.])], gemm_flops_per_s=1e10)
    add_released_ratios(report['results'])
    assert 'ours / released' in table(report) and '1.000 (1.000–1.000)' in table(report)
    assert 'ours / released' not in table(dict(report, results=[row]))
