"""The sweep's options: sizes, rows, seeds, precision, paths, and its named presets.

:func:`make_settings` turns options (the tool's flags, or keyword arguments) into a checked
:class:`SweepSettings`. A preset is a dict of defaults for the options (a named size of the whole
sweep, e.g. the CI-sized ``smoke``); options given with it override its values. Adding one is adding
an entry to :data:`PRESETS`.
"""
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Dict, List, Optional

from .rows import MAIN_ROWS, ROWS

# The rows of the learning and gpu presets: the floor, SdAE vs MAE (Table 2), and the ablations
# of Table 1, Table 5 and Fig. 4a
LEARNING_ROWS = ['random', 'sdae', 'mae', 'teacher-full-image', 'teacher-only-masked',
                 'no-target-norm', 'ema-per-iter']

PRESETS: Dict[str, dict] = {
    # The learning regime on a 2-core CPU machine, in about two hours (sized in
    # docs/results_mini_pilot.md): 100 epochs, so the per-epoch teacher gets 100 EMA updates (the
    # paper's shortest schedule), of 16 steps (512 images, batch 32: 1,600 steps); 4 learning
    # rates for SdAE and for MAE on seed 0, chosen on validation images; 3 seeds of every row:
    # SdAE and MAE (linear probe and fine-tuning), the floor, and the ablations (linear probe; at
    # this size their differences are within the spread over seeds, so one seed would not tell).
    # fp32 throughout: without AMX, bf16 autocast on a CPU is several times slower than fp32.
    'learning': dict(epochs=100, subset=512, batch_size=32, seeds=[0, 1, 2], rows=LEARNING_ROWS,
                     main_rows=LEARNING_ROWS, lrs=[2.5e-4, 5e-4, 1e-3, 2e-3],
                     tune_rows=['sdae', 'mae'], amp='fp32', eval_amp='fp32', knn_train=5000,
                     knn_test=5000, linear_epochs=10, linear_subset=2048, linear_rows=None,
                     ft_epochs=4, ft_subset=2048, ft_rows=['random', 'sdae', 'mae'],
                     curve_rows=['sdae', 'mae'], monitor_interval=25, monitor_bank=1000,
                     workers=0, work_dir='work_dirs/learning', out='docs/results_mini.md'),
    # The same rows on one GPU (H200-class) in one call of under 8 minutes, sized by arithmetic
    # (docs/results_mini_pilot.md): all 60k training images for 200 epochs (12M images per run;
    # the monitor's validation queries are then among the unlabelled pretraining images), batch
    # 2048 (29 steps per epoch), bf16 autocast, one seed, a grid of 3 learning rates for SdAE and
    # for MAE chosen on validation images (10 pretraining runs, ~44 PFLOP), pretraining batches
    # augmented on the device (MMPretrain's per-image pipeline would need ~49 CPU-minutes per
    # run), 10 stages at a time on the card.
    'gpu': dict(epochs=200, subset=0, batch_size=2048, seeds=[0], rows=LEARNING_ROWS,
                main_rows=LEARNING_ROWS, lrs=[1e-3, 2e-3, 4e-3], tune_rows=['sdae', 'mae'],
                amp='bf16', eval_amp='bf16', device='cuda', batched_data=True, jobs=10,
                knn_train=0, knn_test=0, linear_epochs=10, linear_subset=0, linear_rows=None,
                ft_epochs=10, ft_subset=0, ft_rows=['random', 'sdae', 'mae'],
                curve_rows=['sdae', 'mae'], monitor_interval=20, workers=1,
                work_dir='work_dirs/gpu', out='docs/results_mini_gpu.md'),
    # CI-sized: 2 tiny epochs of SdAE and MAE on a few images, every stage once, a learning
    # rate chosen on the monitor's validation images
    'smoke': dict(epochs=2, subset=32, batch_size=16, seeds=[0], rows=['random', 'sdae', 'mae'],
                  amp='fp32', eval_amp='fp32',  # bf16 on a few tiny steps is all kernel set-up
                  knn_train=None, knn_test=None, linear_epochs=1, linear_subset=32, ft_epochs=2,
                  ft_subset=32, ft_rows=None, linear_rows=None, curve_rows=['sdae', 'mae'],
                  lrs=[1e-3, 2e-3], monitor_interval=1, monitor_bank=32,
                  monitor_queries=[32, 48], workers=0, logger_interval=1, threads=1, smoke=True),
}

# Options that change results: a work dir's results.json is only reused with the same values.
# (Not the learning-rate grid: every stage that depends on a chosen rate names it in its key,
# so a grid can grow, and a choice change, without a stale result being reused.)
RESUME_KEYS = ('epochs', 'subset', 'batch_size', 'amp', 'eval_amp', 'knn_train', 'knn_test',
               'linear_epochs', 'linear_subset', 'ft_epochs', 'ft_subset', 'smoke',
               'monitor_interval', 'monitor_bank', 'monitor_queries', 'device')
# Options added since work dirs were first written: recorded only away from their default, so
# that those work dirs still resume.
LATER_RESUME_KEYS = {'batched_data': False}

AMP_CHOICES = ('bf16', 'fp32')
DEVICE_CHOICES = ('cpu', 'cuda')


class SweepInputError(ValueError):
    """Options or inputs the sweep cannot run with; the message says what to change."""


@dataclass
class SweepSettings:
    """Everything a sweep run depends on (see ``tools/reproduce_mini.py --help``).

    Subset sizes count the first N images of a split; 0 or None means the whole split.

    Learning rates: without ``lrs`` every row trains with its config's. With ``lrs`` (a grid of
    pretraining learning rates), each of ``tune_rows`` is pretrained on the first seed with
    every one of them, and the one with the best validation kNN (the kNN monitor's last
    evaluation, the better of its cls and mean-pool readouts; never the test split) is that
    row's for every seed; the other rows take their baseline row's.
    """
    rows: List[str] = field(default_factory=lambda: list(ROWS))
    seeds: List[int] = field(default_factory=lambda: [0, 1])
    main_rows: List[str] = field(default_factory=lambda: list(MAIN_ROWS))  # get every seed
    epochs: int = 6
    subset: Optional[int] = 8192
    batch_size: int = 128
    amp: str = 'fp32'  # stages that train an encoder (pretraining, fine-tuning)
    eval_amp: str = 'bf16'  # stages with a frozen encoder (kNN features, linear probe)
    knn_train: Optional[int] = 10000
    knn_test: Optional[int] = 5000
    linear_epochs: int = 3
    linear_subset: Optional[int] = 8192
    linear_rows: Optional[List[str]] = None  # None: every row of `rows` as given
    ft_epochs: int = 2
    ft_subset: Optional[int] = 8192
    ft_rows: Optional[List[str]] = field(default_factory=lambda: ['random', 'sdae', 'mae'])
    curve_rows: List[str] = field(default_factory=lambda: ['sdae', 'mae'])  # in the plot
    lrs: Optional[List[float]] = None
    tune_rows: List[str] = field(default_factory=lambda: ['sdae', 'mae'])
    monitor_interval: int = 10  # epochs between kNN monitor evaluations (validation images)
    monitor_bank: Optional[int] = None  # None: the config's memory bank (first N train images)
    monitor_queries: Optional[List[int]] = None  # [start, stop) train images; None: the config's
    device: str = 'cpu'  # 'cuda': autocast through MMEngine's AmpOptimWrapper
    # pretraining fetches a batch at a time and runs its augmentations on the device
    # (sdae_plugin.datasets: the same distributions, other random draws than per image)
    batched_data: bool = False
    jobs: int = 1  # stages run at a time (rows and seeds, and the grid's learning rates)
    workers: int = 2  # dataloader workers (none for batched pretraining: see stages)
    threads: int = 0  # OMP_NUM_THREADS of every stage; 0: torch's default
    logger_interval: int = 20
    data_root: str = 'data/fashion_mnist'
    work_dir: str = 'work_dirs/mini'
    out: str = 'docs/results_mini_short.md'  # the default sweep's; the presets name their own
    plot: Optional[str] = None  # default: `out` with _knn.png
    keep_checkpoints: bool = False
    smoke: bool = False  # the tiny idx set of the smoke preset: downstream batch 16
    dry_run: bool = False

    def resume_key(self) -> dict:
        """The values a work dir's ``results.json`` was made with (``_settings``)."""
        key = {name: getattr(self, name) for name in RESUME_KEYS}
        key.update({name: getattr(self, name) for name, default in LATER_RESUME_KEYS.items()
                    if getattr(self, name) != default})
        key['data_root'] = str(Path(self.data_root).resolve())
        return key

    def seeds_of(self, row: str) -> List[int]:
        """Every seed for the main rows, the first for the others."""
        return list(self.seeds) if row in self.main_rows else [self.seeds[0]]



def make_settings(preset: Optional[str] = None, **options) -> SweepSettings:
    """Checked settings from ``options`` (names of :class:`SweepSettings`) over ``preset``'s.

    The floor row (``random``) is always added; paths become absolute (relative to the current
    directory). Raises :class:`SweepInputError` naming the option to change.
    """
    names = {f.name for f in fields(SweepSettings)}
    unknown = sorted(set(options) - names)
    if unknown:
        raise SweepInputError(f'unknown sweep options {unknown}; known: {sorted(names)}')
    if preset is not None:
        if preset not in PRESETS:
            raise SweepInputError(f'unknown preset {preset!r}; known: {sorted(PRESETS)}')
        options = {**PRESETS[preset], **options}
    settings = SweepSettings(**options)
    for name in ('rows', 'main_rows', 'linear_rows', 'ft_rows', 'curve_rows', 'tune_rows'):
        bad = sorted(set(getattr(settings, name) or ()) - set(ROWS))
        if bad:
            raise SweepInputError(f'{name}: unknown rows {bad}; known: {list(ROWS)}')
    for name in ('amp', 'eval_amp'):
        if getattr(settings, name) not in AMP_CHOICES:
            raise SweepInputError(f'{name} must be one of {AMP_CHOICES}, '
                                  f'not {getattr(settings, name)!r}')
    if settings.device not in DEVICE_CHOICES:
        raise SweepInputError(f'device must be one of {DEVICE_CHOICES}, not {settings.device!r}')
    if settings.lrs is not None and (not settings.lrs or min(settings.lrs) <= 0):
        raise SweepInputError(f'lrs must be positive learning rates, got {settings.lrs}')
    if settings.jobs < 1:
        raise SweepInputError(f'jobs must be >= 1 (stages run at a time), got {settings.jobs}')
    if settings.monitor_interval < 1:
        raise SweepInputError('monitor_interval must be >= 1 (epochs between kNN evaluations)')
    if settings.monitor_queries is not None and not (
            len(settings.monitor_queries) == 2
            and 0 <= settings.monitor_queries[0] < settings.monitor_queries[1]):
        raise SweepInputError('monitor_queries is [start, stop) of training images, start < '
                              f'stop, got {settings.monitor_queries}')
    if settings.epochs < 2 or settings.ft_epochs < 2 or settings.linear_epochs < 1:
        raise SweepInputError('--epochs and --ft-epochs must be >= 2 (warm-up epoch + cosine), '
                         '--linear-epochs >= 1')
    if not settings.seeds:
        raise SweepInputError('give at least one seed')
    if settings.linear_rows is None:
        settings.linear_rows = list(settings.rows)
    if settings.ft_rows is None:
        settings.ft_rows = list(settings.rows)
    if 'random' not in settings.rows:
        settings.rows = ['random'] + list(settings.rows)  # the floor is always reported
    settings.plot = settings.plot or str(Path(settings.out).with_suffix('')) + '_knn.png'
    for name in ('work_dir', 'out', 'plot', 'data_root'):
        setattr(settings, name, str(Path(getattr(settings, name)).resolve()))
    return settings
