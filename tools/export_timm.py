"""Export a pretrained SdAE encoder (student or EMA teacher) as a timm ViT state dict.

The encoder is read by ``sdae_plugin.engine.checkpoint_io`` (the same reader as
``tools/extract_backbone.py``: this plugin's pretraining checkpoints with ``backbone.*`` /
``teacher.*``, extracted backbone files, and the released code's ``checkpoint-*.pth``), renamed
to timm's ``VisionTransformer`` names and written as

* ``OUT.safetensors`` (tensors + the timm kwargs in the file's metadata), or ``OUT.pth`` (a plain
  ``{name: tensor}`` dict for ``torch.load``) — chosen by OUT's suffix; without a suffix,
  safetensors when the package is installed, else ``.pth``;
* ``OUT.json`` beside it: the timm model name (when a registered one matches, e.g.
  ``vit_base_patch16_224``), the kwargs that build the model, and where the weights came from.

Key map (MMPretrain -> timm): ``patch_embed.projection`` -> ``patch_embed.proj``,
``layers.i.ln1/ln2`` -> ``blocks.i.norm1/norm2``, ``layers.i.attn.{qkv,proj}`` ->
``blocks.i.attn.{qkv,proj}``, ``layers.i.ffn.layers.0.0`` / ``.1`` -> ``blocks.i.mlp.fc1`` /
``fc2``, ``ln1`` (final norm) -> ``norm``; ``cls_token`` and ``pos_embed`` (``(1, 1 + N, C)``,
cls position first in both) unchanged. Every name is checked against the inverse map of
``checkpoint_io`` (the one the released-format import uses).

Unless ``--no-verify`` (or timm is missing), the export is loaded into timm's
``VisionTransformer`` and the MMPretrain weights into MMPretrain's ``VisionTransformer``, both
strictly, and their features on the same random input (cls + patch tokens after the final norm)
must agree to ``--atol``.

The number of heads does not show in the weights: it comes from ``--num-heads``, else
``--config``, else the config stored in an MMEngine checkpoint, else the released checkpoint's
``args.model``, else the standard ViT of that width and depth (Ti/S/B/L/H).

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
import json
import re
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Dict, Optional, Tuple

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, too

from sdae_plugin.engine.checkpoint_io import (  # noqa: E402
    BackboneKeyError, build_reference_vit, check_backbone_state, convert_released_key,
    detect_format, extract_backbone, infer_vit_arch, load_checkpoint_file)
from sdae_plugin.visualization import progress  # noqa: E402

StateDict = Dict[str, torch.Tensor]

# MMPretrain block parts -> timm block parts (the inverse of checkpoint_io's _BLOCK_RENAMES).
_BLOCK_PARTS = (
    ('ln1.', 'norm1.'),
    ('ln2.', 'norm2.'),
    ('attn.qkv.', 'attn.qkv.'),
    ('attn.proj.', 'attn.proj.'),
    ('ffn.layers.0.0.', 'mlp.fc1.'),
    ('ffn.layers.1.', 'mlp.fc2.'),
)
# (embed_dim, depth) -> (num_heads, timm size name): the standard ViTs.
STANDARD_VITS = {
    (192, 12): (3, 'tiny'),
    (384, 12): (6, 'small'),
    (768, 12): (12, 'base'),
    (1024, 24): (16, 'large'),
    (1280, 32): (16, 'huge'),
}


def timm_key(key: str) -> str:
    """One MMPretrain ``VisionTransformer`` key as timm's ``VisionTransformer`` key."""
    if key in ('cls_token', 'pos_embed'):
        return key
    if key.startswith('patch_embed.projection.'):
        return 'patch_embed.proj.' + key[len('patch_embed.projection.'):]
    if key.startswith('ln1.'):
        return 'norm.' + key[len('ln1.'):]
    match = re.match(r'^layers\.(\d+)\.(.+)$', key)
    if match:
        index, rest = match.groups()
        for ours, theirs in _BLOCK_PARTS:
            if rest.startswith(ours):
                return f'blocks.{index}.{theirs}{rest[len(ours):]}'
    raise KeyError(f'no timm name for {key!r} (layer scale, pre-norm, relative positions and '
                   'registers are not part of SdAE\'s encoder)')


def to_timm_state_dict(state: StateDict) -> StateDict:
    """The encoder in timm names; each name maps back to the original through checkpoint_io."""
    if 'cls_token' not in state or 'ln1.weight' not in state:
        raise BackboneKeyError(missing=[k for k in ('cls_token', 'ln1.weight') if k not in state],
                               context='(timm\'s ViT with global_pool="token" needs the cls '
                               'token and the final norm)')
    converted: StateDict = OrderedDict()
    for key, value in progress(state.items(), 'rename', total=len(state)):
        name = timm_key(key)
        if convert_released_key(name) != key:  # the import direction must give the key back
            raise AssertionError(f'{key} -> {name} -> {convert_released_key(name)}')
        converted[name] = value.detach().clone().contiguous().cpu()
    return converted


def _heads_from_arch(arch, embed_dims: int) -> Optional[int]:
    """``num_heads`` of a backbone ``arch`` (dict, or an MMPretrain arch name)."""
    from mmpretrain.models import VisionTransformer
    if isinstance(arch, str):
        arch = VisionTransformer.arch_zoo.get(arch.lower())
    if not isinstance(arch, dict) or 'num_heads' not in arch:
        return None
    if arch.get('embed_dims', embed_dims) != embed_dims:
        raise ValueError(f'the config\'s backbone is {arch["embed_dims"]} wide, the checkpoint\'s '
                         f'encoder {embed_dims}')
    return int(arch['num_heads'])


def _heads_from_config(cfg, embed_dims: int) -> Optional[int]:
    backbone = (cfg.get('model') or {}).get('backbone')
    if not backbone:  # e.g. a Runner built without a config
        return None
    return _heads_from_arch(backbone.get('arch', 'b'), embed_dims)  # MAEViT's default arch


def resolve_num_heads(checkpoint: dict, state: StateDict, num_heads: Optional[int] = None,
                      config: Optional[str] = None) -> Tuple[int, str]:
    """``(num_heads, where it came from)``; see the module docstring for the order."""
    arch = infer_vit_arch(state)['arch']
    width, depth = arch['embed_dims'], arch['num_layers']
    if num_heads:
        return num_heads, '--num-heads'
    if config:
        from mmengine.config import Config
        heads = _heads_from_config(Config.fromfile(config), width)
        if heads:
            return heads, config
    if detect_format(checkpoint) == 'mmengine':
        text = (checkpoint.get('meta') or {}).get('cfg')
        if isinstance(text, str):
            from mmengine.config import Config
            try:
                heads = _heads_from_config(Config.fromstring(text, file_format='.py'), width)
            except ValueError:
                raise
            except Exception:  # noqa: BLE001  (a config that no longer parses: fall through)
                heads = None
            if heads:
                return heads, 'the config stored in the checkpoint'
    else:
        model = str(getattr(checkpoint.get('args'), 'model', ''))
        for name, size in (('base', 'b'), ('large', 'l'), ('huge', 'h')):
            if f'vit_{name}' in model:
                heads = _heads_from_arch(size, width)
                if heads:
                    return heads, f'args.model={model}'
    if (width, depth) in STANDARD_VITS:
        return STANDARD_VITS[(width, depth)][0], f'the standard ViT of width {width}'
    raise ValueError(f'cannot tell the number of heads of a {width}-wide, {depth}-block encoder: '
                     'pass --num-heads or --config')


def timm_kwargs(state: StateDict, num_heads: int) -> dict:
    """Arguments of ``timm.models.vision_transformer.VisionTransformer`` for this encoder."""
    vit = infer_vit_arch(state)
    arch = vit['arch']
    width = arch['embed_dims']
    if width % num_heads:
        raise ValueError(f'num_heads={num_heads} does not divide the width {width}')
    return dict(
        img_size=vit['img_size'], patch_size=vit['patch_size'], in_chans=vit['in_channels'],
        num_classes=0, global_pool='token', embed_dim=width, depth=arch['num_layers'],
        num_heads=num_heads, mlp_ratio=arch['feedforward_channels'] / width,
        qkv_bias='layers.0.attn.qkv.bias' in state, class_token=True)


def timm_model_name(kwargs: dict) -> Optional[str]:
    """The registered timm model this architecture is (``vit_base_patch16_224``, ...), if any."""
    key = (kwargs['embed_dim'], kwargs['depth'])
    if key not in STANDARD_VITS or kwargs['in_chans'] != 3 or not kwargs['qkv_bias']:
        return None
    heads, size = STANDARD_VITS[key]
    if heads != kwargs['num_heads'] or kwargs['mlp_ratio'] != 4.0:
        return None
    name = f'vit_{size}_patch{kwargs["patch_size"]}_{kwargs["img_size"]}'
    try:
        import timm
    except ImportError:
        return name  # cannot check; the usual names exist for patch 16 at 224
    return name if name in timm.list_models(name) else None


def build_timm_vit(kwargs: dict) -> torch.nn.Module:
    """timm's ``VisionTransformer`` from the exported kwargs (LayerNorm eps 1e-6, timm's default)."""
    from timm.models.vision_transformer import VisionTransformer
    return VisionTransformer(**kwargs)


def build_mmpretrain_vit(state: StateDict, num_heads: int) -> torch.nn.Module:
    """MMPretrain's ``VisionTransformer`` of the encoder's shape, raw tokens after the final norm."""
    from mmpretrain.models import VisionTransformer
    vit = infer_vit_arch(state)
    vit['arch']['num_heads'] = num_heads
    return VisionTransformer(out_type='raw', **vit)


def verify(state: StateDict, timm_state: StateDict, kwargs: dict, atol: float = 1e-5,
           batch: int = 2) -> float:
    """Max abs difference of the two models' features on one random batch; raises above ``atol``."""
    timm_vit = build_timm_vit(kwargs).eval()
    timm_vit.load_state_dict(timm_state, strict=True)
    mm_vit = build_mmpretrain_vit(state, kwargs['num_heads'])
    mm_vit.eval()  # (MMPretrain backbones' train() returns None: no chaining)
    mm_vit.load_state_dict(state, strict=True)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(batch, kwargs['in_chans'], kwargs['img_size'], kwargs['img_size'],
                    generator=generator)
    with torch.no_grad():
        ours = mm_vit(x)[0]  # (B, 1 + N, C) after ln1
        theirs = timm_vit.forward_features(x)  # (B, 1 + N, C) after norm
    if ours.shape != theirs.shape:
        raise AssertionError(f'feature shapes differ: MMPretrain {tuple(ours.shape)}, '
                             f'timm {tuple(theirs.shape)}')
    diff = (ours - theirs).abs().max().item()
    if not diff <= atol:
        raise AssertionError(f'timm and MMPretrain features differ by {diff:.3g} > {atol:g}')
    return diff


def safetensors_available() -> bool:
    try:
        import safetensors.torch  # noqa: F401
    except ImportError:
        return False
    return True


def output_path(out: str) -> Tuple[Path, str]:
    """``(path, 'safetensors' | 'torch')`` from OUT's suffix (see the module docstring)."""
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix == '.safetensors':
        if not safetensors_available():
            raise SystemExit('writing .safetensors needs the safetensors package '
                             '(pip install safetensors), or name the output .pth')
        return path, 'safetensors'
    if suffix in ('.pth', '.pt', '.bin'):
        return path, 'torch'
    if suffix:
        raise SystemExit(f'unknown output type {suffix!r}: use .safetensors or .pth')
    return ((path.with_suffix('.safetensors'), 'safetensors') if safetensors_available() else
            (path.with_suffix('.pth'), 'torch'))


def write(timm_state: StateDict, path: Path, fmt: str, info: dict) -> Path:
    """Write the tensors (+ metadata) and the JSON sidecar; returns the sidecar's path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == 'safetensors':
        from safetensors.torch import save_file
        save_file(dict(timm_state), str(path), metadata={
            'format': 'pt', 'timm_model': str(info['timm_model']),
            'timm_kwargs': json.dumps(info['timm_kwargs']), 'source': info['source'],
            'branch': info['branch']})
    else:
        torch.save(dict(timm_state), path)
    sidecar = path.with_suffix('.json')
    sidecar.write_text(json.dumps(info, indent=2) + '\n')
    return sidecar


def read_export(path: str) -> StateDict:
    """The tensors of an export (either format), for checks."""
    if str(path).endswith('.safetensors'):
        from safetensors.torch import load_file
        return load_file(str(path))
    return torch.load(path, map_location='cpu', weights_only=True)


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
    path, fmt = output_path(args.out)
    checkpoint = load_checkpoint_file(args.src, unsafe=args.unsafe_load)
    branch = 'teacher' if args.teacher else 'student'
    try:
        state = extract_backbone(checkpoint, teacher=args.teacher)
        check_backbone_state(build_reference_vit(state), state, strict=True,
                             context='(MMPretrain VisionTransformer of the same shape)')
        num_heads, heads_from = resolve_num_heads(checkpoint, state, args.num_heads, args.config)
        kwargs = timm_kwargs(state, num_heads)
        timm_state = to_timm_state_dict(state)
    except (BackboneKeyError, KeyError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    name = timm_model_name(kwargs)
    info = OrderedDict(
        timm_model=name, timm_kwargs=kwargs, source=str(args.src),
        source_format=detect_format(checkpoint), branch=branch, num_heads_from=heads_from,
        usage=(f"timm.create_model('{name}', pretrained=True, num_classes=0, "
               f"pretrained_cfg_overlay=dict(file='{path.name}'))" if name else
               'timm.models.vision_transformer.VisionTransformer(**timm_kwargs) then '
               'load_state_dict(weights)'))

    checked = None
    if not args.no_verify:
        try:
            import timm  # noqa: F401
        except ImportError:
            print('timm is not installed: skipping the feature check (pip install timm)')
        else:
            checked = verify(state, timm_state, kwargs, atol=args.atol)
    info['verified_max_abs_diff'] = checked

    sidecar = write(timm_state, path, fmt, info)
    written = read_export(path)
    assert set(written) == set(timm_state) and all(
        torch.equal(written[k], v) for k, v in timm_state.items())
    print(f'{args.src}: {branch} encoder, {len(timm_state)} tensors; timm kwargs {kwargs} '
          f'(num_heads from {heads_from})')
    if checked is not None:
        print(f'timm VisionTransformer and MMPretrain VisionTransformer agree: max |diff| '
              f'{checked:.2e} on cls + patch tokens after the final norm')
    print(f'wrote {path} ({fmt}) and {sidecar}' + (f'; timm model: {name}' if name else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
