"""Train a model from a config: MMPretrain's tools/train.py interface, for sdae-plugin configs.

Example:
    python tools/train.py configs/sdae_vit-tiny_fashion-mnist_demo.py --work-dir work_dirs/demo
    python tools/train.py CONFIG --resume                 # resume from the latest checkpoint
    python tools/train.py CONFIG --resume PATH.pth        # resume from that checkpoint
    python tools/train.py CONFIG --cfg-options train_cfg.max_epochs=2
    python tools/train.py CONFIG --compile                # SdAE: compiled loss, one graph per run
"""
import argparse
import os
import os.path as osp
import warnings

# setuptools is pinned below 81 (mmcv 2.1.0's build needs pkg_resources); it warns on every import
# of pkg_resources, which MMEngine does at start-up. Nothing for a user to act on.
warnings.filterwarnings('ignore', message='pkg_resources is deprecated', category=UserWarning)
# MMPretrain 1.2's MNIST/Fashion-MNIST reader hands torch a read-only array (it only reads it).
warnings.filterwarnings('ignore', message='The given NumPy array is not writable',
                        module='mmpretrain.datasets.mnist')
# mmcv-lite (the pretraining profile) lacks the deformable-attention op; pretraining never calls it.
warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention``')

from mmengine.config import Config, ConfigDict, DictAction  # noqa: E402
from mmengine.registry import RUNNERS  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import sdae_plugin  # noqa: F401  (before any config: `_base_ = 'sdae_plugin::NAME'`)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from this checkpoint; without a path, from the latest '
                        'checkpoint in the work directory')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision (AmpOptimWrapper, dynamic loss scale)')
    parser.add_argument('--compile', action='store_true',
                        help="torch.compile SdAE's loss (model.compile_loss=True): compiled "
                        'once per run, forward and backward')
    parser.add_argument('--no-validate', action='store_true',
                        help='do not evaluate during training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by (actual batch / auto_scale_lr.base_batch_size)')
    parser.add_argument('--no-pin-memory', action='store_true',
                        help='disable pin_memory in the dataloaders')
    parser.add_argument('--no-persistent-workers', action='store_true',
                        help='disable persistent_workers in the dataloaders')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, key=value (lists as key="[a,b]")')
    parser.add_argument('--tensorboard', action='store_true',
                        help='also log scalars to TensorBoard (event files in '
                        'WORK_DIR/<timestamp>/vis_data; needs `pip install tensorboard`)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    # torch.distributed launchers pass --local-rank (torch >= 2) or --local_rank.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command-line options to the config."""
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
        from sdae_plugin.engine.compile_switch import enable_compiled_loss
        enable_compiled_loss(cfg)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True

    # MMPretrain's batches stack into one tensor; MMDetection/MMSegmentation batches hold images of
    # different sizes and keep their own (pseudo) collate.
    import torch
    stack = cfg.get('default_scope', 'mmpretrain') == 'mmpretrain'
    for field in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(field) is None:
            continue
        # pinned memory only helps copies to an accelerator (torch warns without one)
        loader = ConfigDict(pin_memory=torch.cuda.is_available(), persistent_workers=True)
        if stack:
            loader.collate_fn = dict(type='default_collate')
        loader.update(cfg[field])
        if args.no_pin_memory:
            loader.pin_memory = False
        if args.no_persistent_workers:
            loader.persistent_workers = False
        cfg[field] = loader

    if args.tensorboard:
        from sdae_plugin.visualization import enable_tensorboard
        enable_tensorboard(cfg)  # keeps the json log; a clear ImportError without tensorboard
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def setup_cpu_distributed(cfg: Config) -> None:
    """Make `--launcher pytorch` work without GPUs (e.g. tools/dist_train.sh CONFIG 2 on CPU).

    MMEngine 0.10.7 calls ``torch.cuda.set_device`` in its PyTorch launcher and wraps the model
    in DDP with ``device_ids=[LOCAL_RANK]``; both fail on a machine without CUDA. Here the
    process group is initialized first (backend ``env_cfg.dist_cfg.backend``, gloo by default),
    which MMEngine then keeps, and DDP gets ``device_ids=None`` (a CPU module).
    """
    import torch
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


def main() -> None:
    args = parse_args()
    cfg = merge_args(Config.fromfile(args.config), args)
    from sdae_plugin.engine.config_check import check_custom_imports
    check_custom_imports(cfg)
    setup_cpu_distributed(cfg)
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    runner.train()


if __name__ == '__main__':
    main()
