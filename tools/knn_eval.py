"""Weighted kNN top-1 of pretrained ViT encoders (DINO's protocol: k=20, T=0.07).

Features of whole images from the encoder (the student by default, ``--teacher`` for SdAE's EMA
teacher): the cls token and the mean of the patch tokens, both after the final LayerNorm, both
reported. The training split of the data config is the memory bank, its test split the queries.

Checkpoints: anything :func:`sdae_plugin.checkpoints.read_encoder` reads (this plugin's SdAE and
MMPretrain's MAE pretraining checkpoints, backbones written by tools/extract_backbone.py, the
released SdAE checkpoints). ``--random-init CONFIG`` adds the encoder of a pretraining config at
its initialization (the floor); ``--pixels`` adds the normalized images themselves (the
no-network reference). The number of attention heads comes from the training config that
MMEngine stores in its checkpoints, or the ``meta['num_heads']`` that tools/extract_backbone.py
writes; ``--num-heads`` gives it for files with neither (and must agree where they state it).

Examples:
    python tools/knn_eval.py work_dirs/mini/sdae_s0/epoch_10.pth \
        --config configs/mini/eval/knn_fashion-mnist.py
    python tools/knn_eval.py A.pth B.pth --random-init configs/mini/sdae_vit-mini_fashion-mnist.py \
        --config configs/mini/eval/knn_fashion-mnist.py --amp bf16 --out-json knn.json \
        --cfg-options train_dataloader.dataset.indices=10000
"""
import argparse
import json
from pathlib import Path

import torch
from mmengine.config import Config, DictAction

from sdae_plugin.evaluation import evaluate_knn, format_row, knn_sources
from sdae_plugin.evaluation import PRECISIONS


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoints', nargs='*', help='encoder or pretraining checkpoints')
    parser.add_argument('--config', required=True,
                        help='data config with train_dataloader (memory bank), test_dataloader '
                        '(queries) and data_preprocessor')
    parser.add_argument('--random-init', metavar='PRETRAIN_CONFIG',
                        help='also evaluate the encoder of this pretraining config at init')
    parser.add_argument('--seed', type=int, default=0, help='seed of --random-init')
    parser.add_argument('--pixels', action='store_true',
                        help='also evaluate the normalized pixels as features (no network)')
    parser.add_argument('--teacher', action='store_true', help='use the EMA teacher (SdAE)')
    parser.add_argument('--num-heads', type=int,
                        help='attention heads of the encoder (default: the training config '
                        'stored in the checkpoint, or the head count an extracted backbone '
                        'records)')
    parser.add_argument('--k', type=int, help='neighbours (default: config knn.k or 20)')
    parser.add_argument('--temperature', type=float,
                        help='vote temperature (default: config knn.temperature or 0.07)')
    parser.add_argument('--amp', choices=PRECISIONS, default='fp32',
                        help='feature extraction precision (bf16: CPU autocast)')
    parser.add_argument('--threads', type=int, help='torch.set_num_threads')
    parser.add_argument('--unsafe-load', action='store_true',
                        help='torch.load(weights_only=False), for trusted files only')
    parser.add_argument('--out-json', help='write the results (a list of dicts) here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override data config entries, key=value')
    args = parser.parse_args(argv)
    if not args.checkpoints and not args.random_init and not args.pixels:
        parser.error('give checkpoints, --random-init and/or --pixels')
    return args


def main(argv=None) -> list:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    sources = knn_sources(args.checkpoints, random_init=args.random_init, seed=args.seed,
                          pixels=args.pixels, teacher=args.teacher, num_heads=args.num_heads,
                          unsafe=args.unsafe_load)
    results = evaluate_knn(cfg, sources, k=args.k, temperature=args.temperature, amp=args.amp,
                           on_row=lambda row: print(format_row(row), flush=True))
    if args.out_json:
        Path(args.out_json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out_json).write_text(json.dumps(results, indent=1))
    return results


if __name__ == '__main__':
    main()
