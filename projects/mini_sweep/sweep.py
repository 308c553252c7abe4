"""The miniature sweep's driver: every row and seed through its stages, then plot and report.

With a learning-rate grid, first each tuned row on the first seed with every learning rate of it,
choosing on validation images (see :class:`~.settings.SweepSettings`). Then for every row and
seed: pretrain (``tools/train.py``; its kNN monitor evaluates validation images every few epochs:
the curves), kNN of the last checkpoint on the test split, extract the encoder, linear probe and
fine-tune (``tools/train.py`` on the eval configs); the floor row's encoder is its
initialization, the raw pixels the no-network reference. Every stage's result goes to
``WORK_DIR/results.json`` as soon as it is done (:class:`~.results.ResultStore`); a rerun skips
finished stages.
"""
import datetime
import json
import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from .floor import random_backbone_command, write_random_backbone
from .plot import plot_knn_curves
from .report import ReportContext, machine_summary, render_report
from .results import ResultStore, last_metric
from .rows import MAIN_ROW, ROWS
from .settings import SweepInputError, SweepSettings
from .stages import Stage, StagePlan, relative


def val_score(monitor: dict) -> Optional[float]:
    """The validation kNN a learning rate is chosen by: the monitor's last evaluation, the better
    of its cls-token and mean-pool top-1 (each method's better readout; None without one)."""
    evaluations = monitor.get('evaluations') or []
    return max(evaluations[-1]['top1'].values()) if evaluations else None


def log(msg: str) -> None:
    # one write per line: stages running at a time (--jobs) log from several threads
    print(f'[mini {datetime.datetime.now():%H:%M:%S}] {msg}\n', end='', flush=True)


def bf16_available() -> bool:
    """Whether ``import sdae_plugin`` registers ``CPUAutocastOptimWrapper`` (configs import only
    ``sdae_plugin``; MMEngine imports ``custom_imports`` before ``--cfg-options`` apply)."""
    import sdae_plugin  # noqa: F401
    from mmpretrain.registry import OPTIM_WRAPPERS
    return OPTIM_WRAPPERS.get('CPUAutocastOptimWrapper') is not None


def check_inputs(settings: SweepSettings) -> None:
    """Raise :class:`SweepInputError` when the data or bf16 support is missing (not for a dry
    run, which runs nothing)."""
    if settings.dry_run:
        return
    if not (Path(settings.data_root) / 'train-images-idx3-ubyte').exists():
        raise SweepInputError(f'No Fashion-MNIST in {settings.data_root}: run '
                              'tools/fetch_fashion_mnist.sh first.')
    if 'bf16' in (settings.amp, settings.eval_amp) and not bf16_available():
        raise SweepInputError(
            '--amp bf16 needs CPUAutocastOptimWrapper registered by `import sdae_plugin` '
            '(sdae_plugin/runtime/__init__.py: from .cpu_amp import CPUAutocastOptimWrapper); '
            'or use --amp fp32.')


class Sweep:
    """Runs the stages of ``settings``, skipping those ``results.json`` holds, and records every
    command (the report lists them; a dry run prints them). With ``settings.jobs`` > 1 the
    learning rates of the grid, then the rows and seeds, run that many at a time (each row and
    seed's stages in order); the commands are listed in the order of a one-at-a-time sweep."""

    def __init__(self, settings: SweepSettings) -> None:
        self.settings = settings
        self.plan = StagePlan(settings)
        self.store = ResultStore(self.plan.work / 'results.json', settings.resume_key(),
                                 load=not settings.dry_run)
        self.commands: List[str] = []
        self.lrs: Dict[str, Optional[float]] = {}  # the chosen learning rate of each row
        self._local = threading.local()  # the commands of a job of in_parallel

    def _record(self, line: str) -> None:
        """Add a command to the list (a job of :meth:`in_parallel` keeps its own until it ends)."""
        getattr(self._local, 'commands', self.commands).append(line)

    def _run(self, stage: Stage, done: bool) -> Optional[float]:
        """Record ``stage``; run it unless ``done`` or a dry run. Its wall time, if it ran."""
        self._record(stage.line)
        if done:
            return None
        if self.settings.dry_run:
            return None  # run_sweep prints the plan, in order
        log(f'{stage.key}: {stage.line}')
        return stage.run(self.plan.work / 'logs' / (stage.key.replace('/', '_') + '.log'),
                         self.settings.threads)

    def pretrain(self, row: str, seed: int, lr: Optional[float] = None) -> dict:
        """Pretrain (unless done); its result: ``wall_s``, ``epochs``, ``checkpoint`` and
        ``monitor`` (the kNN monitor's ``knn_history.json``)."""
        stage, final = self.plan.pretrain(row, seed, lr), self.plan.checkpoint(row, seed, lr)
        done = stage.key in self.store and final.exists()
        if not done and not self.settings.dry_run and final.parent.exists():
            shutil.rmtree(final.parent)  # an interrupted run restarts from scratch
        wall = self._run(stage, done)
        if not done and not self.settings.dry_run:
            history = self.plan.history(row, seed, lr)
            self.store.put(stage.key, dict(
                wall_s=wall, epochs=self.settings.epochs, checkpoint=str(final),
                monitor=json.loads(history.read_text()) if history.exists() else {}))
        return self.store.get(stage.key) or {}

    def tuned_row(self, row: str) -> Optional[str]:
        """The tuned row whose learning rate ``row`` pretrains with: itself if tuned, else its
        baseline if that is; None without a grid, for the floor, or with the config's rate."""
        s = self.settings
        if s.lrs is None or not ROWS[row].pretrained:
            return None
        if row in s.tune_rows:
            return row
        baseline = ROWS[row].baseline
        return baseline if baseline in s.tune_rows else None

    def tune(self, rows: List[str]) -> None:
        """Choose the learning rate of the tuned rows that ``rows`` need: each pretrains on the
        first seed with every rate of the grid (``jobs`` at a time), and keeps the one with the
        best validation kNN (:func:`val_score`; never the test split)."""
        s = self.settings
        needed = [t for t in dict.fromkeys(map(self.tuned_row, rows))
                  if t is not None and t not in self.lrs]
        grid = [(row, s.seeds[0], lr) for row in needed for lr in s.lrs]
        results = self.in_parallel(self.pretrain, grid)
        for row in needed:
            scores = {lr: val_score(result.get('monitor') or {})
                      for (tuned, _, lr), result in zip(grid, results) if tuned == row}
            if s.dry_run:  # nothing measured: the plan shows the grid's first
                self.lrs[row] = s.lrs[0]
            else:
                self.lrs[row] = max(s.lrs, key=lambda lr: scores[lr])
                self.store.put(f'tune/{row}', dict(lr=self.lrs[row], scores={
                    f'{lr:g}': score for lr, score in scores.items()}))

    def lr_of(self, row: str) -> Optional[float]:
        """The learning rate ``row`` pretrains with: None (its config's) without a grid; else
        its :meth:`tuned_row`'s choice (tuning it first if needed)."""
        tuned = self.tuned_row(row)
        if tuned is None:
            return None
        self.tune([tuned])
        return self.lrs[tuned]

    def in_parallel(self, fn: Callable, items: Sequence[tuple]) -> list:
        """``fn(*item)`` for every item, ``settings.jobs`` at a time (threads, each waiting for
        its stages' subprocesses). Results, and the commands each recorded, come in the order of
        ``items``; the first failure is raised once all have ended."""
        if self.settings.jobs == 1 or len(items) < 2:
            return [fn(*item) for item in items]

        def job(item: tuple):
            self._local.commands = []
            try:
                return fn(*item), self._local.commands
            finally:
                del self._local.commands

        with ThreadPoolExecutor(self.settings.jobs) as pool:
            futures = [pool.submit(job, item) for item in items]
        done = [future.result() for future in futures]
        for _, commands in done:
            self.commands.extend(commands)
        return [result for result, _ in done]

    def random_backbone(self, row: str, seed: int) -> None:
        """The floor: the row's config's encoder at initialization, as a backbone file."""
        out, key = self.plan.backbone(row, seed), f'pretrain/{row}/s{seed}'
        self._record(random_backbone_command(ROWS[row].config, seed, out))
        if not self.settings.dry_run and not (key in self.store and out.exists()):
            write_random_backbone(ROWS[row].config, seed, out)
            self.store.put(key, dict(wall_s=0.0, epochs=0, checkpoint=str(out)))

    def extract(self, row: str, seed: int, lr: Optional[float] = None) -> None:
        stage, out = self.plan.extract(row, seed, lr), self.plan.backbone(row, seed, lr)
        done = stage.key in self.store and out.exists()
        wall = self._run(stage, done)
        if not done and not self.settings.dry_run:
            self.store.put(stage.key, dict(backbone=str(out), wall_s=wall))

    def knn(self, stage: Stage) -> List[dict]:
        """kNN result rows of ``stage`` (one per checkpoint or source; [] in a dry run)."""
        if stage.key in self.store:
            self._run(stage, done=True)
            return self.store.get(stage.key)['rows']
        wall = self._run(stage, done=False)
        if self.settings.dry_run:
            return []
        rows = json.loads(self.plan.knn_json(stage.key).read_text())
        self.store.put(stage.key, dict(rows=rows, wall_s=wall))
        return rows

    def downstream(self, kind: str, row: str, seed: int,
                   lr: Optional[float] = None) -> Optional[float]:
        """Top-1 of the linear probe (``'linear'``) or fine-tuning (``'ft'``) of a row."""
        stage = self.plan.downstream(kind, row, seed, lr)
        run_dir = self.plan.downstream_dir(kind, row, seed, lr)
        if stage.key in self.store:
            self._run(stage, done=True)
            return self.store.get(stage.key)['top1']
        if run_dir.exists() and not self.settings.dry_run:
            shutil.rmtree(run_dir)
        wall = self._run(stage, done=False)
        if self.settings.dry_run:
            return None
        top1 = last_metric(run_dir, 'accuracy/top1')
        self.store.put(stage.key, dict(top1=top1, wall_s=wall))
        for ckpt in run_dir.glob('*.pth'):  # the classifier is not needed afterwards
            ckpt.unlink()
        return top1

    def pixels_top1(self) -> Optional[float]:
        """kNN top-1 on the normalized pixels: what an encoder must beat to be of use."""
        rows = self.knn(self.plan.knn_pixels())
        return rows[0]['top1_pixels'] if rows else None

    def run_row(self, row: str, seed: int) -> dict:
        """Every stage of one row and seed; the run's results (see :mod:`.report`)."""
        s = self.settings
        lr = self.lr_of(row)
        run = dict(row=row, seed=seed, label=ROWS[row].label, curve=[], lr=lr)
        if not ROWS[row].pretrained:
            self.random_backbone(row, seed)
            run.update(epochs=0, wall_s=0.0)
        else:
            result = self.pretrain(row, seed, lr)
            monitor = result.get('monitor') or {}
            run.update(epochs=s.epochs, wall_s=result.get('wall_s'), val=val_score(monitor),
                       val_pixels=monitor.get('pixels'),
                       curve=[(e['epoch'], e['top1']['cls'], e['top1']['mean'])
                              for e in monitor.get('evaluations', [])])
            self.extract(row, seed, lr)
        knn_rows = self.knn(self.plan.knn_of_row(row, seed, lr))
        if knn_rows:
            run.update(knn_cls=knn_rows[-1]['top1_cls'], knn_mean=knn_rows[-1]['top1_mean'])
        if row in s.linear_rows:
            run['linear'] = self.downstream('linear', row, seed, lr)
        if row in s.ft_rows:
            run['ft'] = self.downstream('ft', row, seed, lr)
        return run


@dataclass
class SweepOutcome:
    """What :func:`run_sweep` did: the runs, every command, and the files it wrote."""
    runs: List[dict]
    commands: List[str]
    report: Optional[str] = None
    plot: Optional[str] = None


def run_sweep(settings: SweepSettings, invocation: str) -> SweepOutcome:
    """Run (or, with ``settings.dry_run``, print) the sweep and write its report and plot.

    Args:
        settings: from :func:`~.settings.make_settings`.
        invocation: the command line that started it (the report repeats it).

    Raises:
        SweepInputError: missing data or bf16 support, or a work dir of other settings.
    """
    started = time.time()
    check_inputs(settings)
    sweep = Sweep(settings)
    pixels = sweep.pixels_top1()
    sweep.tune(settings.rows)
    runs = sweep.in_parallel(sweep.run_row, [(row, seed) for row in settings.rows
                                             for seed in settings.seeds_of(row)])
    if settings.dry_run:  # the stages' commands (the floor's encoder is written in-process)
        print('\n'.join(c for c in sweep.commands if not c.startswith('python -c')), flush=True)
        return SweepOutcome(runs, sweep.commands)
    protocol = sweep.plan.protocol(sweep.lr_of(MAIN_ROW))
    monitor = protocol.pretrain.custom_hooks[0]
    plotted = plot_knn_curves(
        [r for r in runs if r['row'] in settings.curve_rows], settings.plot,
        title=f'kNN monitor (k={monitor.get("k", 20)}) on validation images',
        ylabel='kNN top-1 on held-out training images (%)',
        pixels=next((r['val_pixels'] for r in runs if r.get('val_pixels') is not None), None))
    out = Path(settings.out)
    reading = out.with_name(out.stem + '_reading.md')
    context = ReportContext(
        written=datetime.datetime.now(), wall_s=time.time() - started,
        work_dir=relative(settings.work_dir), machine=machine_summary(), invocation=invocation,
        commands=sweep.commands, pixels=pixels, jobs=settings.jobs,
        plot=os.path.relpath(settings.plot, out.parent) if plotted else None,
        reading=(reading.name, reading.read_text()) if reading.exists() else None)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(runs, sweep.store.data, protocol, context))
    log(f'wrote {settings.out}' + (f' and {settings.plot}' if plotted else ''))
    return SweepOutcome(runs, sweep.commands, str(out), settings.plot if plotted else None)
