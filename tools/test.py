"""Evaluate a checkpoint with a config that has a test set: MMPretrain's tools/test.py interface.

Pretraining configs have no test set; use it with the downstream (fine-tune, linear probe)
configs. Example:
    python tools/test.py CONFIG CHECKPOINT --out results.pkl
    python tools/test.py CONFIG CHECKPOINT --out metrics.json --out-item metrics
"""
import argparse
import os
import os.path as osp

import mmengine
from mmengine.config import Config, ConfigDict, DictAction
from mmengine.evaluator import DumpResults
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import sdae_plugin  # noqa: F401  (before any config: `_base_ = 'sdae_plugin::NAME'`)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where the metrics file goes '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--out', help='file to write the predictions (or metrics) to')
    parser.add_argument('--out-item', choices=['metrics', 'pred'],
                        help='what --out holds (default: predictions)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, key=value (lists as key="[a,b]")')
    parser.add_argument('--amp', action='store_true', help='mixed-precision test')
    parser.add_argument('--no-pin-memory', action='store_true',
                        help='disable pin_memory in the dataloader')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    if args.out is None and args.out_item is not None:
        parser.error('--out-item needs --out')
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command-line options to the config."""
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.amp:
        cfg.test_cfg.fp16 = True
    if cfg.get('test_dataloader') is not None:
        loader = ConfigDict(pin_memory=not args.no_pin_memory)
        if cfg.get('default_scope', 'mmpretrain') == 'mmpretrain':  # det/seg keep their collate
            loader.collate_fn = dict(type='default_collate')
        loader.update(cfg.test_dataloader)
        cfg.test_dataloader = loader
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def main() -> None:
    args = parse_args()
    cfg = merge_args(Config.fromfile(args.config), args)
    if cfg.get('test_dataloader') is None:
        raise SystemExit(f'{args.config} has no test_dataloader: pretraining configs cannot be '
                         'tested; use a fine-tune or linear-probe config.')
    from sdae_plugin.runtime.config_check import check_custom_imports
    check_custom_imports(cfg)
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    if args.out and args.out_item in ('pred', None):
        runner.test_evaluator.metrics.append(DumpResults(out_file_path=args.out))
    metrics = runner.test()
    if args.out and args.out_item == 'metrics':
        mmengine.dump(metrics, args.out)


if __name__ == '__main__':
    main()
