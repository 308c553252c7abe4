"""SIGKILL during a checkpoint write, then `tools/train.py --resume` (auto): the previous
checkpoint survives, training continues from it, and the result is bit-identical to a run that
was never interrupted (student, teacher, optimizer, LR schedule, EMA momentum)."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / 'configs/sdae_vit-tiny_fashion-mnist_demo.py'

# Imported at start-up as sitecustomize (PYTHONPATH) into the training process: the write of any
# file whose name contains $CRASH_ON stops half-way (bytes on disk, fsync-ed), signals the test
# and hangs until it is killed.
CRASH_MODULE = '''
import os, time
from mmengine.fileio import LocalBackend
_put = LocalBackend.put
def put(self, obj, filepath):
    if os.environ['CRASH_ON'] in os.path.basename(str(filepath)):
        with open(filepath, 'wb') as f:
            f.write(obj[:len(obj) // 2]); f.flush(); os.fsync(f.fileno())
        open(os.environ['CRASH_MARKER'], 'w').close()
        time.sleep(600)
    return _put(self, obj, filepath)
LocalBackend.put = put
'''




def command(work_dir: Path, data_options: list, *extra: str) -> list:
    return [sys.executable, str(ROOT / 'tools/train.py'), str(DEMO), '--work-dir', str(work_dir),
            *extra, '--cfg-options', *data_options, 'train_dataloader.batch_size=16',
            'train_dataloader.num_workers=0', 'train_cfg.max_epochs=3',
            'model.backbone.arch.num_layers=2', 'model.neck.decoder_depth=1',
            'default_hooks.logger.interval=1', 'default_hooks.checkpoint.max_keep_ckpts=1']


# Resume must work without torch's global unsafe-load switch.
CLEAN_ENV = {k: v for k, v in os.environ.items() if k != 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'}


def run(cmd: list) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600,
                            env=CLEAN_ENV)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result




@pytest.mark.slow
def test_sigkill_during_save_then_resume_auto_is_exact(tmp_path, demo_data, identical):
    data = demo_data(tmp_path / 'fashion_mnist')
    (tmp_path / 'crash').mkdir()
    (tmp_path / 'crash' / 'sitecustomize.py').write_text(CRASH_MODULE)
    marker = tmp_path / 'writing'
    path = f'{tmp_path / "crash"}{os.pathsep}{os.environ.get("PYTHONPATH", "")}'
    env = dict(CLEAN_ENV, PYTHONPATH=path, CRASH_ON='epoch_2', CRASH_MARKER=str(marker))

    work = tmp_path / 'crashed'
    proc = subprocess.Popen(command(work, data), cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 400
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, 'the run never reached the epoch 2 save'
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)  # killed while epoch_2's bytes are being written
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    # The half-written file is a temp file; epoch_1.pth is complete and last_checkpoint names it.
    partial = [p for p in work.iterdir() if p.name.startswith('.epoch_2.pth.tmp-')]
    assert len(partial) == 1 and partial[0].stat().st_size > 0
    assert not (work / 'epoch_2.pth').exists()
    assert (work / 'last_checkpoint').read_text() == str(work / 'epoch_1.pth')
    assert torch.load(work / 'epoch_1.pth', weights_only=True)['meta']['epoch'] == 1

    out = run(command(work, data, '--resume'))  # `--resume` alone means auto
    log = out.stdout + out.stderr
    assert f'Auto resumed from the latest checkpoint {work / "epoch_1.pth"}' in log
    assert 'resumed epoch: 1' in log
    assert not [p for p in work.iterdir() if '.tmp-' in p.name]
    assert sorted(p.name for p in work.glob('*.pth')) == ['epoch_3.pth']

    # An uninterrupted run of the same config ends in the same state, bit for bit.
    straight = tmp_path / 'straight'
    run(command(straight, data))
    for ckpt in (straight / 'epoch_3.pth', work / 'epoch_3.pth'):  # no unsafe global needed
        assert torch.serialization.get_unsafe_globals_in_checkpoint(str(ckpt)) == []
    a = torch.load(straight / 'epoch_3.pth', weights_only=True)
    b = torch.load(work / 'epoch_3.pth', weights_only=True)
    assert any(k.startswith('teacher.') for k in a['state_dict'])
    for key in ('state_dict', 'optimizer', 'param_schedulers'):
        identical(a[key], b[key], key)
    for key in ('train/lr', 'train/momentum', 'train/loss'):  # last logged values
        last_a, last_b = (c['message_hub']['log_scalars'][key]['__history_buffer__']
                          ['log_history'][-1] for c in (a, b))
        identical(last_a, last_b, key)
