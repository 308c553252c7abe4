"""The converter of foreign formats: the MMPretrain <-> MAE/timm key table (both directions) and the
released code's student, decoder and teacher names, against pairs written out here."""
import pytest
import torch
from mmpretrain.models import VisionTransformer

from sdae_plugin.checkpoints import (BackboneKeyError, from_timm_key, released_encoder_state,
                                     released_to_sdae_key, released_to_sdae_state, to_timm_key)

# MMPretrain name -> MAE/timm name, spelled out for a 2-block encoder.
PAIRS = {
    'cls_token': 'cls_token',
    'pos_embed': 'pos_embed',
    'patch_embed.projection.weight': 'patch_embed.proj.weight',
    'patch_embed.projection.bias': 'patch_embed.proj.bias',
    'ln1.weight': 'norm.weight',
    'ln1.bias': 'norm.bias',
    'layers.0.ln1.weight': 'blocks.0.norm1.weight',
    'layers.0.ln1.bias': 'blocks.0.norm1.bias',
    'layers.0.ln2.weight': 'blocks.0.norm2.weight',
    'layers.0.ln2.bias': 'blocks.0.norm2.bias',
    'layers.0.attn.qkv.weight': 'blocks.0.attn.qkv.weight',
    'layers.0.attn.qkv.bias': 'blocks.0.attn.qkv.bias',
    'layers.0.attn.proj.weight': 'blocks.0.attn.proj.weight',
    'layers.0.attn.proj.bias': 'blocks.0.attn.proj.bias',
    'layers.0.ffn.layers.0.0.weight': 'blocks.0.mlp.fc1.weight',
    'layers.0.ffn.layers.0.0.bias': 'blocks.0.mlp.fc1.bias',
    'layers.0.ffn.layers.1.weight': 'blocks.0.mlp.fc2.weight',
    'layers.0.ffn.layers.1.bias': 'blocks.0.mlp.fc2.bias',
    'layers.11.ln1.weight': 'blocks.11.norm1.weight',
    'layers.11.ffn.layers.1.bias': 'blocks.11.mlp.fc2.bias',
}


@pytest.mark.parametrize('ours,theirs', sorted(PAIRS.items()))
def test_both_directions(ours, theirs):
    assert to_timm_key(ours) == theirs
    assert from_timm_key(theirs) == ours


def test_the_table_covers_mmpretrain_and_timm_vits():
    """Every key of MMPretrain's ViT maps to a key of timm's ViT of the same shape, one to one."""
    from timm.models.vision_transformer import VisionTransformer as TimmViT
    ours = VisionTransformer(arch=dict(embed_dims=32, num_layers=2, num_heads=2,
                                       feedforward_channels=64), img_size=32, patch_size=8)
    theirs = TimmViT(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, mlp_ratio=2.0,
                     num_classes=0)
    mapped = {to_timm_key(k): v.shape for k, v in ours.state_dict().items()}
    assert mapped == {k: v.shape for k, v in theirs.state_dict().items()}
    assert {from_timm_key(k) for k in theirs.state_dict()} == set(ours.state_dict())


@pytest.mark.parametrize('key', ['blocks.0.gamma_1', 'decoder_embed.weight', 'head.weight',
                                 'cls_tokens', 'layers.0.ln1.weight'])
def test_keys_of_no_timm_encoder_are_errors(key):
    with pytest.raises(KeyError, match='not a MAE/timm ViT encoder key'):
        from_timm_key(key)


@pytest.mark.parametrize('key', ['layers.0.gamma1', 'pre_norm.weight', 'blocks.0.norm1.weight',
                                 'ln2.weight'])
def test_keys_of_no_mmpretrain_encoder_are_errors(key):
    with pytest.raises(KeyError, match='no timm name'):
        to_timm_key(key)


# (released key, is the teacher's) -> the name in our SdAE, spelled out.
RELEASED_TO_SDAE = {
    ('mask_token', False): 'neck.mask_token',
    ('decoder_pos_embed', False): 'neck.decoder_pos_embed',
    ('decoder_embed.weight', False): 'neck.decoder_embed.weight',
    ('decoder_blocks.1.mlp.fc1.weight', False): 'neck.decoder_blocks.1.ffn.layers.0.0.weight',
    ('decoder_blocks.0.norm2.bias', False): 'neck.decoder_blocks.0.ln2.bias',
    ('decoder_norm.bias', False): 'neck.ln1.bias',
    ('decoder_pred.weight', False): 'neck.decoder_pred.weight',
    ('norm.weight', False): 'backbone.ln1.weight',
    ('cls_token', False): 'backbone.cls_token',
    ('blocks.3.attn.qkv.bias', False): 'backbone.layers.3.attn.qkv.bias',
    ('blocks.3.attn.qkv.bias', True): 'teacher.layers.3.attn.qkv.bias',
    ('patch_embed.proj.weight', True): 'teacher.patch_embed.projection.weight',
    ('norm.bias', True): 'teacher.ln1.bias',
}


@pytest.mark.parametrize('released,ours', sorted(RELEASED_TO_SDAE.items()))
def test_released_student_decoder_and_teacher_names(released, ours):
    key, teacher = released
    assert released_to_sdae_key(key, teacher=teacher) == ours


def test_released_state_drops_the_classifier_and_refuses_unknown_keys():
    tensor = torch.zeros(1)
    state = released_to_sdae_state({'decoder_norm.weight': tensor, 'norm.weight': tensor},
                                   {'norm.weight': tensor, 'head.weight': tensor,
                                    'fc_norm.bias': tensor})
    assert list(state) == ['neck.ln1.weight', 'backbone.ln1.weight', 'teacher.ln1.weight']
    encoder = released_encoder_state({'blocks.0.norm1.weight': tensor,
                                      'decoder_blocks.0.norm1.weight': tensor,
                                      'mask_token': tensor, 'head.weight': tensor})
    assert list(encoder) == ['layers.0.ln1.weight']
    with pytest.raises(BackboneKeyError, match='blocks.0.gamma_1'):
        released_encoder_state({'blocks.0.gamma_1': tensor})
