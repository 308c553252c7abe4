"""The sweep's protocol as its resolved configs state it: the report's setup, never restated.

Every value the report gives about the setup (encoder, data, epochs, batch, optimizer, schedule,
precision, kNN, linear probe, fine-tuning) is read here from the configs the stages run (config
file + the stage's ``--cfg-options``), so the report cannot drift from them.
"""
from dataclasses import dataclass
from typing import Any, Dict, List, Tuple

from mmengine.config import Config

from sdae_plugin.runtime.precision import DTYPES, SHORT_NAMES

SPLIT_NAMES = {'train': 'training', 'test': 'test'}
# scheduler fields that say when it runs, not what it does
SCHEDULE_TIMING = ('type', 'by_epoch', 'begin', 'end', 'convert_to_iter_based', 'T_max')


@dataclass
class Protocol:
    """The resolved configs of a sweep (:meth:`StagePlan.protocol` builds it).

    Args:
        pretrain: the main row's pretraining config.
        knn: the kNN data config (``train_dataloader``: memory bank, ``test_dataloader``:
            queries, ``knn``: k and temperature).
        knn_amp: ``tools/knn_eval.py --amp`` of the kNN stages.
        linear: the linear-probe config.
        ft: the fine-tuning config.
        rows: the pretraining config of every row, by row name (without the stages' options,
            which are the same for every row).
    """
    pretrain: Config
    knn: Config
    knn_amp: str
    linear: Config
    ft: Config
    rows: Dict[str, Config]


def flatten(node: Any, prefix: str = '') -> Dict[str, Any]:
    """``{'a.b.0.c': value}`` for nested dicts and lists (leaves: everything else)."""
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, (list, tuple)) and any(isinstance(v, (dict, list, tuple))
                                                 for v in node):
        items = enumerate(node)
    else:
        return {prefix[:-1]: node}
    out: Dict[str, Any] = {}
    for key, value in items:
        out.update(flatten(value, f'{prefix}{key}.'))
    return out


def config_changes(base: dict, other: dict) -> Dict[str, Tuple[Any, Any]]:
    """``{dotted key: (value in base, value in other)}`` where the two configs differ
    (a key missing on one side has the value ``None`` there)."""
    a, b = flatten(base), flatten(other)
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def value_text(value: Any) -> str:
    """A config value as the report writes it (floats without trailing noise)."""
    if isinstance(value, float):
        return f'{value:g}'
    if isinstance(value, (list, tuple)):
        return '(' + ', '.join(value_text(v) for v in value) + ')'
    return str(value)


def count_text(n: int, noun: str) -> str:
    """``'1 epoch'``, ``'3 epochs'``."""
    return f'{n} {noun}' + ('' if n == 1 else 's')


def images_text(dataset: dict) -> str:
    """Which images of a dataset config are used (``indices``: the first N, a list, or all)."""
    split = SPLIT_NAMES.get(dataset.get('split'), dataset.get('split'))
    indices = dataset.get('indices')
    if not indices:
        return f'all {split} images'
    if isinstance(indices, int):
        return f'the first {indices} {split} images'
    return f'{len(indices)} {split} images (indices {min(indices)}-{max(indices)})'


def resize_scale(dataset: dict) -> Any:
    """The ``scale`` of the ``Resize`` step of a dataset's pipeline (the images' size)."""
    return next(t['scale'] for t in dataset['pipeline'] if t['type'] == 'Resize')


def precision_text(cfg: Config) -> str:
    """``fp32`` or the autocast dtype of a training config's optimizer wrapper."""
    dtype = cfg.optim_wrapper.get('dtype')
    if dtype is None and cfg.optim_wrapper.get('type') == 'AmpOptimWrapper':
        dtype = 'float16'
    return SHORT_NAMES[DTYPES[dtype]] if dtype in DTYPES else (dtype or 'fp32')


def optimizer_text(cfg: Config) -> str:
    """``AdamW (lr 0.0015, betas (0.9, 0.95), weight decay 0.05)``, with the layer decay of the
    parameter groups when there is one."""
    optimizer = dict(cfg.optim_wrapper.optimizer)
    fields = [f'{k.replace("_", " ")} {value_text(v)}' for k, v in optimizer.items()
              if k != 'type']
    layer_decay = cfg.optim_wrapper.get('paramwise_cfg', {}).get('layer_decay_rate')
    if layer_decay is not None:
        fields.append(f'layer decay {value_text(layer_decay)}')
    return f'{optimizer["type"]} ({", ".join(fields)})'


def schedule_text(cfg: Config) -> str:
    """The learning-rate schedulers in order, each with its epochs and parameters."""
    parts = []
    for sched in cfg.param_scheduler:
        params = ', '.join(f'{k.replace("_", " ")} {value_text(v)}' for k, v in sched.items()
                           if k not in SCHEDULE_TIMING)
        parts.append(f'{sched["type"]}{f" ({params})" if params else ""} over epochs '
                     f'{sched.get("begin", 0)}-{sched.get("end", cfg.train_cfg.max_epochs)}')
    return ', then '.join(parts)


def training_text(cfg: Config) -> str:
    """Epochs, images, batch, optimizer, schedule and precision of a training config."""
    loader = cfg.train_dataloader
    return (f'{count_text(cfg.train_cfg.max_epochs, "epoch")} on '
            f'{images_text(loader.dataset)}, batch {loader.batch_size}; {optimizer_text(cfg)}; '
            f'{schedule_text(cfg)}; precision {precision_text(cfg)}')


def augmentation_text(cfg: Config) -> str:
    """The pretraining augmentations (the dataset pipeline's transforms) and where they run: per
    image in the dataloader, or a batch at a time on the device (``sdae_plugin.datasets``)."""
    loader = cfg.train_dataloader
    steps = ', '.join(f'`{t["type"]}`' for t in loader.dataset.pipeline
                      if t['type'] != 'PackInputs')
    preprocessor = cfg.get('data_preprocessor') or cfg.model.get('data_preprocessor') or {}
    if preprocessor.get('type') == 'BatchAugmentDataPreprocessor':
        return (f'{steps}, a batch at a time on the device (`{loader.dataset.type}` + '
                '`BatchAugmentDataPreprocessor`)')
    return f'{steps}, per image in the dataloader (`{loader.dataset.type}`)'


def encoder_text(cfg: Config) -> str:
    """The ViT of a pretraining config: depth, width, heads, MLP, image and patch size."""
    backbone = cfg.model.backbone
    arch = backbone.arch
    if isinstance(arch, dict):
        arch_text = (f'{arch["num_layers"]} blocks of width {arch["embed_dims"]} '
                     f'({arch["num_heads"]} heads, MLP {arch["feedforward_channels"]})')
    else:
        arch_text = f'arch {arch!r}'
    channels = backbone.get('patch_cfg', {}).get('in_channels', backbone.get('in_channels', 3))
    size, patch = backbone.img_size, backbone.patch_size
    return (f'`{backbone.type}`, {arch_text}, on {size}x{size} images with '
            f'{count_text(channels, "channel")}, patch {patch} ({(size // patch) ** 2} '
            f'patches), drop path {value_text(backbone.get("drop_path_rate", 0.0))}')


def mask_ratio(model: dict) -> Any:
    """The mask ratio of a pretraining model (SdAE: its mask generator; MAE: its backbone)."""
    return model.get('mask_generator', {}).get('mask_ratio', model['backbone'].get('mask_ratio'))


def evaluated_text(cfg: Config) -> str:
    """When a downstream config evaluates its test split."""
    split = cfg.test_dataloader.dataset.split
    if cfg.train_cfg.val_interval > cfg.train_cfg.max_epochs:
        return f'on the {split} split once, after the last epoch'
    return f'on the {split} split every {count_text(cfg.train_cfg.val_interval, "epoch")}'


def knn_text(cfg: Config) -> str:
    """``weighted kNN (k=20, T=0.07)`` from a kNN data config's ``knn`` entry."""
    return f'weighted kNN (k={cfg.knn.k}, T={value_text(cfg.knn.temperature)})'


def hook_of(cfg: Config, hook_type: str) -> dict:
    """The first of a config's ``custom_hooks`` of ``hook_type`` ({} without one)."""
    return next((dict(h) for h in cfg.get('custom_hooks', []) if h['type'] == hook_type), {})


def regime_text(cfg: Config) -> str:
    """Optimizer steps and teacher updates of a pretraining config (``drop_last`` batches)."""
    loader, epochs = cfg.train_dataloader, cfg.train_cfg.max_epochs
    indices = loader.dataset.get('indices')
    if isinstance(indices, int) and indices > 0:
        per_epoch = indices // loader.batch_size
        steps = (f'{per_epoch} optimizer steps per epoch, {per_epoch * epochs} in all')
    else:
        per_epoch, steps = None, 'steps per epoch: the split\'s size // the batch'
    ema = hook_of(cfg, 'TeacherEMAHook')
    if not ema:
        return f'{steps}; no teacher'
    momentum = (f'momentum {value_text(ema.get("base_momentum"))} -> '
                f'{value_text(ema.get("final_momentum"))}, cosine')
    if ema.get('interval', 'epoch') == 'epoch':
        updates = count_text(epochs, 'EMA update')
    else:
        updates = (f'{per_epoch * epochs} EMA updates' if per_epoch else 'an EMA update per step')
    return f'{steps}; teacher: {updates} ({momentum})'


def monitor_text(cfg: Config) -> str:
    """The kNN monitor of a pretraining config: when, what it reads, on which images."""
    monitor = hook_of(cfg, 'KNNMonitorHook')
    if not monitor:
        return 'none'
    return (f'weighted kNN (k={monitor.get("k", 20)}) of the '
            f'{monitor.get("encoder", "student")}\'s cls token and mean-pooled patch tokens at '
            f'initialization, every {count_text(monitor.get("interval", 1), "epoch")} and after '
            f'the last; memory bank: {images_text(monitor["bank_dataloader"]["dataset"])}, '
            f'queries: {images_text(monitor["query_dataloader"]["dataset"])}')


def describe(protocol: Protocol) -> List[str]:
    """The report's setup section (Markdown lines), every value read from ``protocol``."""
    pre, knn, linear, ft = protocol.pretrain, protocol.knn, protocol.linear, protocol.ft
    lin_backbone, ft_backbone = linear.model.backbone, ft.model.backbone
    return [
        f'- **Encoder** (`{pre.model.type}`): {encoder_text(pre)}; mask ratio '
        f'{value_text(mask_ratio(pre.model))}.',
        f'- **Pretraining**: {training_text(pre)}.',
        f'- **Regime**: {regime_text(pre)}.',
        f'- **Augmentation** (pretraining): {augmentation_text(pre)}.',
        f'- **kNN monitor** (validation: the curves and the learning-rate choice): '
        f'{monitor_text(pre)}.',
        f'- **kNN**: {knn_text(knn)} of the cls token and of the mean-pooled patch tokens; '
        f'memory bank: {images_text(knn.train_dataloader.dataset)}, queries: '
        f'{images_text(knn.test_dataloader.dataset)}; features in {protocol.knn_amp}.',
        f'- **Linear probe**: {training_text(linear)}; encoder frozen '
        f'({lin_backbone.frozen_stages} of {lin_backbone.arch["num_layers"]} blocks), feature '
        f'`{lin_backbone.out_type}`, neck `{linear.model.neck.type}`, head '
        f'`{linear.model.head.type}`; evaluated {evaluated_text(linear)}.',
        f'- **Fine-tuning**: {training_text(ft)}; feature `{ft_backbone.out_type}`, drop path '
        f'{value_text(ft_backbone.get("drop_path_rate", 0.0))}, loss '
        f'`{ft.model.head.loss.type}`'
        + (f' (label smoothing {value_text(ft.model.head.loss.label_smooth_val)})'
           if 'label_smooth_val' in ft.model.head.loss else '')
        + f'; evaluated {evaluated_text(ft)}.',
    ]
