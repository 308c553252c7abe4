"""SdAE vs MAE in miniature on Fashion-MNIST, plus the paper's ablations: train, evaluate, report.

For every row (method) and seed: pretrain with ``tools/train.py`` on ``configs/mini/*``; extract
the encoder (``tools/extract_backbone.py``); weighted kNN (``tools/knn_eval.py``, cls token and
mean-pooled patch tokens; every epoch for the curve rows); linear probe and fine-tuning
(``tools/train.py`` on ``configs/mini/eval/*``), each evaluated once on the test split after its
last epoch. A random-init encoder is the floor, kNN on the raw pixels the no-network reference.
Writes ``--out`` (a Markdown report with the tables, the machine, the seeds and every command) and
a PNG of kNN top-1 vs. epoch next to it. A hand-written reading of the results, kept in
``<out stem>_reading.md`` next to ``--out`` (``docs/results_mini_reading.md``), is included in the
report when that file exists.

Every stage's result is stored in ``WORK_DIR/results.json`` as soon as it is done; a rerun with
the same size options skips finished stages (an interrupted sweep continues where it stopped, and
a run with more ``--rows`` adds to an earlier one). Other size options in the same work dir are
refused.

Precision: ``--amp`` (default fp32) for the stages that train an encoder, ``--eval-amp``
(default bf16 CPU autocast) for the frozen-encoder stages (kNN features, linear probe). On the
2-core AMX machine bf16 halved the time of feature extraction and gave the same kNN top-1 (within
0.4 points), but did not speed up training steps of this 128-wide ViT. Pass ``--threads 1`` when
other processes share the cores (two OpenMP threads then slow down several-fold).

Examples:
    python tools/reproduce_mini.py --dry-run             # print every command, run nothing
    python tools/reproduce_mini.py --rows sdae mae       # floor, SdAE and MAE, 2 seeds each
    python tools/reproduce_mini.py                       # + ablation and investigation rows
                                                         #   (89 min of stages on 2 cores)
    python tools/reproduce_mini.py --smoke --data-root /tmp/tiny_fashion --work-dir /tmp/w \
        --out /tmp/results.md                            # CI-sized pipeline check
"""
import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]
MINI = 'configs/mini'
KNN_CFG = f'{MINI}/eval/knn_fashion-mnist.py'
LINEAR_CFG = f'{MINI}/eval/linear_vit-mini_fashion-mnist.py'
FT_CFG = f'{MINI}/eval/ft_vit-mini_fashion-mnist.py'

# name -> (pretraining config or None for the random-init floor, label, paper reference)
ROWS = {
    'random': (None, 'random init (floor)', ''),
    'sdae': (f'{MINI}/sdae_vit-mini_fashion-mnist.py', 'SdAE (multi-fold, norm. target, '
             'EMA/epoch, teacher random init, loss over tokens, decoder 2)', 'Table 2'),
    'mae': (f'{MINI}/mae_vit-mini_fashion-mnist.py', 'MAE (pixels, norm_pix)', 'Table 2'),
    'teacher-full-image': (f'{MINI}/sdae_vit-mini_teacher-full-image.py',
                           'SdAE, teacher sees the full image', 'Table 1'),
    'teacher-only-masked': (f'{MINI}/sdae_vit-mini_teacher-only-masked.py',
                            'SdAE, teacher sees only the masked patches', 'Table 1'),
    'teacher-crop': (f'{MINI}/sdae_vit-mini_teacher-crop.py',
                     'SdAE, teacher crop (1/3 of the masked)', 'Table 1'),
    'no-target-norm': (f'{MINI}/sdae_vit-mini_no-target-norm.py',
                       'SdAE, no target normalization', 'Table 5'),
    'ema-per-iter': (f'{MINI}/sdae_vit-mini_ema-per-iter.py', 'SdAE, EMA per iteration',
                     'Fig. 4a'),
    'teacher-init-student': (f'{MINI}/sdae_vit-mini_teacher-init-student.py',
                             'SdAE, teacher initialized from the student', ''),
    'loss-features': (f'{MINI}/sdae_vit-mini_loss-features.py',
                      'SdAE, cosine over features (per token)', ''),
    'decoder-8': (f'{MINI}/sdae_vit-mini_decoder-8.py', 'SdAE, decoder depth 8', ''),
    'mae-decoder-8': (f'{MINI}/mae_vit-mini_decoder-8.py', 'MAE, decoder depth 8', 'Table 2'),
    'ema-paper-count': (f'{MINI}/sdae_vit-mini_ema-paper-count.py',
                        'SdAE, EMA 0.96->0.99 per iteration (the paper\'s number of updates)',
                        'investigation'),
}
# these get every seed of --seeds; the others the first seed
MAIN_ROWS = ('sdae', 'mae', 'decoder-8', 'mae-decoder-8')

# The paper's orderings that the report checks: (claim, better row, worse row, reference).
CLAIMS = [
    ('SdAE beats MAE at equal budget', 'sdae', 'mae', 'Table 2'),
    ('SdAE beats MAE, both with decoder depth 8', 'decoder-8', 'mae-decoder-8', 'Table 2'),
    ('multi-fold beats a full-image teacher', 'sdae', 'teacher-full-image', 'Table 1'),
    ('multi-fold beats an only-masked teacher', 'sdae', 'teacher-only-masked', 'Table 1'),
    ('multi-fold beats a teacher crop', 'sdae', 'teacher-crop', 'Table 1'),
    ('target normalization helps', 'sdae', 'no-target-norm', 'Table 5'),
    ('per-epoch EMA beats per-iteration EMA', 'sdae', 'ema-per-iter', 'Fig. 4a'),
    ('every pretraining beats random init', 'sdae', 'random', ''),
    ('(investigation) a teacher moved as far as in the paper helps', 'ema-paper-count', 'sdae',
     ''),
]
METRICS = (('knn_cls', 'kNN cls'), ('knn_mean', 'kNN mean'), ('linear', 'linear'),
           ('ft', 'fine-tune'))

# Options that change results: a work dir's results.json is only reused with the same values.
SETTINGS = ('epochs', 'subset', 'batch_size', 'amp', 'eval_amp', 'knn_train', 'knn_test', 'linear_epochs',
            'linear_subset', 'ft_epochs', 'ft_subset', 'smoke')

SMOKE = dict(epochs=2, subset=32, batch_size=16, seeds=[0], rows=['random', 'sdae', 'mae'],
             amp='fp32', eval_amp='fp32',  # bf16 on a few tiny steps is all kernel set-up
             knn_train=None, knn_test=None, linear_epochs=1, linear_subset=32, ft_epochs=2,
             ft_subset=32, ft_rows=None, linear_rows=None, curve_rows=['sdae', 'mae'],
             workers=0, logger_interval=1, threads=1)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--rows', nargs='+', default=list(ROWS), choices=list(ROWS),
                        help='rows to run (random is the floor)')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1],
                        help='seeds of the main rows (SdAE and MAE, decoder depth 2 and 8); '
                        'the other rows use the first')
    parser.add_argument('--epochs', type=int, default=6, help='pretraining epochs (>= 2)')
    parser.add_argument('--subset', type=int, default=8192,
                        help='pretraining images (the first N of the train split; 0: all 60k)')
    parser.add_argument('--batch-size', type=int, default=128, help='pretraining batch')
    parser.add_argument('--amp', choices=['bf16', 'fp32'], default='fp32',
                        help='precision of the stages that train an encoder (pretraining, '
                        'fine-tuning); bf16: CPU autocast (AMX)')
    parser.add_argument('--eval-amp', choices=['bf16', 'fp32'], default='bf16',
                        help='precision of the stages with a frozen encoder (kNN features, '
                        'linear probe)')
    parser.add_argument('--knn-train', type=int, default=10000,
                        help='kNN memory bank: the first N train images (0: all 60k)')
    parser.add_argument('--knn-test', type=int, default=5000,
                        help='kNN queries: the first N test images (0: all 10k)')
    parser.add_argument('--linear-epochs', type=int, default=3)
    parser.add_argument('--linear-subset', type=int, default=8192)
    parser.add_argument('--linear-rows', nargs='+', choices=list(ROWS),
                        help='rows with a linear probe (default: all)')
    parser.add_argument('--ft-epochs', type=int, default=2, help='fine-tune epochs (>= 2)')
    parser.add_argument('--ft-subset', type=int, default=8192)
    parser.add_argument('--ft-rows', nargs='+', choices=list(ROWS),
                        default=['random', 'sdae', 'mae'], help='rows that are fine-tuned')
    parser.add_argument('--curve-rows', nargs='+', choices=list(ROWS), default=['sdae', 'mae'],
                        help='rows with kNN after every epoch (the plot), first seed only')
    parser.add_argument('--workers', type=int, default=2, help='dataloader workers')
    parser.add_argument('--threads', type=int, default=0,
                        help='torch threads of every stage (OMP_NUM_THREADS); 0: torch default')
    parser.add_argument('--logger-interval', type=int, default=20)
    parser.add_argument('--data-root', default='data/fashion_mnist')
    parser.add_argument('--work-dir', default='work_dirs/mini')
    parser.add_argument('--out', default='docs/results_mini.md')
    parser.add_argument('--plot', help='PNG path (default: --out with _knn.png)')
    parser.add_argument('--keep-checkpoints', action='store_true',
                        help='keep every epoch checkpoint (default: only the last)')
    parser.add_argument('--smoke', action='store_true',
                        help='CI preset: 2 tiny epochs of SdAE and MAE on a few images, every '
                        'stage once (overrides the size options)')
    parser.add_argument('--dry-run', action='store_true', help='print the plan, run nothing')
    args = parser.parse_args(argv)
    if args.smoke:
        for key, value in SMOKE.items():
            setattr(args, key, value)
    if args.linear_rows is None:
        args.linear_rows = list(args.rows)
    if args.ft_rows is None:
        args.ft_rows = list(args.rows)
    if args.epochs < 2 or args.ft_epochs < 2 or args.linear_epochs < 1:
        parser.error('--epochs and --ft-epochs must be >= 2 (warm-up epoch + cosine), '
                     '--linear-epochs >= 1')
    if 'random' not in args.rows:
        args.rows = ['random'] + list(args.rows)  # the floor is always reported
    args.plot = args.plot or str(Path(args.out).with_suffix('')) + '_knn.png'
    return args


def _indices(n: int) -> str:
    return 'None' if not n else str(n)


def amp_options(amp: str, kind: str) -> List[str]:
    """``--cfg-options`` that switch a config to bf16 CPU autocast (training and test)."""
    if amp != 'bf16':
        return []
    opts = ['optim_wrapper.type=CPUAutocastOptimWrapper', 'optim_wrapper.dtype=bfloat16']
    if kind != 'pretrain':
        opts.append('val_cfg.fp16=True')  # MMEngine's CPU autocast is bf16
    return opts


class Sweep:
    """Runs the stages, records results and commands, writes the report."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work = Path(args.work_dir).resolve()
        self.data_root = self.rel(args.data_root)  # commands run from the repository root
        self.results_path = self.work / 'results.json'
        self.results: Dict[str, dict] = {}
        settings = {k: getattr(args, k) for k in SETTINGS}
        settings['data_root'] = str(Path(args.data_root).resolve())
        if self.results_path.exists() and not args.dry_run:
            self.results = json.loads(self.results_path.read_text())
            if self.results.get('_settings', settings) != settings:
                raise SystemExit(
                    f'{self.results_path} holds results of other settings '
                    f'({self.results["_settings"]}); use another --work-dir or delete it.')
        self.results['_settings'] = settings
        self.commands: List[str] = []
        self.started = time.time()

    # ------------------------------------------------------------------ bookkeeping
    def log(self, msg: str) -> None:
        print(f'[mini {datetime.datetime.now():%H:%M:%S}] {msg}', flush=True)

    def save(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        tmp = self.results_path.with_suffix('.tmp')
        tmp.write_text(json.dumps(self.results, indent=1, sort_keys=True))
        tmp.replace(self.results_path)

    @staticmethod
    def rel(path) -> str:
        """``path`` relative to the repository root if it is inside it, else absolute."""
        path = Path(path)
        try:
            return str(path.resolve().relative_to(ROOT))
        except ValueError:
            return str(path.resolve())

    @staticmethod
    def command_line(cmd: List[str]) -> str:
        shown = ['python' if c == sys.executable else c for c in cmd]
        return ' '.join(shlex.quote(c) for c in shown)

    def run(self, key: str, cmd: List[str], in_process=None) -> Optional[float]:
        """Run one command (a subprocess, or ``in_process(argv)``); return its wall time."""
        line = self.command_line(cmd)
        self.commands.append(line)
        if self.args.dry_run:
            print(line)
            return None
        self.log(f'{key}: {line}')
        start = time.time()
        if in_process is not None:
            code = in_process(cmd[2:])
            if code not in (0, None):
                raise RuntimeError(f'{key} failed ({code}): {line}')
        else:
            log_file = self.work / 'logs' / (key.replace('/', '_') + '.log')
            log_file.parent.mkdir(parents=True, exist_ok=True)
            env = dict(os.environ)
            if self.args.threads:
                env['OMP_NUM_THREADS'] = env['MKL_NUM_THREADS'] = str(self.args.threads)
            with open(log_file, 'w') as out:
                proc = subprocess.run(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                      env=env)
            if proc.returncode != 0:
                tail = log_file.read_text()[-4000:]
                raise RuntimeError(f'{key} failed (exit {proc.returncode}): {line}\n{tail}')
        return round(time.time() - start, 1)

    # ------------------------------------------------------------------ stages
    def has_curve(self, row: str, seed: int) -> bool:
        return row in self.args.curve_rows and seed == self.args.seeds[0]

    def seeds_of(self, row: str) -> List[int]:
        return list(self.args.seeds) if row in MAIN_ROWS else [self.args.seeds[0]]

    def train_cmd(self, config: str, work_dir: Path, options: List[str]) -> List[str]:
        return [sys.executable, 'tools/train.py', config, '--work-dir', self.rel(work_dir),
                '--cfg-options', *options]

    def pretrain(self, row: str, seed: int) -> Path:
        a = self.args
        config = ROWS[row][0]
        run_dir = self.work / f'{row}_s{seed}'
        final = run_dir / f'epoch_{a.epochs}.pth'
        key = f'pretrain/{row}/s{seed}'
        keep = -1 if (self.has_curve(row, seed) or a.keep_checkpoints) else 1
        options = [f'randomness.seed={seed}', f'train_cfg.max_epochs={a.epochs}',
                   f'param_scheduler.1.T_max={a.epochs - 1}', f'param_scheduler.1.end={a.epochs}',
                   f'train_dataloader.batch_size={a.batch_size}',
                   f'train_dataloader.num_workers={a.workers}',
                   f'train_dataloader.dataset.indices={_indices(a.subset)}',
                   f'train_dataloader.dataset.data_root={self.data_root}',
                   f'default_hooks.checkpoint.max_keep_ckpts={keep}',
                   f'default_hooks.logger.interval={a.logger_interval}',
                   *amp_options(a.amp, 'pretrain')]
        if key in self.results and final.exists():
            self.commands.append(self.command_line(self.train_cmd(config, run_dir, options)))
            return final
        if run_dir.exists() and not a.dry_run:
            shutil.rmtree(run_dir)  # an interrupted run restarts from scratch
        wall = self.run(key, self.train_cmd(config, run_dir, options))
        if not a.dry_run:
            self.results[key] = dict(wall_s=wall, epochs=a.epochs, checkpoint=str(final))
            self.save()
        return final

    def random_backbone(self, seed: int) -> Path:
        """The SdAE config's encoder at initialization, written as a backbone checkpoint."""
        out = self.work / f'random_s{seed}' / 'backbone.pth'
        key = f'pretrain/random/s{seed}'
        line = ('python -c "from mmengine.config import Config; '
                'from sdae_plugin.evaluation import random_encoder_state; '
                'from sdae_plugin.engine.checkpoint_io import save_backbone; '
                f"save_backbone(random_encoder_state(Config.fromfile('{ROWS['sdae'][0]}').model, "
                f"{seed}), '{self.rel(out)}')\"")
        self.commands.append(line)
        if self.args.dry_run or (key in self.results and out.exists()):
            return out
        from mmengine.config import Config
        from sdae_plugin.engine.checkpoint_io import save_backbone
        from sdae_plugin.evaluation import random_encoder_state
        out.parent.mkdir(parents=True, exist_ok=True)
        state = random_encoder_state(Config.fromfile(str(ROOT / ROWS['sdae'][0])).model, seed)
        save_backbone(state, str(out))
        self.results[key] = dict(wall_s=0.0, epochs=0, checkpoint=str(out))
        self.save()
        return out

    def extract(self, row: str, seed: int, ckpt: Path) -> Path:
        if row == 'random':
            return ckpt
        out = ckpt.parent / 'backbone.pth'
        cmd = [sys.executable, 'tools/extract_backbone.py', self.rel(ckpt), self.rel(out)]
        key = f'extract/{row}/s{seed}'
        if key in self.results and out.exists():
            self.commands.append(self.command_line(cmd))
            return out
        sys.path.insert(0, str(ROOT / 'tools'))
        import extract_backbone
        wall = self.run(key, cmd, in_process=extract_backbone.main)
        if not self.args.dry_run:
            self.results[key] = dict(backbone=str(out), wall_s=wall)
            self.save()
        return out

    def knn(self, key: str, ckpts: List[Path], random_seed: Optional[int] = None,
            pixels: bool = False) -> List[dict]:
        """kNN of checkpoints, of the SdAE config's encoder at init (``random_seed``), or of the
        raw pixels (``pixels``)."""
        a = self.args
        json_out = self.work / 'knn' / (key.replace('/', '_') + '.json')
        if pixels:
            source = ['--pixels']
        elif random_seed is not None:
            source = ['--random-init', ROWS['sdae'][0], '--seed', str(random_seed)]
        else:
            source = list(map(self.rel, ckpts))
        cmd = [sys.executable, 'tools/knn_eval.py', *source, '--config',
               KNN_CFG, '--amp', a.eval_amp, '--out-json', self.rel(json_out), '--cfg-options',
               f'train_dataloader.dataset.indices={_indices(a.knn_train)}',
               f'test_dataloader.dataset.indices={_indices(a.knn_test)}',
               f'train_dataloader.dataset.data_root={self.data_root}',
               f'test_dataloader.dataset.data_root={self.data_root}']
        if key in self.results:
            self.commands.append(self.command_line(cmd))
            return self.results[key]['rows']
        sys.path.insert(0, str(ROOT / 'tools'))
        import knn_eval
        wall = self.run(key, cmd, in_process=lambda argv: knn_eval.main(argv) and 0)
        if a.dry_run:
            return []
        rows = json.loads(json_out.read_text())
        self.results[key] = dict(rows=rows, wall_s=wall)
        self.save()
        return rows

    def downstream(self, kind: str, row: str, seed: int, backbone: Path) -> Optional[float]:
        a = self.args
        config, epochs, subset = ((LINEAR_CFG, a.linear_epochs, a.linear_subset) if kind == 'linear'
                                  else (FT_CFG, a.ft_epochs, a.ft_subset))
        run_dir = self.work / f'{row}_s{seed}_{kind}'
        key = f'{kind}/{row}/s{seed}'
        sched = ([f'param_scheduler.0.T_max={epochs}', f'param_scheduler.0.end={epochs}']
                 if kind == 'linear' else
                 [f'param_scheduler.1.T_max={epochs - 1}', f'param_scheduler.1.end={epochs}'])
        options = [f'model.backbone.init_cfg.checkpoint={self.rel(backbone)}',
                   f'randomness.seed={seed}',
                   f'train_cfg.max_epochs={epochs}', *sched,
                   f'train_dataloader.num_workers={a.workers}',
                   f'train_dataloader.dataset.indices={_indices(subset)}',
                   f'train_dataloader.dataset.data_root={self.data_root}',
                   f'val_dataloader.dataset.data_root={self.data_root}',
                   f'test_dataloader.dataset.data_root={self.data_root}',
                   f'default_hooks.logger.interval={a.logger_interval}',
                   *amp_options(a.eval_amp if kind == 'linear' else a.amp, kind)]
        if a.smoke:  # the tiny idx set has fewer images than one default batch
            options += ['train_dataloader.batch_size=16']
        cmd = self.train_cmd(config, run_dir, options)
        if key in self.results:
            self.commands.append(self.command_line(cmd))
            return self.results[key]['top1']
        if run_dir.exists() and not a.dry_run:
            shutil.rmtree(run_dir)
        wall = self.run(key, cmd)
        if a.dry_run:
            return None
        top1 = last_metric(run_dir, 'accuracy/top1')
        self.results[key] = dict(top1=top1, wall_s=wall)
        self.save()
        for ckpt in run_dir.glob('*.pth'):  # the classifier is not needed afterwards
            ckpt.unlink()
        return top1

    # ------------------------------------------------------------------ the sweep
    def pixels_top1(self) -> Optional[float]:
        """kNN top-1 on the normalized pixels: what an encoder must beat to be of use."""
        rows = self.knn('knn/pixels', [], pixels=True)
        return rows[0]['top1_pixels'] if rows else None

    def sweep(self) -> List[dict]:
        a = self.args
        runs = []
        for row in a.rows:
            for seed in self.seeds_of(row):
                run = dict(row=row, seed=seed, label=ROWS[row][1])
                if row == 'random':
                    backbone = self.random_backbone(seed)
                    run.update(epochs=0, wall_s=0.0)
                    knn_rows = self.knn(f'knn/{row}/s{seed}', [], random_seed=seed)
                    run['curve'] = []
                else:
                    final = self.pretrain(row, seed)
                    pre = self.results.get(f'pretrain/{row}/s{seed}', {})
                    run.update(epochs=a.epochs, wall_s=pre.get('wall_s'))
                    if self.has_curve(row, seed):
                        ckpts = [final.parent / f'epoch_{e}.pth' for e in range(1, a.epochs + 1)]
                        knn_rows = self.knn(f'knn/{row}/s{seed}', ckpts)
                        run['curve'] = [(e, r['top1_cls'], r['top1_mean'])
                                        for e, r in zip(range(1, a.epochs + 1), knn_rows)]
                        knn_rows = knn_rows[-1:]
                        if not a.keep_checkpoints and not a.dry_run:
                            for ckpt in ckpts[:-1]:
                                ckpt.unlink(missing_ok=True)
                    else:
                        knn_rows = self.knn(f'knn/{row}/s{seed}', [final])
                        run['curve'] = []
                    backbone = self.extract(row, seed, final)
                if knn_rows:
                    run.update(knn_cls=knn_rows[-1]['top1_cls'],
                               knn_mean=knn_rows[-1]['top1_mean'])
                if row in a.linear_rows:
                    run['linear'] = self.downstream('linear', row, seed, backbone)
                if row in a.ft_rows:
                    run['ft'] = self.downstream('ft', row, seed, backbone)
                runs.append(run)
        return runs


def last_metric(run_dir: Path, key: str) -> float:
    """The last logged value of ``key`` in an MMEngine work dir's ``vis_data/scalars.json``."""
    values = []
    for log in sorted(run_dir.glob('*/vis_data/scalars.json')):
        for line in log.read_text().splitlines():
            entry = json.loads(line)
            if key in entry:
                values.append(float(entry[key]))
    if not values:
        raise RuntimeError(f'no {key!r} in {run_dir}/*/vis_data/scalars.json')
    return round(values[-1], 2)


# ---------------------------------------------------------------------- the report
def machine() -> str:
    import torch
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
        amx = 'amx_bf16' in Path('/proc/cpuinfo').read_text()
    except OSError:
        amx = False
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    return (f'{cpu}, {cores} cores available, AMX-bf16: {"yes" if amx else "no"}; '
            f'{platform.system()} {platform.release()}, Python {platform.python_version()}, '
            f'torch {torch.__version__} ({torch.get_num_threads()} threads)')


def _count(n: int, split: str) -> str:
    return f'the first {n} {split} images' if n else f'all {split} images'


def _fmt(value, digits: int = 2) -> str:
    return '—' if value is None else f'{value:.{digits}f}'


def summarize(runs: List[dict], row: str, metric: str):
    values = [r[metric] for r in runs if r['row'] == row and r.get(metric) is not None]
    if not values:
        return None, None, 0
    spread = (max(values) - min(values)) / 2 if len(values) > 1 else None
    return statistics.mean(values), spread, len(values)


def plot(runs: List[dict], path: str, floor: Optional[float],
         floor_mean: Optional[float] = None, pixels: Optional[float] = None) -> bool:
    curves = [r for r in runs if r.get('curve')]
    if not curves:
        return False
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    colours = {'sdae': 'tab:blue', 'mae': 'tab:orange'}
    for i, run in enumerate(curves):
        colour = colours.get(run['row'], f'C{i + 2}')
        epochs = [0] + [c[0] for c in run['curve']] if floor is not None else \
            [c[0] for c in run['curve']]
        cls = ([floor] if floor is not None else []) + [c[1] for c in run['curve']]
        ax.plot(epochs, cls, '-o', color=colour, markersize=3,
                label=f'{run["row"]} seed {run["seed"]} (cls)',
                alpha=1.0 if run['seed'] == curves[0]['seed'] else 0.6)
        start = [(0, floor_mean)] if floor_mean is not None else []
        mean = start + [(c[0], c[2]) for c in run['curve']]
        ax.plot([e for e, _ in mean], [v for _, v in mean], ':', color=colour, alpha=0.7,
                label=f'{run["row"]} seed {run["seed"]} (mean-pool)')
    if floor is not None:
        ax.axhline(floor, color='grey', linestyle='--', linewidth=1, label='random init (cls)')
    if pixels is not None:
        ax.axhline(pixels, color='black', linestyle='-.', linewidth=1, label='raw pixels')
    ax.set_xlabel('pretraining epoch')
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel('kNN top-1 on the test split (%)')
    ax.set_title('Fashion-MNIST, weighted kNN (k=20, T=0.07)')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc='lower right')
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return True


def write_report(sweep: Sweep, runs: List[dict], pixels: Optional[float] = None) -> str:
    from mmengine.config import Config
    a = sweep.args
    arch = Config.fromfile(str(ROOT / ROWS['sdae'][0])).vit_arch
    total = time.time() - sweep.started
    lines = ['# SdAE vs MAE in miniature: Fashion-MNIST evidence', '',
             f'Written by `tools/reproduce_mini.py` on {datetime.datetime.now():%Y-%m-%d %H:%M} '
             f'(sweep wall time of this invocation: {total / 60:.1f} min; stages already done in '
             f'`{sweep.rel(sweep.work)}/results.json` were not rerun).', '',
             f'**Machine:** {machine()}', '',
             f'**Setup:** a ViT with {arch.num_layers} blocks of width {arch.embed_dims} '
             f'({arch.num_heads} heads) on 32x32 grey images, patch 4 '
             f'(64 patches), mask ratio 0.75. Pretraining: {a.epochs} epochs on '
             f'{_count(a.subset, "training")}, batch {a.batch_size}, AdamW lr 1.5e-3, '
             f'1 warm-up epoch + cosine. Precision: {a.amp} for pretraining and fine-tuning, '
             f'{a.eval_amp} for kNN features and the linear probe. kNN: k=20, T=0.07, memory bank: '
             f'{_count(a.knn_train, "training")}, queries: {_count(a.knn_test, "test")}. '
             f'Linear probe: {a.linear_epochs} epochs on {_count(a.linear_subset, "training")} '
             '(frozen encoder, cls token, BatchNorm + linear head, SGD). Fine-tune: '
             f'{a.ft_epochs} epochs on {_count(a.ft_subset, "training")} '
             '(layer decay 0.75, AdamW). Every number is top-1 (%) on the Fashion-MNIST test '
             'split, measured once after the last epoch; no setting was chosen on it.', '',
             f'**Seeds:** {", ".join(map(str, a.seeds))} for the main rows '
             f'({", ".join(f"`{r}`" for r in MAIN_ROWS)}), '
             f'{a.seeds[0]} for the others (the seed of pretraining and of its evaluations).', '']
    # per-run table
    lines += ['## Every run', '',
              '| method | row | seed | epochs | wall time (min) | kNN top-1 cls | '
              'kNN top-1 mean-pool | linear top-1 | fine-tune top-1 |',
              '|---|---|---|---|---|---|---|---|---|']
    for r in runs:
        wall = None if r.get('wall_s') is None else r['wall_s'] / 60
        lines.append(f'| {r["label"]} | `{r["row"]}` | {r["seed"]} | {r["epochs"]} | '
                     f'{_fmt(wall)} | {_fmt(r.get("knn_cls"))} | {_fmt(r.get("knn_mean"))} | '
                     f'{_fmt(r.get("linear"))} | {_fmt(r.get("ft"))} |')
    lines += ['', '— : not run for this row (see the options below).', '']
    if pixels is not None:
        lines += [f'No-network reference: weighted kNN on the normalized 32x32 pixels, the same '
                  f'memory bank and queries: **{pixels:.2f}**.', '']
    # summary over seeds
    multi = [row for row in dict.fromkeys(r['row'] for r in runs)
             if sum(1 for r in runs if r['row'] == row) > 1]
    if multi:
        lines += ['## Mean over seeds (± half the range)', '',
                  '| row | seeds | ' + ' | '.join(name for _, name in METRICS) + ' |',
                  '|---|---|' + '---|' * len(METRICS)]
        for row in multi:
            cells = []
            for metric, _ in METRICS:
                mean, spread, n = summarize(runs, row, metric)
                cells.append('—' if mean is None else
                             f'{mean:.2f}' + ('' if spread is None else f' ± {spread:.2f}'))
            n = sum(1 for r in runs if r['row'] == row)
            lines.append(f'| `{row}` | {n} | ' + ' | '.join(cells) + ' |')
        lines.append('')
    # orderings
    lines += ['## The paper\'s orderings at this scale', '',
              'Computed from the tables (means over the seeds that ran). "within noise": the '
              'difference is smaller than the seed spread of the SdAE row (half its range), '
              'so this run cannot tell.', '',
              '| claim | paper | metric | better row | worse row | difference | verdict |',
              '|---|---|---|---|---|---|---|']
    noise = {m: summarize(runs, 'sdae', m)[1] for m, _ in METRICS}
    for claim, better, worse, ref in CLAIMS:
        for metric, name in METRICS:
            hi, _, _ = summarize(runs, better, metric)
            lo, _, _ = summarize(runs, worse, metric)
            if hi is None or lo is None:
                continue
            diff = hi - lo
            spread = noise.get(metric)
            if spread is not None and abs(diff) <= spread:
                verdict = 'within noise'
            else:
                verdict = 'holds' if diff > 0 else 'does not hold'
            lines.append(f'| {claim} | {ref} | {name} | `{better}` {hi:.2f} | `{worse}` '
                         f'{lo:.2f} | {diff:+.2f} | {verdict} |')
    lines += ['', 'One seed per ablation row: read single-seed differences of about a point or '
              'less as noise unless the SdAE seeds agree closely.', '']
    spent = {}
    for key, value in sweep.results.items():
        if isinstance(value, dict) and value.get('wall_s') is not None:
            stage = key.split('/')[0]
            spent[stage] = spent.get(stage, 0.0) + value['wall_s']
    lines += ['## Where the time went (all runs in the work dir, minutes)', '',
              '| ' + ' | '.join(spent) + ' | total |', '|' + '---|' * (len(spent) + 1),
              '| ' + ' | '.join(f'{v / 60:.1f}' for v in spent.values())
              + f' | {sum(spent.values()) / 60:.1f} |', '']
    if Path(a.plot).exists():
        rel = os.path.relpath(Path(a.plot).resolve(), Path(a.out).resolve().parent)
        lines += ['## kNN top-1 vs. pretraining epoch', '', f'![kNN vs epoch]({rel})', '',
                  'Solid: cls token; dotted: mean-pooled patch tokens; epoch 0 and the dashed '
                  'line: the random-init encoder (seed of the first run); dash-dotted: kNN on '
                  'the raw pixels.', '']
    reading = Path(a.out).with_name(Path(a.out).stem + '_reading.md')
    if reading.exists():
        lines += ['## Reading', '', f'Hand-written, kept in `{reading.name}`; it reads the numbers '
                  'above as they were when it was written.', '', reading.read_text().strip(), '']
    lines += ['## Commands', '',
              'From the repository root, in this order (`tools/reproduce_mini.py` runs them; '
              'extraction and kNN run in its own process with exactly these arguments). '
              'The sweep itself:', '', '```', 'python tools/reproduce_mini.py '
              + ' '.join(shlex.quote(x) for x in sys.argv[1:]), '```', '', '```']
    lines += sweep.commands
    lines += ['```', '']
    return '\n'.join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    for key in ('work_dir', 'out', 'plot', 'data_root'):  # before moving to the repository root
        setattr(args, key, str(Path(getattr(args, key)).resolve()))
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)  # the in-process stages (kNN, extraction)
    cwd = os.getcwd()
    os.chdir(ROOT)  # every command is written and run relative to the repository root
    try:
        return _run_sweep(args)
    finally:
        os.chdir(cwd)


def bf16_available() -> bool:
    """Whether ``import sdae_plugin`` registers ``CPUAutocastOptimWrapper`` (configs import only
    ``sdae_plugin``; MMEngine imports ``custom_imports`` before ``--cfg-options`` apply)."""
    import sdae_plugin  # noqa: F401
    from mmpretrain.registry import OPTIM_WRAPPERS
    return OPTIM_WRAPPERS.get('CPUAutocastOptimWrapper') is not None


def _run_sweep(args: argparse.Namespace) -> int:
    if not args.dry_run and not (Path(args.data_root) / 'train-images-idx3-ubyte').exists():
        print(f'No Fashion-MNIST in {args.data_root}: run tools/fetch_fashion_mnist.sh first.',
              file=sys.stderr)
        return 2
    if 'bf16' in (args.amp, args.eval_amp) and not args.dry_run and not bf16_available():
        print('--amp bf16 needs CPUAutocastOptimWrapper registered by `import sdae_plugin` '
              '(sdae_plugin/engine/__init__.py: from .cpu_amp import CPUAutocastOptimWrapper); '
              'or use --amp fp32.', file=sys.stderr)
        return 2
    sweep = Sweep(args)
    pixels = sweep.pixels_top1()
    runs = sweep.sweep()
    if args.dry_run:
        print(f'# {len(sweep.commands)} commands; outputs: {args.out}, {args.plot}')
        return 0
    floor = next((r for r in runs if r['row'] == 'random'), {})
    plot(runs, args.plot, floor.get('knn_cls'), floor.get('knn_mean'), pixels)
    report = write_report(sweep, runs, pixels)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(report)
    sweep.log(f'wrote {args.out} and {args.plot}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
