"""The sweep's stages: the command of each (pretrain, kNN, extract, linear probe, fine-tune) and
how one is run.

Every stage is a user-facing tool of the repository (``tools/train.py``, ``tools/knn_eval.py``,
``tools/extract_backbone.py``) run as a subprocess from the repository root, exactly as the report
lists it; :class:`StagePlan` builds them from the sweep's settings, and :meth:`Stage.resolve`
gives the config a stage runs (its config file with its ``--cfg-options``), which is what the
report describes.
"""
import argparse
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from mmengine.config import Config, DictAction

from sdae_plugin.datasets import BATCHED_FASHION_MNIST_OPTIONS
from sdae_plugin.package_configs import package_config

from .protocol import Protocol
from .rows import FT_CONFIG, KNN_CONFIG, LINEAR_CONFIG, MAIN_ROW, ROWS
from .settings import SweepSettings

# The clone this harness runs from: the stages are its tools/ run as subprocesses from here (the
# sweep is a clone-only harness; an installed package ships no such tools). Configs are found
# through the package (:func:`config_file`).
ROOT = Path(__file__).resolve().parents[2]


def relative(path) -> str:
    """``path`` relative to the repository root if it is inside it, else absolute."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path.resolve())


def config_file(name: str) -> str:
    """The file of config ``name`` (relative to ``configs/``, as in ``sdae_plugin::NAME``) as a
    stage's command names it: relative to the repository root (``configs/NAME`` in a clone)."""
    return relative(package_config(name))


def resolve_config(config: str, options: Sequence[str] = ()) -> Config:
    """Config ``config`` (relative to ``configs/``) with ``--cfg-options`` applied as the tools
    apply them (MMEngine's ``DictAction`` + ``Config.merge_from_dict``)."""
    cfg = Config.fromfile(package_config(config))
    if options:
        parser = argparse.ArgumentParser()
        parser.add_argument('--cfg-options', nargs='+', action=DictAction)
        cfg.merge_from_dict(parser.parse_args(['--cfg-options', *options]).cfg_options)
    return cfg


@dataclass(frozen=True)
class Stage:
    """One command of the sweep.

    Args:
        key: its entry in ``results.json`` (e.g. ``'pretrain/sdae/s0'``).
        argv: the tool (``tools/*.py``) and its arguments, paths relative to the repository root.
        config: the config the tool runs, if any (relative to ``configs/``).
        options: the ``--cfg-options`` it passes (the last arguments of ``argv``).
    """
    key: str
    argv: Tuple[str, ...]
    config: Optional[str] = None
    options: Tuple[str, ...] = ()

    @property
    def command(self) -> List[str]:
        return [sys.executable, *self.argv]

    @property
    def line(self) -> str:
        """The command as a shell line (``python`` for this interpreter)."""
        return ' '.join(shlex.quote(c) for c in ['python', *self.argv])

    def flag(self, name: str) -> Optional[str]:
        """The value given to ``--name`` in ``argv``, or None."""
        argv = list(self.argv)
        return argv[argv.index(name) + 1] if name in argv else None

    def resolve(self) -> Config:
        """The config this stage runs, with its options applied."""
        return resolve_config(self.config, self.options)

    def run(self, log_file: Path, threads: int = 0) -> float:
        """Run the command from the repository root, output to ``log_file``; its wall time (s).

        Raises ``RuntimeError`` with the end of the log when it fails.
        """
        log_file.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        if threads:
            env['OMP_NUM_THREADS'] = env['MKL_NUM_THREADS'] = str(threads)
        start = time.time()
        with open(log_file, 'w') as out:
            proc = subprocess.run(self.command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                  env=env)
        if proc.returncode != 0:
            tail = log_file.read_text()[-4000:]
            raise RuntimeError(f'{self.key} failed (exit {proc.returncode}): {self.line}\n{tail}')
        return round(time.time() - start, 1)


def amp_options(amp: str, kind: str, device: str = 'cpu') -> List[str]:
    """``--cfg-options`` that switch a config to bf16 autocast (training and test): the
    project's ``CPUAutocastOptimWrapper`` on the CPU, MMEngine's ``AmpOptimWrapper`` on CUDA."""
    if amp != 'bf16':
        return []
    wrapper = 'CPUAutocastOptimWrapper' if device == 'cpu' else 'AmpOptimWrapper'
    opts = [f'optim_wrapper.type={wrapper}', 'optim_wrapper.dtype=bfloat16']
    if kind != 'pretrain':
        opts.append('val_cfg.fp16=True')  # autocast in the test loop (bf16: the wrapper's dtype)
    return opts


def _lr_key(lr: Optional[float]) -> str:
    """The part of a stage key that names a chosen learning rate (every stage downstream of a
    pretraining with one names it, so a result never outlives a change of the choice)."""
    return '' if lr is None else f'/lr{lr:g}'


def _indices(n: Optional[int]) -> str:
    """A subset size as a ``dataset.indices`` option value (the first N; None: all)."""
    return 'None' if not n else str(n)


class StagePlan:
    """The stages of a sweep with ``settings``: where each writes, and its exact command.

    Outputs go to ``settings.work_dir``: ``{row}_s{seed}/`` (pretraining, ``backbone.pth``,
    ``knn_history.json``; ``{row}_s{seed}_lr{lr}/`` with a learning rate of the grid),
    ``{row}_s{seed}[_lr{lr}]_{linear|ft}/``, ``knn/*.json``. Keys of stages downstream of a
    pretraining with a learning rate of the grid end with ``/lr{lr}``.
    """

    def __init__(self, settings: SweepSettings) -> None:
        self.settings = settings
        self.work = Path(settings.work_dir)
        self.data_root = relative(settings.data_root)

    def run_dir(self, row: str, seed: int, lr: Optional[float] = None) -> Path:
        return self.work / (f'{row}_s{seed}' + ('' if lr is None else f'_lr{lr:g}'))

    def checkpoint(self, row: str, seed: int, lr: Optional[float] = None) -> Path:
        """The last pretraining checkpoint."""
        return self.run_dir(row, seed, lr) / f'epoch_{self.settings.epochs}.pth'

    def history(self, row: str, seed: int, lr: Optional[float] = None) -> Path:
        """The kNN monitor's evaluations of a pretraining run (validation images)."""
        return self.run_dir(row, seed, lr) / 'knn_history.json'

    def backbone(self, row: str, seed: int, lr: Optional[float] = None) -> Path:
        """The weights-only encoder of a row (extracted, or the floor's initialization)."""
        return self.run_dir(row, seed, lr) / 'backbone.pth'

    def _train(self, key: str, config: str, work_dir: Path, options: List[str]) -> Stage:
        return Stage(key, ('tools/train.py', config_file(config), '--work-dir', relative(work_dir),
                           '--cfg-options', *options), config, tuple(options))

    def pretrain(self, row: str, seed: int, lr: Optional[float] = None) -> Stage:
        """Pretraining of a row (``lr``: the optimizer's learning rate, else the config's).

        The kNN monitor is the first of the row's ``custom_hooks`` (``configs/mini``). Only the
        last epoch is saved unless ``keep_checkpoints`` (an interrupted run restarts from
        scratch, so the configs' checkpoint of every epoch would only cost time: ~1.5 s of a
        3.5 s epoch of the learning preset)."""
        s = self.settings
        keep, interval = (-1, 1) if s.keep_checkpoints else (1, s.epochs)
        monitor = 'custom_hooks.0'
        options = [f'randomness.seed={seed}', f'train_cfg.max_epochs={s.epochs}',
                   f'param_scheduler.1.T_max={s.epochs - 1}', f'param_scheduler.1.end={s.epochs}',
                   f'train_dataloader.batch_size={s.batch_size}',
                   # a batch of a batched dataset is one indexing: no worker to wait for
                   f'train_dataloader.num_workers={0 if s.batched_data else s.workers}',
                   f'train_dataloader.dataset.indices={_indices(s.subset)}',
                   f'train_dataloader.dataset.data_root={self.data_root}',
                   f'default_hooks.checkpoint.interval={interval}',
                   f'default_hooks.checkpoint.max_keep_ckpts={keep}',
                   f'default_hooks.logger.interval={s.logger_interval}',
                   f'{monitor}.interval={s.monitor_interval}',
                   f'{monitor}.bank_dataloader.dataset.data_root={self.data_root}',
                   f'{monitor}.query_dataloader.dataset.data_root={self.data_root}']
        if s.monitor_bank is not None:
            options.append(f'{monitor}.bank_dataloader.dataset.indices={s.monitor_bank}')
        if s.monitor_queries is not None:
            start, stop = s.monitor_queries
            options.append(f'{monitor}.query_dataloader.dataset.indices='
                           f'[{",".join(map(str, range(start, stop)))}]')
        if lr is not None:
            options.append(f'optim_wrapper.optimizer.lr={lr:g}')
        if s.batched_data:
            options += [f'{key}={value}' for key, value in BATCHED_FASHION_MNIST_OPTIONS.items()]
        options += amp_options(s.amp, 'pretrain', s.device)
        return self._train(self.pretrain_key(row, seed, lr), ROWS[row].config,
                           self.run_dir(row, seed, lr), options)

    @staticmethod
    def pretrain_key(row: str, seed: int, lr: Optional[float] = None) -> str:
        return f'pretrain/{row}/s{seed}' + _lr_key(lr)

    def extract(self, row: str, seed: int, lr: Optional[float] = None) -> Stage:
        return Stage(f'extract/{row}/s{seed}' + _lr_key(lr), ('tools/extract_backbone.py',
                                                relative(self.checkpoint(row, seed, lr)),
                                                relative(self.backbone(row, seed, lr))))

    def knn(self, key: str, source: Sequence[str]) -> Stage:
        """kNN of ``source`` (checkpoint paths, ``--random-init CONFIG --seed S`` or
        ``--pixels``), its rows written to ``knn/<key>.json``."""
        s = self.settings
        options = [f'train_dataloader.dataset.indices={_indices(s.knn_train)}',
                   f'test_dataloader.dataset.indices={_indices(s.knn_test)}',
                   f'train_dataloader.dataset.data_root={self.data_root}',
                   f'test_dataloader.dataset.data_root={self.data_root}']
        return Stage(key, ('tools/knn_eval.py', *source, '--config', config_file(KNN_CONFIG),
                           '--amp', s.eval_amp, '--out-json', relative(self.knn_json(key)),
                           '--cfg-options', *options), KNN_CONFIG, tuple(options))

    def knn_json(self, key: str) -> Path:
        return self.work / 'knn' / (key.replace('/', '_') + '.json')

    def knn_of_row(self, row: str, seed: int, lr: Optional[float] = None) -> Stage:
        """kNN of a row's encoder after pretraining, or at its initialization for the floor."""
        key = f'knn/{row}/s{seed}' + _lr_key(lr)
        if not ROWS[row].pretrained:
            return self.knn(key, ['--random-init', config_file(ROWS[row].config), '--seed',
                                  str(seed)])
        return self.knn(key, [relative(self.checkpoint(row, seed, lr))])

    def knn_pixels(self) -> Stage:
        return self.knn('knn/pixels', ['--pixels'])

    def downstream(self, kind: str, row: str, seed: int, lr: Optional[float] = None) -> Stage:
        """The linear probe (``kind='linear'``) or fine-tuning (``'ft'``) of a row's encoder."""
        s = self.settings
        config, epochs, subset = ((LINEAR_CONFIG, s.linear_epochs, s.linear_subset)
                                  if kind == 'linear' else (FT_CONFIG, s.ft_epochs, s.ft_subset))
        sched = ([f'param_scheduler.0.T_max={epochs}', f'param_scheduler.0.end={epochs}']
                 if kind == 'linear' else
                 [f'param_scheduler.1.T_max={epochs - 1}', f'param_scheduler.1.end={epochs}'])
        options = [f'model.backbone.init_cfg.checkpoint={relative(self.backbone(row, seed, lr))}',
                   f'randomness.seed={seed}',
                   f'train_cfg.max_epochs={epochs}', *sched,
                   f'train_dataloader.num_workers={s.workers}',
                   f'train_dataloader.dataset.indices={_indices(subset)}',
                   f'train_dataloader.dataset.data_root={self.data_root}',
                   f'val_dataloader.dataset.data_root={self.data_root}',
                   f'test_dataloader.dataset.data_root={self.data_root}',
                   f'default_hooks.logger.interval={s.logger_interval}',
                   *amp_options(s.eval_amp if kind == 'linear' else s.amp, kind, s.device)]
        if s.smoke:  # the tiny idx set has fewer images than one default batch
            options += ['train_dataloader.batch_size=16']
        return self._train(f'{kind}/{row}/s{seed}' + _lr_key(lr), config,
                           self.downstream_dir(kind, row, seed, lr), options)

    def downstream_dir(self, kind: str, row: str, seed: int,
                       lr: Optional[float] = None) -> Path:
        return self.run_dir(row, seed, lr).with_name(f'{self.run_dir(row, seed, lr).name}_{kind}')

    def protocol(self, lr: Optional[float] = None) -> Protocol:
        """The resolved configs of the main row's stages (``lr``: its learning rate, if not its
        config's), and the pretraining config of every row and of its baseline (as written: the
        sweep's options apply to all alike)."""
        seed = self.settings.seeds[0]
        knn = self.knn_of_row(MAIN_ROW, seed, lr)
        return Protocol(
            pretrain=self.pretrain(MAIN_ROW, seed, lr).resolve(), knn=knn.resolve(),
            knn_amp=knn.flag('--amp'),
            linear=self.downstream('linear', MAIN_ROW, seed, lr).resolve(),
            ft=self.downstream('ft', MAIN_ROW, seed, lr).resolve(),
            rows={row: resolve_config(ROWS[row].config) for row in dict.fromkeys(
                [*self.settings.rows, *(ROWS[r].baseline for r in self.settings.rows
                                        if ROWS[r].baseline)])})
