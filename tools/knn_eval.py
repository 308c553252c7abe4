"""Weighted kNN top-1 of pretrained ViT encoders (DINO's protocol: k=20, T=0.07).

Features of whole images from the encoder (the student by default, ``--teacher`` for SdAE's EMA
teacher): the cls token and the mean of the patch tokens, both after the final LayerNorm, both
reported. The training split of the data config is the memory bank, its test split the queries.

Checkpoints: anything :mod:`sdae_plugin.engine.checkpoint_io` reads (this plugin's SdAE and
MMPretrain's MAE pretraining checkpoints, backbones written by tools/extract_backbone.py, the
released SdAE checkpoints). ``--random-init CONFIG`` adds the encoder of a pretraining config at
its initialization (the floor); ``--pixels`` adds the normalized images themselves (the
no-network reference). The number of attention heads is read from the training config
that MMEngine stores in its checkpoints; give ``--num-heads`` for files without one.

Examples:
    python tools/knn_eval.py work_dirs/mini/sdae_s0/epoch_10.pth \
        --config configs/mini/eval/knn_fashion-mnist.py
    python tools/knn_eval.py A.pth B.pth --random-init configs/mini/sdae_vit-mini_fashion-mnist.py \
        --config configs/mini/eval/knn_fashion-mnist.py --amp bf16 --out-json knn.json \
        --cfg-options train_dataloader.dataset.indices=10000
"""
import argparse
import json
import sys
import time
from pathlib import Path

import torch
from mmengine.config import Config, DictAction

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, too

from sdae_plugin.evaluation import (build_encoder, extract_features, knn_top1,  # noqa: E402
                                    load_encoder_state, model_num_heads, pixel_features,
                                    random_encoder_state)

AMP = {'fp32': None, 'bf16': torch.bfloat16}


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
                        help='attention heads of the encoder (default: read from the training '
                        'config stored in the checkpoint; needed for extracted backbones)')
    parser.add_argument('--k', type=int, help='neighbours (default: config knn.k or 20)')
    parser.add_argument('--temperature', type=float,
                        help='vote temperature (default: config knn.temperature or 0.07)')
    parser.add_argument('--amp', choices=sorted(AMP), default='fp32',
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


def build_batches(cfg: Config):
    """``(train_batches, test_batches)``: callables yielding normalized ``(images, labels)``."""
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    from mmpretrain.registry import MODELS
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    preprocessor = MODELS.build(cfg.data_preprocessor)

    def batches(loader_cfg):
        loader = Runner.build_dataloader(loader_cfg, seed=0)
        cache = []  # decoded, resized and normalized once, reused for every checkpoint

        def generate():
            if not cache:
                for data in loader:
                    data = preprocessor(data, False)
                    labels = torch.stack([s.gt_label.reshape(-1)[0]
                                          for s in data['data_samples']])
                    cache.append((data['inputs'], labels))
            yield from cache
        return generate

    return batches(cfg.train_dataloader), batches(cfg.test_dataloader)


def main(argv=None) -> list:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    knn_cfg = dict(cfg.get('knn', {}))
    k = args.k or knn_cfg.get('k', 20)
    temperature = args.temperature or knn_cfg.get('temperature', 0.07)
    train_batches, test_batches = build_batches(cfg)

    def encoder_features(load):
        def features(batches):
            return extract_features(build_encoder(*load()), batches, AMP[args.amp])
        return features

    sources = []  # (name, batches -> ({kind: (N, C)}, labels))
    if args.pixels:
        sources.append(('pixels', pixel_features))
    if args.random_init:
        model_cfg = Config.fromfile(args.random_init).model
        sources.append((f'random-init:{args.random_init}', encoder_features(
            lambda: (random_encoder_state(model_cfg, seed=args.seed),
                     model_num_heads(model_cfg)))))
    for path in args.checkpoints:
        sources.append((path, encoder_features(lambda p=path: load_encoder_state(
            p, teacher=args.teacher, unsafe=args.unsafe_load, num_heads=args.num_heads))))

    results = []
    for name, features in sources:
        start = time.time()
        train_feats, train_labels = features(train_batches())
        test_feats, test_labels = features(test_batches())
        num_classes = int(max(train_labels.max(), test_labels.max())) + 1
        row = dict(checkpoint=name, k=k, temperature=temperature, amp=args.amp,
                   branch='teacher' if args.teacher else 'student',
                   num_train=len(train_labels), num_test=len(test_labels))
        for kind in train_feats:  # cls and mean-pool for encoders, pixels for --pixels
            row[f'top1_{kind}'] = round(knn_top1(train_feats[kind], train_labels,
                                                 test_feats[kind], test_labels,
                                                 num_classes=num_classes, k=k,
                                                 temperature=temperature), 2)
        row['seconds'] = round(time.time() - start, 1)
        scores = '  '.join(f'{kind} {row[f"top1_{kind}"]:.2f}' for kind in train_feats)
        print(f'kNN top-1 (k={k}, T={temperature}, {row["num_train"]} train -> '
              f'{row["num_test"]} test): {scores}  [{name}]', flush=True)
        results.append(row)
    if args.out_json:
        Path(args.out_json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out_json).write_text(json.dumps(results, indent=1))
    return results


if __name__ == '__main__':
    main()
