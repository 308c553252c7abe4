"""Export a pretrained SdAE encoder (student or EMA teacher) as a timm ViT state dict.

The encoder is read from any checkpoint ``tools/extract_backbone.py`` reads (this plugin's
pretraining checkpoints with ``backbone.*`` / ``teacher.*``, extracted backbone files, MMPretrain's
MAE checkpoints and the released code's ``checkpoint-*.pth``), renamed to timm's
``VisionTransformer`` names by :mod:`sdae_plugin.checkpoints.released_format`, and written as

* ``OUT.safetensors`` (tensors + the timm kwargs in the file's metadata), or ``OUT.pth`` (a plain
  ``{name: tensor}`` dict for ``torch.load``) — chosen by OUT's suffix; without a suffix,
  safetensors when the package is installed, else ``.pth``;
* ``OUT.json`` beside it: the timm model name (when a registered one matches, e.g.
  ``vit_base_patch16_224``), the kwargs that build the model, and where the weights came from.

Unless ``--no-verify`` (or timm is missing), the export is loaded into timm's
``VisionTransformer`` and the MMPretrain weights into MMPretrain's ``VisionTransformer``, both
strictly, and their features on the same random input (cls + patch tokens after the final norm)
must agree to ``--atol``.

The number of heads does not show in the weights: it comes from ``--num-heads``, ``--config``,
the config stored in an MMEngine checkpoint, the released checkpoint's ``args.model``, or the
``meta['num_heads']`` that ``tools/extract_backbone.py`` writes; sources that disagree, or none
at all, are an error (it is never guessed from the width).

Examples:
    python tools/export_timm.py work_dirs/sdae_vit-b_300e/epoch_300.pth sdae_vit-b.safetensors
    python tools/export_timm.py CKPT sdae_vit-b_teacher.safetensors --teacher
    python tools/export_timm.py work_dirs/demo/epoch_4.pth demo_timm.pth \
        --config configs/sdae_vit-tiny_fashion-mnist_demo.py

Then, in timm::

    model = timm.create_model('vit_base_patch16_224', pretrained=True, num_classes=0,
                              pretrained_cfg_overlay=dict(file='sdae_vit-b.safetensors'))
"""
import argparse
import sys

from sdae_plugin.checkpoints import export_timm


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='pretraining checkpoint, extracted backbone, or released '
                        'checkpoint-*.pth')
    parser.add_argument('out', help='OUT.safetensors or OUT.pth (OUT.json is written beside it)')
    parser.add_argument('--teacher', action='store_true', help='export the EMA teacher')
    parser.add_argument('--config', help='the pretraining config (for the number of heads)')
    parser.add_argument('--num-heads', type=int, help='the number of attention heads')
    parser.add_argument('--no-verify', action='store_true',
                        help='skip the timm vs MMPretrain feature comparison')
    parser.add_argument('--atol', type=float, default=1e-5,
                        help='largest allowed feature difference in the check (default 1e-5)')
    parser.add_argument('--unsafe-load', action='store_true',
                        help='read SRC with torch.load(weights_only=False); trusted files only')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        export = export_timm(args.src, args.out, teacher=args.teacher, num_heads=args.num_heads,
                             config=args.config, unsafe=args.unsafe_load,
                             verify=not args.no_verify, atol=args.atol)
    except (KeyError, ValueError) as err:  # BackboneKeyError, HeadCountError, a bad OUT
        print(f'error: {err}', file=sys.stderr)
        return 1
    info = export.info
    checked = info['verified_max_abs_diff']
    if checked is None and not args.no_verify:
        print('timm is not installed: skipping the feature check (pip install timm)')
    print(f'{args.src}: {info["branch"]} encoder, {export.num_tensors} tensors; timm kwargs '
          f'{info["timm_kwargs"]} (num_heads from {info["num_heads_from"]})')
    if checked is not None:
        print(f'timm VisionTransformer and MMPretrain VisionTransformer agree: max |diff| '
              f'{checked:.2e} on cls + patch tokens after the final norm')
    name = info['timm_model']
    print(f'wrote {export.path} ({export.fmt}) and {export.sidecar}'
          + (f'; timm model: {name}' if name else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
