"""What ``tools/train.py``'s options do to a config, and DDP on machines without GPUs.

``tools/train.py`` (and so ``mim train sdae_plugin``) parses the options MMPretrain's own
``tools/train.py`` has, plus ``--compile`` and ``--tensorboard``; :func:`apply_train_options`
applies them to the loaded config, :func:`check_train_config` runs this plugin's config checks,
and :func:`setup_cpu_distributed` makes ``--launcher pytorch`` work on CPUs.
"""
import argparse
import os.path as osp

import torch
from mmengine.config import Config, ConfigDict

from .compile_switch import enable_compiled_loss
from .config_check import check_custom_imports, check_teacher_update
from .tensorboard import enable_tensorboard

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def apply_train_options(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply ``tools/train.py``'s command-line options to the config (in place; returned).

    Args:
        cfg (Config): the loaded config.
        args (argparse.Namespace): ``config``, ``work_dir``, ``resume``, ``amp``, ``compile``,
            ``no_validate``, ``auto_scale_lr``, ``no_pin_memory``, ``no_persistent_workers``,
            ``tensorboard``, ``cfg_options``, ``launcher``.
    """
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.compile:
        enable_compiled_loss(cfg)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    _loader_defaults(cfg, args.no_pin_memory, args.no_persistent_workers)
    if args.tensorboard:
        enable_tensorboard(cfg)  # keeps the json log; a clear ImportError without tensorboard
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def _loader_defaults(cfg: Config, no_pin_memory: bool, no_persistent_workers: bool) -> None:
    """Pinned memory on GPU machines, persistent workers, and MMPretrain's stacking collate.

    MMPretrain's batches stack into one tensor; MMDetection/MMSegmentation batches hold images of
    different sizes and keep their own (pseudo) collate.
    """
    stack = cfg.get('default_scope', 'mmpretrain') == 'mmpretrain'
    for field in LOADERS:
        if cfg.get(field) is None:
            continue
        # pinned memory only helps copies to an accelerator (torch warns without one)
        loader = ConfigDict(pin_memory=torch.cuda.is_available(), persistent_workers=True)
        if stack:
            loader.collate_fn = dict(type='default_collate')
        loader.update(cfg[field])
        if no_pin_memory:
            loader.pin_memory = False
        if no_persistent_workers:
            loader.persistent_workers = False
        cfg[field] = loader


def check_train_config(cfg: Config) -> None:
    """This plugin's checks of a training config (see :mod:`.config_check`)."""
    check_custom_imports(cfg)
    check_teacher_update(cfg)


def setup_cpu_distributed(cfg: Config) -> None:
    """Make ``--launcher pytorch`` work without GPUs (e.g. tools/dist_train.sh CONFIG 2 on CPU).

    MMEngine 0.10.7 calls ``torch.cuda.set_device`` in its PyTorch launcher and wraps the model
    in DDP with ``device_ids=[LOCAL_RANK]``; both fail on a machine without CUDA. Here the
    process group is initialized first (backend ``env_cfg.dist_cfg.backend``, gloo by default),
    which MMEngine then keeps, and DDP gets ``device_ids=None`` (a CPU module).
    """
    import torch.distributed as dist
    if cfg.launcher != 'pytorch' or torch.cuda.is_available() or dist.is_initialized():
        return
    dist_cfg = dict(cfg.get('env_cfg', {}).get('dist_cfg', {}) or {})
    backend = dist_cfg.pop('backend', 'gloo')
    if backend != 'gloo':
        raise ValueError(f'env_cfg.dist_cfg.backend={backend!r} needs GPUs; without CUDA use '
                         '--cfg-options env_cfg.dist_cfg.backend=gloo.')
    dist.init_process_group(backend=backend, **dist_cfg)
    wrapper = ConfigDict(type='MMDistributedDataParallel', broadcast_buffers=False,
                         find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper.update(cfg.get('model_wrapper_cfg') or {})
    wrapper.device_ids = None
    cfg.model_wrapper_cfg = wrapper
