"""The GPU script's suite: largest-batch search, options, and a CPU run against a stand-in."""
import json

import pytest

from projects.benchmark import suite
from projects.benchmark.suite import SuiteOptions, largest_batch, run_suite, suite_markdown


@pytest.mark.parametrize('limit,cap', [(1000, None), (96, None), (150, None), (1000, 400),
                                       (5000, None)])
def test_largest_batch_finds_the_limit_within_a_sixteenth(limit, cap):
    tried = []

    def fits(batch):
        tried.append(batch)
        return batch <= limit

    found = largest_batch(fits, 96, cap)
    best = min(limit, cap or limit)
    assert found <= best and found >= best - max(8, best // 16)
    assert len(tried) <= 16


def test_largest_batch_refuses_a_start_that_does_not_fit():
    with pytest.raises(RuntimeError, match='Not even batch 96'):
        largest_batch(lambda batch: False, 96)


def test_cpu_suite_needs_a_search_cap():
    with pytest.raises(ValueError, match='--max-batch'):
        SuiteOptions(released_code='x', device='cpu')
    SuiteOptions(released_code='x', device='cpu', largest_steps=0)


@pytest.mark.slow
def test_suite_runs_on_the_cpu_against_a_stand_in(tmp_path, released_standin, monkeypatch):
    """The wiring of check, rows, search and report (the compiled row left out: its
    compilation is tested in tests/models/algorithms/test_sdae.py)."""
    monkeypatch.setattr(suite, 'SUITE_ROWS', ['mae', 'sdae_multi_fold_fused', 'released'])
    monkeypatch.setattr(suite, 'LARGEST_ROWS', ['sdae_multi_fold_fused', 'released'])
    checkout, timm_dir = released_standin(tmp_path)
    report = run_suite(SuiteOptions(
        released_code=checkout, released_timm=timm_dir, device='cpu', arch='small',
        img_size=64, batch=2, amp='none', steps=2, warmup=1, check_batch=2, max_batch=4,
        largest_steps=2))
    json.dumps(report)
    assert report['check']['ok'] and report['check']['device'] == 'cpu'
    assert [r['row'] for r in report['at_batch']['results']] == [
        'mae', 'sdae_multi_fold_fused', 'released']
    assert report['largest_batch'] == report['timed_batch'] == 4
    assert report['at_largest']['args']['batch'] == 4
    text = suite_markdown(report)
    assert 'Check on cpu' in text and '## Batch 4' in text and 'ours / released' in text
