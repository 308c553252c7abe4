"""AtomicCheckpointHook: a save interrupted half-way leaves the previous checkpoint and
last_checkpoint intact (MMEngine's CheckpointHook does not, shown as the control case)."""
import os

import pytest
import torch
from mmengine.fileio import LocalBackend

from sdae_plugin.runtime import atomic_write_bytes


class Crash(BaseException):
    """Stands for the process dying (not an Exception, so nothing swallows it)."""


def crash_half_way_on(monkeypatch, needle: str) -> None:
    """Make LocalBackend.put write half of the bytes of files whose name contains `needle`."""
    original = LocalBackend.put

    def put(self, obj, filepath):
        if needle in os.path.basename(str(filepath)):
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
            raise Crash(filepath)
        return original(self, obj, filepath)

    monkeypatch.setattr(LocalBackend, 'put', put)


def hooks(checkpoint_type: str) -> dict:
    return dict(checkpoint=dict(type=checkpoint_type, interval=1, max_keep_ckpts=1),
                weights_only_checkpoint=dict(type='WeightsOnlyCheckpointHook'),
                logger=dict(type='LoggerHook', interval=1))


def last_checkpoint(work_dir) -> str:
    return (work_dir / 'last_checkpoint').read_text()


def test_interrupted_save_keeps_previous_checkpoint(make_runner, tmp_path, monkeypatch):
    runner = make_runner(tmp_path, max_epochs=3, default_hooks=hooks('AtomicCheckpointHook'))
    crash_half_way_on(monkeypatch, 'epoch_2')
    with pytest.raises(Crash):
        runner.train()
    # epoch 1 survives (max_keep_ckpts=1 deletes it only after epoch 2 is complete) and loads
    assert last_checkpoint(tmp_path) == str(tmp_path / 'epoch_1.pth')
    ckpt = torch.load(tmp_path / 'epoch_1.pth', weights_only=True)
    assert ckpt['meta']['epoch'] == 1
    assert not (tmp_path / 'epoch_2.pth').exists()  # no truncated file under the real name
    partial = [p.name for p in tmp_path.iterdir() if '.tmp-' in p.name]
    assert partial == []  # the hook removes its temp file when the save fails in-process

    # resume (auto) continues from epoch 1 and finishes; old checkpoints are rotated afterwards
    monkeypatch.undo()
    resumed = make_runner(tmp_path, max_epochs=3, resume=True,
                          default_hooks=hooks('AtomicCheckpointHook'))
    resumed.train()
    assert resumed.epoch == 3
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['epoch_3.pth']
    assert last_checkpoint(tmp_path) == str(tmp_path / 'epoch_3.pth')


def test_mmengine_checkpoint_hook_loses_the_previous_checkpoint(make_runner, tmp_path,
                                                                monkeypatch):
    """The control: what AtomicCheckpointHook fixes."""
    runner = make_runner(tmp_path, max_epochs=3, default_hooks=hooks('CheckpointHook'))
    crash_half_way_on(monkeypatch, 'epoch_2')
    with pytest.raises(Crash):
        runner.train()
    assert not (tmp_path / 'epoch_1.pth').exists()  # deleted before epoch 2 was written
    with pytest.raises(Exception):
        torch.load(tmp_path / 'epoch_2.pth', weights_only=True)  # truncated


def test_stale_temp_files_of_a_killed_run_are_removed(make_runner, tmp_path):
    stale = tmp_path / '.epoch_2.pth.tmp-12345'
    stale.write_bytes(b'partial')
    runner = make_runner(tmp_path, max_epochs=1, default_hooks=hooks('AtomicCheckpointHook'))
    runner.train()
    assert not stale.exists() and (tmp_path / 'epoch_1.pth').exists()


def test_atomic_write_replaces_whole_file_or_nothing(tmp_path, monkeypatch):
    path = tmp_path / 'f'
    atomic_write_bytes(b'old', str(path))

    def fail(src, dst):
        raise Crash('rename')

    monkeypatch.setattr(os, 'replace', fail)
    with pytest.raises(Crash):
        atomic_write_bytes(b'new content', str(path))
    assert path.read_bytes() == b'old' and os.listdir(tmp_path) == ['f']
