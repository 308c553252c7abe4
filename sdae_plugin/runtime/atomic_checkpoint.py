"""A CheckpointHook whose checkpoints are complete or absent, never truncated.

MMEngine's ``CheckpointHook`` (0.10.7) writes ``epoch_N.pth`` in place, deletes the oldest kept
checkpoint *before* writing the new one, and rewrites ``last_checkpoint`` in place. A process
killed while writing (out-of-memory killer, pre-emption, ``scancel``) can then leave a truncated
``epoch_N.pth``, an empty ``last_checkpoint`` (``--resume`` then fails), or, with
``max_keep_ckpts=1``, no loadable checkpoint at all.

:class:`AtomicCheckpointHook` keeps every option of ``CheckpointHook`` and changes only the order
and the mechanics of a save on a local disk:

1. the checkpoint goes to ``.epoch_N.pth.tmp-<pid>`` in the same folder, is flushed and
   ``fsync``-ed, then ``os.replace``-d onto ``epoch_N.pth`` (atomic on POSIX file systems);
2. ``last_checkpoint`` is replaced the same way, so it always names a complete file;
3. only then are checkpoints beyond ``max_keep_ckpts`` deleted.

A crash at any point leaves the previous checkpoint loadable and ``last_checkpoint`` pointing at
it (or at the new one once it is complete), so ``--resume`` (``auto``) continues from there.
Left-over ``*.tmp-*`` files of killed runs are removed when training starts. Non-local back ends
(``backend_args`` for Ceph/Petrel, ...) fall back to MMEngine's behaviour.
"""
import glob
import logging
import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log
from mmpretrain.registry import HOOKS

from .quiet_console import quiet_console

TMP_MARK = '.tmp-'


def atomic_write_bytes(data: bytes, path: str) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    folder, name = osp.split(path)
    os.makedirs(folder or '.', exist_ok=True)
    tmp = osp.join(folder, f'.{name}{TMP_MARK}{os.getpid()}')
    try:
        with open(tmp, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(folder or '.')


def _fsync_dir(folder: str) -> None:
    """Make the rename itself durable (best effort: not every file system allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """``CheckpointHook`` with crash-safe saving (write to a temp file, fsync, rename).

    Takes exactly ``CheckpointHook``'s arguments. See the module docstring for the guarantees.
    """

    def before_train(self, runner) -> None:
        # MMEngine builds a FileClient even when file_client_args is None and warns that it is
        # deprecated; the warnings stay in the log file.
        with quiet_console('"FileClient" will be deprecated', '"HardDiskBackend" is the alias',
                           level=logging.WARNING):
            super().before_train(runner)
        if self._atomic() and is_main_process():
            for stale in glob.glob(osp.join(self.out_dir, f'.*{TMP_MARK}*')):
                print_log(f'Removing the partial checkpoint {stale} of an interrupted save.',
                          logger='current', level=logging.WARNING)
                os.remove(stale)

    def _atomic(self) -> bool:
        return type(self.file_backend) is LocalBackend

    def _save_checkpoint_with_step(self, runner, step, meta):
        if not self._atomic():
            return super()._save_checkpoint_with_step(runner, step, meta)

        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)

        # Decide what to delete, but delete it only once the new checkpoint is on disk.
        outdated = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids
                                            and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

        # The whole checkpoint goes to a temporary name in the same folder (written by MMEngine
        # as usual, only on the main process), then replaces the final name in one rename.
        tmp_name = f'.{filename}{TMP_MARK}{os.getpid()}'
        tmp_path = self.file_backend.join_path(self.out_dir, tmp_name)
        try:
            runner.save_checkpoint(
                self.out_dir,
                tmp_name,
                self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler,
                meta=meta,
                by_epoch=self.by_epoch,
                backend_args=self.backend_args,
                **self.args)
            if is_main_process():
                with open(tmp_path, 'rb+') as f:
                    os.fsync(f.fileno())
                os.replace(tmp_path, self.last_ckpt)
                _fsync_dir(self.out_dir)
        except BaseException:
            if is_main_process() and osp.exists(tmp_path):
                os.remove(tmp_path)
            raise

        if not is_main_process():
            return
        atomic_write_bytes(self.last_ckpt.encode(), osp.join(runner.work_dir, 'last_checkpoint'))
        for old in outdated:
            path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(old))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
