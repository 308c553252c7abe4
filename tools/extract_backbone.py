"""Write the encoder of an SdAE pretraining checkpoint as a weights-only backbone checkpoint.

The output is ``{'state_dict': {'backbone.<MMPretrain ViT key>': tensor}, 'meta': {...}}``:
``torch.load(OUT, weights_only=True)`` reads it, and downstream configs load it with
``init_cfg=dict(type='Pretrained', checkpoint=OUT, prefix='backbone.')`` (or ``load_from``).

Sources: this plugin's pretraining checkpoints (``backbone.*`` student, ``teacher.*`` EMA teacher)
and the released code's checkpoints (``model`` / ``model_teacher`` with MAE/timm key names).

The encoder is checked against MMPretrain's ``VisionTransformer`` of the same shape (strict: no
missing, unexpected or mismatched key) and, for every ``--config``, against that config's backbone
(only the documented differences are allowed: ``ln1`` unused with ``final_norm=False``,
``cls_token`` unused without a cls token, ``ln2`` new for global average pooling). Any other
mismatch is an error that lists the keys.

Examples:
    python tools/extract_backbone.py work_dirs/sdae_vit-b_300e/epoch_300.pth \
        checkpoints/sdae_vit-b_300e_backbone.pth
    python tools/extract_backbone.py CKPT OUT --teacher                   # the EMA teacher
    python tools/extract_backbone.py checkpoint-299.pth OUT               # released format
    python tools/extract_backbone.py CKPT OUT --config configs/coco_maskrcnn_sdae.py \
        --config configs/ade20k_upernet_sdae.py
"""
import argparse
import copy
import sys
from pathlib import Path
from typing import Optional

import torch
from mmengine.config import DictAction

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, too

from sdae_plugin.engine.checkpoint_io import (  # noqa: E402
    BackboneKeyError, build_reference_vit, check_backbone_state, detect_format, extract_backbone,
    infer_vit_arch, load_checkpoint_file, plain_meta, save_backbone)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='pretraining checkpoint (this plugin\'s or the released one)')
    parser.add_argument('out', help='where to write the backbone checkpoint')
    parser.add_argument('--teacher', action='store_true',
                        help='extract the EMA teacher instead of the student')
    parser.add_argument('--config', action='append', default=[],
                        help='also check against this downstream config\'s backbone '
                        '(repeatable)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='overrides applied to every --config (key=value)')
    parser.add_argument('--unsafe-load', action='store_true',
                        help='read SRC with torch.load(weights_only=False); trusted files only')
    return parser.parse_args(argv)


def build_config_backbone(config: str, options: Optional[dict] = None):
    """The (uninitialized) backbone of a downstream config, built in that config's scope."""
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope
    cfg = Config.fromfile(config)  # runs custom_imports (sdae_plugin, ...)
    if options:
        cfg.merge_from_dict(options)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    backbone_cfg = copy.deepcopy(cfg.model.backbone)
    backbone_cfg.pop('init_cfg', None)
    return MODELS.build(backbone_cfg)


def main(argv=None) -> int:
    args = parse_args(argv)
    checkpoint = load_checkpoint_file(args.src, unsafe=args.unsafe_load)
    fmt = detect_format(checkpoint)
    branch = 'teacher' if args.teacher else 'student'
    try:
        state = extract_backbone(checkpoint, teacher=args.teacher)
        arch = infer_vit_arch(state)
        check_backbone_state(build_reference_vit(state), state, strict=True,
                             context='(MMPretrain VisionTransformer of the same shape)')
        reports = []
        for config in args.config:
            backbone = build_config_backbone(config, args.cfg_options)
            new, unused = check_backbone_state(backbone, state, strict=False,
                                               context=f'({config})')
            reports.append((config, new, unused))
    except BackboneKeyError as err:
        print(f'error: {err}', file=sys.stderr)
        return 1

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    save_backbone(state, args.out, meta=plain_meta(checkpoint, args.src, fmt, args.teacher))
    written = torch.load(args.out, map_location='cpu', weights_only=True)['state_dict']
    assert all(torch.equal(written['backbone.' + k], v) for k, v in state.items())

    a = arch['arch']
    print(f'{args.src}: {fmt} format, {branch} encoder: {len(state)} tensors, '
          f'{sum(v.numel() for v in state.values()):,} values; ViT {a["embed_dims"]} wide, '
          f'{a["num_layers"]} blocks, patch {arch["patch_size"]}, '
          f'{arch["in_channels"]} input channels, pre-trained at {arch["img_size"]} px')
    print('matches MMPretrain VisionTransformer: 0 missing, 0 unexpected keys')
    for config, new, unused in reports:
        print(f'matches {config}: loads every backbone key it needs'
              + (f'; new there: {", ".join(new)}' if new else '')
              + (f'; not used there: {", ".join(unused)}' if unused else ''))
    print(f'wrote {args.out} (state_dict "backbone.*", weights-only)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
