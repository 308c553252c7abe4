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
import warnings

# setuptools is pinned below 81 (mmcv 2.1.0's build needs pkg_resources); it warns on every import
# of pkg_resources, which MMEngine does at start-up. Nothing for a user to act on.
warnings.filterwarnings('ignore', message='pkg_resources is deprecated', category=UserWarning)
# MMPretrain 1.2's MNIST/Fashion-MNIST reader hands torch a read-only array (it only reads it).
warnings.filterwarnings('ignore', message='The given NumPy array is not writable',
                        module='mmpretrain.datasets.mnist')
# mmcv-lite (the pretraining profile) lacks the deformable-attention op; pretraining never calls it.
warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention``')

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import RUNNERS  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import sdae_plugin  # noqa: F401,E402  (before any config: `_base_ = 'sdae_plugin::NAME'`)
from sdae_plugin.runtime.train_options import (apply_train_options, check_train_config,  # noqa: E402
                                               setup_cpu_distributed)


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


def main() -> None:
    args = parse_args()
    cfg = apply_train_options(Config.fromfile(args.config), args)
    check_train_config(cfg)
    setup_cpu_distributed(cfg)
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    runner.train()


if __name__ == '__main__':
    main()
