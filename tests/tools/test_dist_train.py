"""tools/dist_train.sh with 2 CPU processes (gloo): the teacher is bit-identical on both ranks
after every EMA update, masks differ across ranks but are reproducible from (seed + rank,
iteration), and --auto-scale-lr scales the LR by the effective batch (2 x 8 = 16 of 128)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sdae_plugin.runtime import derive_seed
from sdae_plugin.models.utils.masking import MultiFoldMaskGenerator

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / 'configs/sdae_vit-tiny_fashion-mnist_demo.py'

# Loaded at start-up (sitecustomize on PYTHONPATH) in both training processes: records every
# mask draw and, after every EMA update, gathers a checksum of the teacher from all ranks.
PROBE = '''
import hashlib, json, os
import torch
import torch.distributed as dist
import sdae_plugin
from sdae_plugin.hooks import TeacherEMAHook
from sdae_plugin.models.utils.masking import MultiFoldMaskGenerator

OUT = os.environ['PROBE_DIR']
RANK = os.environ.get('RANK', '0')
_call, _update = MultiFoldMaskGenerator.__call__, TeacherEMAHook.after_train_epoch
masks = []

def call(self, batch_size, device):
    plan = _call(self, batch_size, device)
    masks.append(plan.ids_keep.clone())
    torch.save(masks, os.path.join(OUT, f'masks_rank{RANK}.pt'))
    return plan

def after_train_epoch(self, runner):
    _update(self, runner)
    teacher = self._model(runner).teacher
    digest = hashlib.sha256()
    for key, value in sorted(teacher.state_dict().items()):
        digest.update(key.encode()); digest.update(value.detach().cpu().numpy().tobytes())
    hashes = [None] * dist.get_world_size()
    dist.all_gather_object(hashes, digest.hexdigest())
    with open(os.path.join(OUT, f'teacher_rank{RANK}.jsonl'), 'a') as f:
        f.write(json.dumps(dict(epoch=runner.epoch + 1, hashes=hashes)) + '\\n')

MultiFoldMaskGenerator.__call__ = call
TeacherEMAHook.after_train_epoch = after_train_epoch
'''




def teacher_hash(state: dict) -> str:
    import hashlib
    digest = hashlib.sha256()
    for key, value in sorted(state.items()):
        digest.update(key.encode())
        digest.update(value.numpy().tobytes())
    return digest.hexdigest()


@pytest.mark.slow
def test_two_process_cpu_training_keeps_ranks_consistent(tmp_path, demo_data, free_port):
    probe, work = tmp_path / 'probe', tmp_path / 'work'
    data_options = demo_data(tmp_path / 'data')
    probe.mkdir()
    (tmp_path / 'site').mkdir()
    (tmp_path / 'site' / 'sitecustomize.py').write_text(PROBE)
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(free_port()), PROBE_DIR=str(probe),
               OMP_NUM_THREADS='1',
               PYTHONPATH=f'{tmp_path / "site"}{os.pathsep}{os.environ.get("PYTHONPATH", "")}')
    cmd = ['bash', str(ROOT / 'tools/dist_train.sh'), str(DEMO), '2', '--work-dir', str(work),
           '--auto-scale-lr', '--cfg-options', *data_options, 'train_dataloader.batch_size=8',
           'train_dataloader.num_workers=0', 'train_cfg.max_epochs=2',
           'model.backbone.arch.num_layers=2', 'model.neck.decoder_depth=1',
           'default_hooks.logger.interval=1', 'env_cfg.dist_cfg.backend=gloo']
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    # After each of the 2 EMA updates both ranks hold the same teacher, bit for bit, and it is
    # the teacher rank 0 saved; the EMA did move it.
    rows = [json.loads(line) for line in (probe / 'teacher_rank0.jsonl').read_text().splitlines()]
    assert [row['epoch'] for row in rows] == [1, 2]
    for row in rows:
        assert len(row['hashes']) == 2 and row['hashes'][0] == row['hashes'][1]
        saved = torch.load(work / f'epoch_{row["epoch"]}.pth', weights_only=True)['state_dict']
        assert teacher_hash({k[8:]: v for k, v in saved.items() if k.startswith('teacher.')}) \
            == row['hashes'][0]
    assert rows[0]['hashes'][0] != rows[1]['hashes'][0]

    # 24 images per rank / batch 8 = 3 iterations per epoch, 6 in all, on each rank.
    masks = [torch.load(probe / f'masks_rank{r}.pt', weights_only=True) for r in (0, 1)]
    assert [len(m) for m in masks] == [6, 6]
    generator = MultiFoldMaskGenerator(num_patches=64, mask_ratio=0.75, num_folds=3)
    for it in range(6):
        assert not torch.equal(masks[0][it], masks[1][it])  # ranks draw different masks
        for rank in (0, 1):  # ...that are a function of (seed + rank, iteration) only
            torch.manual_seed(derive_seed(0 + rank, 'iter', it))
            assert torch.equal(generator(8, torch.device('cpu')).ids_keep, masks[rank][it])

    # Effective batch 2 x 8 = 16; base_batch_size 128; lr 1.5e-3 -> 1.5e-3 * 16 / 128.
    ckpt = torch.load(work / 'epoch_2.pth', weights_only=True)
    assert ckpt['optimizer']['param_groups'][0]['initial_lr'] == pytest.approx(1.5e-3 * 16 / 128)
