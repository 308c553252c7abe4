"""The miniature sweep's rows (one method each), the paper's claims it checks, and its metrics.

A row is one pretraining config under ``configs/mini/``; what it changes against the main ``sdae``
row is read from the configs themselves (:func:`.protocol.config_changes`), so a label only names
a row. Adding a row or a claim is adding an entry here.

Configs are named as in ``sdae_plugin::NAME``: relative to the repository's ``configs/``
(:func:`.stages.config_file` gives the file a stage's command names).
"""
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

MINI = 'mini'
# the evaluation configs of every row (data, protocol); the sweep's options override sizes only
KNN_CONFIG = f'{MINI}/eval/knn_fashion-mnist.py'
LINEAR_CONFIG = f'{MINI}/eval/linear_vit-mini_fashion-mnist.py'
FT_CONFIG = f'{MINI}/eval/ft_vit-mini_fashion-mnist.py'


@dataclass(frozen=True)
class Row:
    """One method of the sweep.

    Args:
        name: the row's key (``--rows``, work dir names, ``results.json`` keys).
        config: its pretraining config, relative to ``configs/``.
        label: a short human name for the report.
        reference: where the paper makes the comparison (e.g. ``'Table 1'``), or ``''``.
        baseline: the row it changes one thing of (the report lists what, from the configs).
        pretrained: False for the floor: the config's encoder at its initialization.
    """
    name: str
    config: str
    label: str
    reference: str = ''
    baseline: Optional[str] = None
    pretrained: bool = True


@dataclass(frozen=True)
class Claim:
    """An ordering the paper reports: ``better`` beats ``worse`` (row names)."""
    text: str
    better: str
    worse: str
    reference: str = ''


SDAE_CONFIG = f'{MINI}/sdae_vit-mini_fashion-mnist.py'

ROWS: Dict[str, Row] = {row.name: row for row in (
    Row('random', SDAE_CONFIG, 'random init (floor)', baseline='sdae', pretrained=False),
    Row('sdae', SDAE_CONFIG, 'SdAE (multi-fold, norm. target, EMA/epoch, teacher random init, '
        'loss over tokens)', 'Table 2'),
    Row('mae', f'{MINI}/mae_vit-mini_fashion-mnist.py', 'MAE (pixels, norm_pix)', 'Table 2'),
    Row('teacher-full-image', f'{MINI}/sdae_vit-mini_teacher-full-image.py',
        'SdAE, teacher sees the full image', 'Table 1', 'sdae'),
    Row('teacher-only-masked', f'{MINI}/sdae_vit-mini_teacher-only-masked.py',
        'SdAE, teacher sees only the masked patches', 'Table 1', 'sdae'),
    Row('teacher-crop', f'{MINI}/sdae_vit-mini_teacher-crop.py',
        'SdAE, teacher crop of the masked patches', 'Table 1', 'sdae'),
    Row('no-target-norm', f'{MINI}/sdae_vit-mini_no-target-norm.py',
        'SdAE, no target normalization', 'Table 5', 'sdae'),
    Row('ema-per-iter', f'{MINI}/sdae_vit-mini_ema-per-iter.py', 'SdAE, EMA per iteration',
        'Fig. 4a', 'sdae'),
    Row('teacher-init-student', f'{MINI}/sdae_vit-mini_teacher-init-student.py',
        'SdAE, teacher initialized from the student', '', 'sdae'),
    Row('loss-features', f'{MINI}/sdae_vit-mini_loss-features.py',
        'SdAE, cosine over features (per token)', '', 'sdae'),
    Row('decoder-8', f'{MINI}/sdae_vit-mini_decoder-8.py', 'SdAE, deeper decoder', '', 'sdae'),
    Row('mae-decoder-8', f'{MINI}/mae_vit-mini_decoder-8.py', 'MAE, deeper decoder', 'Table 2',
        'mae'),
    Row('ema-paper-count', f'{MINI}/sdae_vit-mini_ema-paper-count.py',
        "SdAE, EMA per iteration (the paper's number of updates)", 'investigation', 'sdae'),
)}
# the row the setup is described from and the others are compared with
MAIN_ROW = 'sdae'
# these get every seed of the sweep; the others its first seed
MAIN_ROWS: Tuple[str, ...] = ('sdae', 'mae', 'decoder-8', 'mae-decoder-8')

CLAIMS: Tuple[Claim, ...] = (
    Claim('SdAE beats MAE at equal budget', 'sdae', 'mae', 'Table 2'),
    Claim('SdAE beats MAE, both with the deeper decoder', 'decoder-8', 'mae-decoder-8', 'Table 2'),
    Claim('multi-fold beats a full-image teacher', 'sdae', 'teacher-full-image', 'Table 1'),
    Claim('multi-fold beats an only-masked teacher', 'sdae', 'teacher-only-masked', 'Table 1'),
    Claim('multi-fold beats a teacher crop', 'sdae', 'teacher-crop', 'Table 1'),
    Claim('target normalization helps', 'sdae', 'no-target-norm', 'Table 5'),
    Claim('per-epoch EMA beats per-iteration EMA', 'sdae', 'ema-per-iter', 'Fig. 4a'),
    Claim('every pretraining beats random init', 'sdae', 'random'),
    Claim('(investigation) a teacher moved as far as in the paper helps', 'ema-paper-count',
          'sdae'),
)

# (key of a run's result, column name in the report)
METRICS: Tuple[Tuple[str, str], ...] = (
    ('knn_cls', 'kNN cls'), ('knn_mean', 'kNN mean'), ('linear', 'linear'), ('ft', 'fine-tune'))
