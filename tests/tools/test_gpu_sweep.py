"""tools/gpu_sweep.sh as a GPU session would run it, on the CPU at CI size: wheels only where
missing, the data from gzipped idx files, the sweep with pretraining batches augmented on the
device and two stages at a time, and what comes back in OUT."""
import gzip
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_gpu_sweep_script_on_the_cpu(tmp_path, fashion_idx):
    fashion_idx(tmp_path / 'idx', num=48)
    carried = tmp_path / 'carried'  # as a session carries them: gzipped
    carried.mkdir()
    for idx in (tmp_path / 'idx').iterdir():
        (carried / f'{idx.name}.gz').write_bytes(gzip.compress(idx.read_bytes()))
    (tmp_path / 'wheels').mkdir()  # this Python has the stack: nothing is installed
    out, data = tmp_path / 'out', tmp_path / 'data'
    env = dict(os.environ, PYTHON=sys.executable, WORK=str(tmp_path / 'work'),
               DATA_ROOT=str(data))
    cmd = ['bash', 'tools/gpu_sweep.sh', '--wheels', str(tmp_path / 'wheels'), '--data',
           str(carried), '--out-dir', str(out),
           # the gpu preset's ways of running, at the smoke preset's size
           '--smoke', '--rows', 'sdae', '--batched-data', '--jobs', '2']
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert 'installing' not in result.stdout and 'results in' in result.stdout
    for idx in (tmp_path / 'idx').iterdir():
        assert (data / idx.name).read_bytes() == idx.read_bytes()
    assert sorted(p.name for p in out.iterdir()) == [
        'logs.tar.gz', 'results.json', 'results_mini_gpu.md', 'results_mini_gpu_knn.png']

    report = (out / 'results_mini_gpu.md').read_text()
    assert 'a batch at a time on the device (`BatchedFashionMNIST`' in report
    assert 'Stages ran 2 at a time (`--jobs`)' in report
    results = json.loads((out / 'results.json').read_text())
    assert results['_settings']['batched_data'] is True
    lr = results['tune/sdae']['lr']
    assert set(results['tune/sdae']['scores']) == {'0.001', '0.002'}
    for key in (f'pretrain/sdae/s0/lr{lr:g}', f'knn/sdae/s0/lr{lr:g}',
                f'linear/sdae/s0/lr{lr:g}', f'ft/sdae/s0/lr{lr:g}', 'knn/random/s0'):
        assert key in results, key
    # both grid runs trained a batch at a time (the configs their runs dumped say so)
    for rate in ('0.001', '0.002'):
        dumped = tmp_path / 'work' / f'sdae_s0_lr{rate}' / 'sdae_vit-mini_fashion-mnist.py'
        assert "type='BatchedFashionMNIST'" in dumped.read_text()
    with tarfile.open(out / 'logs.tar.gz') as logs:
        assert any('pretrain_sdae_s0_lr0.001' in name for name in logs.getnames())
    # the commands are listed in the order of a one-at-a-time sweep: the grid first
    commands = report.split('## Commands')[1]
    assert commands.index('lr=0.001') < commands.index('lr=0.002') < \
        commands.index('tools/extract_backbone.py')
