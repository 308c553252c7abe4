"""tools/train.py on the demo config: trains, checkpoints, resumes with teacher and EMA intact;
--compile trains with the compiled loss."""
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / 'configs/sdae_vit-tiny_fashion-mnist_demo.py'




def train(work_dir: Path, data: Path, *extra: str, epochs: int = 3) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(ROOT / 'tools/train.py'), str(DEMO), '--work-dir', str(work_dir),
           *extra, '--cfg-options', f'train_dataloader.dataset.data_root={data}',
           'train_dataloader.dataset.indices=None', 'train_dataloader.batch_size=16',
           'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
           f'train_cfg.max_epochs={epochs}', 'default_hooks.logger.interval=1',
           'default_hooks.checkpoint.max_keep_ckpts=3']
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def state(path: Path, prefix: str) -> dict:
    sd = torch.load(path, weights_only=True)['state_dict']  # loads without any unsafe switch
    return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}


def momentum(epoch: int, total: int = 3) -> float:
    return 0.99 + 0.5 * (0.96 - 0.99) * (1 + math.cos(math.pi * epoch / total))


def logged(work_dir: Path, key: str) -> list:
    logs = sorted(work_dir.glob('*/vis_data/scalars.json'))
    rows = [json.loads(line) for log in logs for line in log.read_text().splitlines()]
    return [(row['epoch'], row[key]) for row in rows if key in row]


@pytest.mark.slow
def test_demo_trains_checkpoints_and_resumes(tmp_path, fashion_idx):
    data = tmp_path / 'fashion_mnist'
    fashion_idx(data)
    run = tmp_path / 'run'
    train(run, data)
    assert {'epoch_1.pth', 'epoch_2.pth', 'epoch_3.pth'} <= {p.name for p in run.iterdir()}

    # Each epoch ended with one EMA step: teacher_e = m * teacher_{e-1} + (1 - m) * student_e.
    for epoch in (2, 3):
        before = state(run / f'epoch_{epoch - 1}.pth', 'teacher.')
        after = state(run / f'epoch_{epoch}.pth', 'teacher.')
        student = state(run / f'epoch_{epoch}.pth', 'backbone.')
        m = momentum(epoch - 1)
        for key in after:
            torch.testing.assert_close(after[key], m * before[key] + (1 - m) * student[key])
    assert [round(v, 6) for _, v in logged(run, 'momentum')][:1] == [round(momentum(0), 6)]

    # Resume from epoch 2 in a fresh work dir: the loaded teacher is the saved one, the schedule
    # continues at epoch index 2, and the last epoch's EMA starts from the checkpoint's teacher.
    resumed = tmp_path / 'resumed'
    out = train(resumed, data, '--resume', str(run / 'epoch_2.pth'))
    assert 'resumed epoch: 2' in (out.stdout + out.stderr)
    teacher_2 = state(run / 'epoch_2.pth', 'teacher.')
    teacher_3 = state(resumed / 'epoch_3.pth', 'teacher.')
    student_3 = state(resumed / 'epoch_3.pth', 'backbone.')
    m = momentum(2)
    for key in teacher_3:
        torch.testing.assert_close(teacher_3[key], m * teacher_2[key] + (1 - m) * student_3[key])
    epochs = {round(v, 6) for e, v in logged(resumed, 'momentum')}
    assert epochs == {round(momentum(2), 6)}


@pytest.mark.slow
def test_compile_flag_trains_with_the_compiled_loss(tmp_path, fashion_idx):
    data = tmp_path / 'fashion_mnist'
    fashion_idx(data)
    run = tmp_path / 'run'
    out = train(run, data, '--compile', epochs=1)
    dumped, = run.glob('*/vis_data/config.py')
    assert 'compile_loss=True' in dumped.read_text()
    losses = [v for _, v in logged(run, 'loss')]
    assert len(losses) == 3 and all(math.isfinite(v) for v in losses)
    assert 'Traceback' not in out.stderr
