"""The models the benchmark compares: MAE and SdAE's teacher feedings (the paper's Table 1), and
SdAE's fast step beside the released code's."""
from pathlib import Path
from typing import Tuple

import mmpretrain
import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS

from sdae_plugin.package_configs import package_config

from .flops import ViTShape

ARCHS = {  # our name -> (MMPretrain arch name, width)
    'tiny': ('deit-tiny', 192),
    'small': ('deit-small', 384),
    'base': ('b', 768),
    'large': ('l', 1024),
}
# name -> (model, overrides): the rows of the paper's Table 1 plus a 2-block-decoder SdAE
ROWS = {
    'mae': ('mae', {}),
    'sdae_full_image': ('sdae', dict(mask_generator=dict(mode='full_image'))),
    'sdae_only_masked': ('sdae', dict(mask_generator=dict(mode='only_masked'))),
    'sdae_teacher_crop': ('sdae', dict(mask_generator=dict(mode='teacher_crop',
                                                           crop_ratio=1 / 3))),
    'sdae_multi_fold': ('sdae', dict(mask_generator=dict(mode='multi_fold', num_folds=3))),
    'sdae_lite': ('sdae', dict(mask_generator=dict(mode='multi_fold', num_folds=3),
                               neck=dict(decoder_depth=2))),
    # an fp32 student with its teacher under bf16 autocast (only differs from sdae_multi_fold
    # when the step itself runs in fp32)
    'sdae_multi_fold_teacher_bf16': ('sdae', dict(mask_generator=dict(mode='multi_fold',
                                                                      num_folds=3),
                                                  teacher_autocast='bf16')),
    # multi-fold SdAE with fused AdamW (the configs' optimizer), eager and with compile_loss
    'sdae_multi_fold_fused': ('sdae', dict(mask_generator=dict(mode='multi_fold', num_folds=3))),
    'sdae_multi_fold_fused_compiled': ('sdae', dict(mask_generator=dict(mode='multi_fold',
                                                                        num_folds=3),
                                                    compile_loss=True)),
    # the released code's step (projects.benchmark.released), read from --released-code
    'released': ('released', {}),
}
FP32_ONLY_ROWS = ('sdae_multi_fold_teacher_bf16',)
FUSED_ROWS = ('sdae_multi_fold_fused', 'sdae_multi_fold_fused_compiled')
# Rows beyond the paper's Table 1: run when asked for (--rows); 'released' also by default when
# the released code is given.
PEER_ROWS = FUSED_ROWS + ('released',)


def model_config(kind: str) -> str:
    """The ViT-B/16 model config of ``kind``: MMPretrain's own MAE config, or ours for SdAE."""
    if kind == 'mae':
        return str(Path(mmpretrain.__file__).parent /
                   '.mim/configs/_base_/models/mae_vit-base-p16.py')
    return package_config('_base_/models/sdae_vit-b-p16.py')


def default_rows(amp: str, released: bool = False) -> list:
    """The Table 1 rows (the fp32-student row only when the step itself runs in fp32), and the
    released code's row when it is given."""
    rows = [r for r in ROWS if r not in PEER_ROWS and (amp == 'none' or r not in FP32_ONLY_ROWS)]
    return rows + (['released'] if released else [])


def build(row: str, arch: str, img_size: int, compile: bool = False) -> torch.nn.Module:
    """Build and initialize a row's model from its config at the given size.

    Args:
        row (str): a key of :data:`ROWS` (not ``'released'``, which is the released code's).
        arch (str): a key of :data:`ARCHS`.
        img_size (int): input side; the patch size is 16.
        compile (bool): SdAE with ``compile_loss=True`` (MAE has no such switch).
    """
    kind, overrides = ROWS[row]
    if kind == 'released':
        raise ValueError("The 'released' row is built from the released code "
                         '(projects.benchmark.released), not from a config.')
    cfg = Config.fromfile(model_config(kind)).model
    arch_name, width = ARCHS[arch]
    cfg.backbone.update(arch=arch_name, img_size=img_size)
    cfg.neck.update(embed_dim=width, num_patches=(img_size // 16)**2)
    for key, value in overrides.items():
        if isinstance(value, dict):
            cfg[key].update(value)
        else:
            cfg[key] = value
    if compile and kind == 'sdae':
        cfg.compile_loss = True
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def shape_of(model: torch.nn.Module) -> Tuple[ViTShape, int, int, int]:
    """``(ViTShape, num_visible, views, view_len)`` read off a built MAE or SdAE."""
    backbone, neck = model.backbone, model.neck
    patch = backbone.patch_embed.projection
    shape = ViTShape(
        width=backbone.embed_dims, depth=backbone.num_layers,
        mlp=backbone.arch_settings['feedforward_channels'], num_patches=backbone.num_patches,
        patch_dim=patch.in_channels * patch.kernel_size[0] * patch.kernel_size[1],
        decoder_width=neck.decoder_embed.out_features, decoder_depth=len(neck.decoder_blocks),
        decoder_out=neck.decoder_pred.out_features)
    gen = getattr(model, 'mask_generator', None)
    if gen is None:  # MAE
        return shape, int(shape.num_patches * (1 - backbone.mask_ratio)), 0, 0
    return shape, gen.num_visible, gen.num_views, gen.view_len
