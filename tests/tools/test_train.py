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




def train(work_dir: Path, data_options: list, *extra: str,
          epochs: int = 3) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(ROOT / 'tools/train.py'), str(DEMO), '--work-dir', str(work_dir),
           *extra, '--cfg-options', *data_options, 'train_dataloader.batch_size=16',
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


def final_lines(result: subprocess.CompletedProcess, count: int) -> list:
    """The last lines the run printed, without MMEngine's time-and-level prefix."""
    lines = (result.stdout + result.stderr).rstrip().splitlines()[-count:]
    return [line.split(' - INFO - ')[-1] for line in lines]


def knn_logged(work_dir: Path) -> dict:
    """``{step: (cls, mean)}`` of the monitor's json rows."""
    rows = [json.loads(line) for log in sorted(work_dir.glob('*/vis_data/scalars.json'))
            for line in log.read_text().splitlines()]
    return {row['step']: (row['knn/top1_cls'], row['knn/top1_mean'])
            for row in rows if 'knn/top1_cls' in row}


@pytest.mark.slow
def test_demo_trains_checkpoints_and_resumes(tmp_path, demo_data):
    data = demo_data(tmp_path / 'fashion_mnist')
    run = tmp_path / 'run'
    out = train(run, data)

    # It ends with the kNN monitor's summary: the last epoch beside the random init (both as
    # logged), the raw pixels, the monitor's time, the checkpoint and the curve picture.
    knn = knn_logged(run)
    # 48 images / batch 16: 3 iterations per epoch; before training, every second epoch, the last
    assert sorted(knn) == [0, 6, 9]
    (cls3, mean3), (cls0, mean0) = knn[9], knn[0]
    summary = final_lines(out, 7)
    assert summary[0] == ('kNN top-1 of the student encoder: 48 queries, memory bank of 48 '
                          '(k=20, T=0.07; cls token, mean of the patch tokens)')
    assert summary[1] == f'  after epoch 3              cls {cls3:6.2f} %   mean {mean3:6.2f} %'
    assert summary[2] == f'  random initialization      cls {cls0:6.2f} %   mean {mean0:6.2f} %'
    assert summary[3].startswith('  raw pixels                 ')
    assert summary[4].startswith('kNN monitor time: ') and '% of the' in summary[4]
    assert summary[5:] == [f'Checkpoint: {run / "epoch_3.pth"}',
                           f'kNN curve:  {run / "knn_curve.png"}']
    assert (run / 'knn_curve.png').read_bytes()[:4] == b'\x89PNG'
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
    # the floor measured by the first run came with the checkpoint
    assert f'  random initialization      cls {cls0:6.2f} %' in '\n'.join(final_lines(out, 7))
    teacher_2 = state(run / 'epoch_2.pth', 'teacher.')
    teacher_3 = state(resumed / 'epoch_3.pth', 'teacher.')
    student_3 = state(resumed / 'epoch_3.pth', 'backbone.')
    m = momentum(2)
    for key in teacher_3:
        torch.testing.assert_close(teacher_3[key], m * teacher_2[key] + (1 - m) * student_3[key])
    epochs = {round(v, 6) for e, v in logged(resumed, 'momentum')}
    assert epochs == {round(momentum(2), 6)}


@pytest.mark.slow
def test_compile_flag_trains_with_the_compiled_loss(tmp_path, demo_data):
    data = demo_data(tmp_path / 'fashion_mnist')
    run = tmp_path / 'run'
    out = train(run, data, '--compile', epochs=1)
    dumped, = run.glob('*/vis_data/config.py')
    assert 'compile_loss=True' in dumped.read_text()
    losses = [v for _, v in logged(run, 'loss')]
    assert len(losses) == 3 and all(math.isfinite(v) for v in losses)
    assert 'Traceback' not in out.stderr
