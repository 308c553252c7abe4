"""Write the encoder of an SdAE pretraining checkpoint as a weights-only backbone checkpoint.

The output is ``{'state_dict': {'backbone.<MMPretrain ViT key>': tensor}, 'meta': {...}}``:
``torch.load(OUT, weights_only=True)`` reads it, and downstream configs load it with
``init_cfg=dict(type='Pretrained', checkpoint=OUT, prefix='backbone.')`` (or ``load_from``).
``meta['num_heads']`` records the head count (from ``--num-heads``, else the training config stored
in SRC, else the released checkpoint's ``args.model``), so the other tools read OUT without flags.

Sources: this plugin's pretraining checkpoints (``backbone.*`` student, ``teacher.*`` EMA teacher),
MMPretrain's MAE checkpoints, and the released code's checkpoints (``model`` / ``model_teacher``
with MAE/timm key names).

The encoder is checked against MMPretrain's ``VisionTransformer`` of the same shape (strict: no
missing, unexpected or mismatched key) and, for every ``--config``, against that config's backbone
(only the documented differences are allowed: ``ln1`` unused with ``final_norm=False``,
``cls_token`` unused without a cls token, ``ln2`` new for global average pooling; the head count
must agree). Any other mismatch is an error that lists the keys. See :mod:`sdae_plugin.checkpoints`.

Examples:
    python tools/extract_backbone.py work_dirs/sdae_vit-b_300e/epoch_300.pth \
        checkpoints/sdae_vit-b_300e_backbone.pth
    python tools/extract_backbone.py CKPT OUT --teacher                   # the EMA teacher
    python tools/extract_backbone.py checkpoint-299.pth OUT               # released format
    python tools/extract_backbone.py CKPT OUT --config configs/coco_maskrcnn_sdae.py \
        --config configs/ade20k_upernet_sdae.py
"""
import argparse
import sys

from mmengine.config import DictAction

from sdae_plugin.checkpoints import extract_backbone


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='pretraining checkpoint (this plugin\'s or the released one)')
    parser.add_argument('out', help='where to write the backbone checkpoint')
    parser.add_argument('--teacher', action='store_true',
                        help='extract the EMA teacher instead of the student')
    parser.add_argument('--num-heads', type=int,
                        help='attention heads of the encoder, written into OUT (default: from '
                        'the training config stored in SRC)')
    parser.add_argument('--config', action='append', default=[],
                        help='also check against this downstream config\'s backbone '
                        '(repeatable)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='overrides applied to every --config (key=value)')
    parser.add_argument('--unsafe-load', action='store_true',
                        help='read SRC with torch.load(weights_only=False); trusted files only')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        result = extract_backbone(args.src, args.out, teacher=args.teacher,
                                  num_heads=args.num_heads, configs=args.config,
                                  cfg_options=args.cfg_options, unsafe=args.unsafe_load)
    except ValueError as err:  # BackboneKeyError, HeadCountError, a file of another layout
        print(f'error: {err}', file=sys.stderr)
        return 1
    encoder, arch = result.encoder, result.encoder.arch
    heads = (f'{encoder.num_heads} heads (from {encoder.num_heads_from})' if encoder.num_heads
             else 'heads unknown: pass --num-heads to record them')
    print(f'{args.src}: {encoder.meta["source_format"]} format, {encoder.meta["branch"]} '
          f'encoder: {len(encoder.state)} tensors, '
          f'{sum(v.numel() for v in encoder.state.values()):,} values; ViT {arch.embed_dims} '
          f'wide, {arch.num_layers} blocks, {heads}, patch {arch.patch_size}, '
          f'{arch.in_channels} input channels, pre-trained at {arch.img_size} px')
    print('matches MMPretrain VisionTransformer: 0 missing, 0 unexpected keys')
    for config, new, unused in result.configs:
        print(f'matches {config}: loads every backbone key it needs'
              + (f'; new there: {", ".join(new)}' if new else '')
              + (f'; not used there: {", ".join(unused)}' if unused else ''))
    print(f'wrote {args.out} (state_dict "backbone.*", weights-only)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
