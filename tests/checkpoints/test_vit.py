"""MMPretrain ViTs from encoder weights and from configs; the key checks and their messages."""
from pathlib import Path

import pytest
import torch
from mmpretrain.models import VisionTransformer

from sdae_plugin.checkpoints import (BackboneKeyError, EncoderWeights, build_config_backbone,
                                     build_vit, check_backbone_state)
from sdae_plugin.checkpoints.vit import check_encoder_keys

ROOT = Path(__file__).resolve().parents[2]
ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)


def vit_state(seed: int = 0) -> dict:
    torch.manual_seed(seed)
    model = VisionTransformer(arch=ARCH, img_size=32, patch_size=8)
    for param in model.parameters():
        torch.nn.init.normal_(param)
    return model.state_dict()


def test_build_vit_computes_the_students_tokens(make_sdae):
    model = make_sdae().eval()
    encoder = EncoderWeights(model.backbone.state_dict(), num_heads=2)
    vit = build_vit(encoder)
    assert not vit.training
    x = torch.randn(3, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(vit(x)[0], model.backbone(x)[0], atol=1e-5, rtol=0)
        assert build_vit(encoder, out_type='cls_token')(x)[0].shape == (3, 32)


def test_key_checks_list_the_keys():
    state = vit_state()
    broken = dict(state)
    del broken['layers.1.attn.proj.weight']
    with pytest.raises(BackboneKeyError, match=r'missing.*\n\s+layers\.1\.attn\.proj\.weight'):
        check_backbone_state(VisionTransformer(arch=ARCH, img_size=32, patch_size=8), broken)
    with pytest.raises(BackboneKeyError, match=r'layers\.1\.attn\.proj\.weight'):
        check_encoder_keys(EncoderWeights(broken))  # head count unknown: the keys are still checked
    extra = dict(state, **{'layers.0.gamma1': torch.ones(32)})
    with pytest.raises(BackboneKeyError, match=r'unexpected.*\n\s+layers\.0\.gamma1'):
        build_vit(EncoderWeights(extra, num_heads=2))
    wide = VisionTransformer(arch=dict(ARCH, feedforward_channels=128), img_size=32,
                             patch_size=8)
    with pytest.raises(BackboneKeyError, match=r'layers\.0\.ffn\.layers\.0\.0\.weight: '
                                               r'checkpoint \(64, 32\), model \(128, 32\)'):
        check_backbone_state(wide, state, strict=False)


def test_downstream_differences_are_the_documented_ones():
    state = vit_state()
    pooled = VisionTransformer(arch=ARCH, img_size=32, patch_size=8, out_type='avg_featmap',
                               final_norm=False)
    assert check_backbone_state(pooled, state, strict=False) == (
        ['ln2.weight', 'ln2.bias'], ['ln1.weight', 'ln1.bias'])
    with pytest.raises(BackboneKeyError, match='ln2.weight'):
        check_backbone_state(pooled, state, strict=True)
    # bigger grid: pos_embed resized by the model's own load hook (14x14 -> 32x32 in ADE20K)
    dense = VisionTransformer(arch=ARCH, img_size=64, patch_size=8, out_type='featmap',
                              final_norm=False)
    missing, unexpected = check_backbone_state(dense, state, strict=False)
    assert missing == [] and sorted(unexpected) == ['ln1.bias', 'ln1.weight']
    assert dense.pos_embed.shape == (1, 65, 32)
    # no cls token: the cls token is unused and its position is dropped
    no_cls = VisionTransformer(arch=ARCH, img_size=32, patch_size=8, out_type='featmap',
                               with_cls_token=False)
    assert check_backbone_state(no_cls, state, strict=False) == ([], ['cls_token'])
    assert torch.equal(no_cls.pos_embed, state['pos_embed'][:, 1:])
    # MMPretrain cannot resize a cls-less grid from a checkpoint with cls: a listed error
    no_cls_big = VisionTransformer(arch=ARCH, img_size=64, patch_size=8, out_type='featmap',
                                   with_cls_token=False)
    with pytest.raises(BackboneKeyError, match='pos_embed'):
        check_backbone_state(no_cls_big, state, strict=False)


def test_config_backbone_is_built_in_its_scope_without_init_cfg():
    """The detection config's backbone (mmdet scope, a Pretrained init_cfg pointing at a file
    that does not exist here) builds, with overrides, and initializes nothing from the file."""
    config = ROOT / 'configs/coco_maskrcnn_sdae.py'
    backbone = build_config_backbone(str(config), {'model.backbone.arch': 'deit-tiny'},
                                     drop_path_rate=0.)
    assert isinstance(backbone, VisionTransformer) and backbone.init_cfg is None
    assert backbone.embed_dims == 192
    backbone.init_weights()  # nothing to load: would fail on the missing file otherwise
