"""timm exports load into timm's ViT and compute MMPretrain's features.

The reference features come from MMPretrain's ``VisionTransformer`` loaded here with the
checkpoint's own ``backbone.*`` / ``teacher.*`` tensors (not through the package), the timm side
from timm's ``VisionTransformer`` built from the exported kwargs (or ``timm.create_model`` by name).
"""
import argparse
import json

import pytest
import torch
import timm
from mmpretrain.models import VisionTransformer
from timm.models.vision_transformer import VisionTransformer as TimmViT

from sdae_plugin.checkpoints import (EncoderWeights, HeadCountError, export_timm, read_encoder,
                                     timm_kwargs, to_timm_state_dict, verify_timm)
from sdae_plugin.checkpoints.timm import read_timm_export, timm_model_name

TINY = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)  # conftest's arch


def branch_state(checkpoint, prefix: str) -> dict:
    sd = torch.load(checkpoint, weights_only=True)['state_dict']
    return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}


def features_agree(mm_state: dict, mm_kwargs: dict, timm_model, in_chans: int,
                   img_size: int) -> torch.Tensor:
    mm_vit = VisionTransformer(out_type='raw', **mm_kwargs)
    mm_vit.eval()
    mm_vit.load_state_dict(mm_state, strict=True)
    x = torch.randn(2, in_chans, img_size, img_size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours = mm_vit(x)[0]
        theirs = timm_model.eval().forward_features(x)
    assert ours.shape == theirs.shape == (2, 1 + (img_size // mm_kwargs['patch_size'])**2,
                                          theirs.shape[-1])
    # cls token and patch tokens after the final norm, to 1e-5
    torch.testing.assert_close(theirs[:, 0], ours[:, 0], atol=1e-5, rtol=0)
    torch.testing.assert_close(theirs[:, 1:], ours[:, 1:], atol=1e-5, rtol=0)
    return ours


def test_student_and_teacher_of_a_training_run_round_trip_through_timm(tmp_path,
                                                                       trained_checkpoint):
    outs = {'student': tmp_path / 'student.safetensors', 'teacher': tmp_path / 'teacher.pth'}
    features = {}
    for branch, prefix in (('student', 'backbone.'), ('teacher', 'teacher.')):
        export = export_timm(str(trained_checkpoint), str(outs[branch]),
                             teacher=branch == 'teacher')
        assert export.path == outs[branch] and export.fmt == ('safetensors' if branch ==
                                                              'student' else 'torch')
        info = json.loads(outs[branch].with_suffix('.json').read_text())
        assert info == json.loads(json.dumps(export.info))
        kwargs = info['timm_kwargs']
        # num_heads cannot be read from the weights: it came from the stored config
        assert kwargs['num_heads'] == 2
        assert info['num_heads_from'] == 'the config stored in the checkpoint'
        assert (kwargs['embed_dim'], kwargs['depth'], kwargs['in_chans'], kwargs['img_size'],
                kwargs['patch_size']) == (32, 2, 1, 32, 4)
        assert info['branch'] == branch and info['timm_model'] is None  # no registered name
        assert info['verified_max_abs_diff'] <= 1e-5
        model = TimmViT(**kwargs)
        model.load_state_dict(read_timm_export(outs[branch]), strict=True)
        mm_kwargs = dict(arch=TINY, img_size=32, patch_size=4, in_channels=1)
        features[branch] = features_agree(branch_state(trained_checkpoint, prefix), mm_kwargs,
                                          model, 1, 32)
    assert not torch.allclose(features['student'], features['teacher'])  # two encoders

    from safetensors import safe_open
    student_info = json.loads(outs['student'].with_suffix('.json').read_text())
    with safe_open(str(outs['student']), framework='pt') as f:  # kwargs travel in the file too
        assert json.loads(f.metadata()['timm_kwargs']) == student_info['timm_kwargs']


def test_standard_vit_export_loads_by_timm_model_name(tmp_path):
    """A standard ViT (here ViT-Ti/16, cheap) exports as the registered timm model of that name."""
    from sdae_plugin.models import SdAEViT
    torch.manual_seed(0)
    backbone = SdAEViT(arch='deit-tiny', img_size=224, patch_size=16)  # 192 wide, 12 x 3 heads
    state = {k: v + 0.02 * torch.randn_like(v) for k, v in backbone.state_dict().items()}
    ckpt = tmp_path / 'vit_ti.pth'
    torch.save({'state_dict': {'backbone.' + k: v for k, v in state.items()},
                'meta': {'num_heads': 3}}, ckpt)  # as save_backbone writes it
    out = tmp_path / 'vit_ti.safetensors'
    info = export_timm(str(ckpt), str(out)).info
    assert info['timm_model'] == 'vit_tiny_patch16_224' and info['timm_kwargs']['num_heads'] == 3
    assert info['verified_max_abs_diff'] <= 1e-5
    model = timm.create_model('vit_tiny_patch16_224', pretrained=True, num_classes=0,
                              pretrained_cfg_overlay=dict(file=str(out)))
    features_agree(state, dict(arch='deit-tiny', img_size=224, patch_size=16), model, 3, 224)


@pytest.mark.parametrize('width,depth,heads,patch,name', [
    (768, 12, 12, 16, 'vit_base_patch16_224'),
    (1024, 24, 16, 16, 'vit_large_patch16_224'),
    (768, 12, 8, 16, None),  # not the standard head count
    (192, 6, 3, 4, None),  # the demo
])
def test_timm_model_names(width, depth, heads, patch, name):
    kwargs = dict(embed_dim=width, depth=depth, num_heads=heads, patch_size=patch, img_size=224,
                  in_chans=3, mlp_ratio=4.0, qkv_bias=True)
    assert timm_model_name(kwargs) == name
    if name:
        assert name in timm.list_models()


def test_released_checkpoint_keys_come_back_unchanged(tmp_path):
    """timm names -> import -> export: the same names and tensors again."""
    torch.manual_seed(0)
    kwargs = dict(img_size=32, patch_size=8, in_chans=3, num_classes=0, embed_dim=32, depth=2,
                  num_heads=2, mlp_ratio=2.0)
    encoder = TimmViT(**kwargs).state_dict()
    model = dict(encoder, mask_token=torch.randn(1, 1, 16),
                 **{'decoder_embed.weight': torch.randn(16, 32)})
    ckpt = tmp_path / 'checkpoint-9.pth'
    torch.save({'model': model, 'model_teacher': encoder, 'epoch': 9,
                'args': argparse.Namespace(model='mae_vit_tiny')}, ckpt)
    export = export_timm(str(ckpt), str(tmp_path / 'released.pth'), num_heads=2)
    exported = read_timm_export(export.path)
    assert set(exported) == set(encoder)
    assert all(torch.equal(exported[k], v) for k, v in encoder.items())


def test_verification_catches_a_wrong_export(make_sdae):
    """The check is not vacuous: timm weights that are not the encoder's fail it."""
    encoder = EncoderWeights(make_sdae().backbone.state_dict(), num_heads=2)
    timm_state = to_timm_state_dict(encoder)
    kwargs = timm_kwargs(encoder)
    assert verify_timm(encoder, timm_state, kwargs) <= 1e-5
    bias = timm_state['blocks.1.mlp.fc2.bias'].clone()
    bias[0] += 0.01  # one channel: a shift of all channels would vanish in the final LayerNorm
    timm_state['blocks.1.mlp.fc2.bias'] = bias
    with pytest.raises(AssertionError, match='features differ by'):
        verify_timm(encoder, timm_state, kwargs)


def test_unknown_head_count_is_an_error_and_writes_nothing(tmp_path):
    vit = VisionTransformer(arch=TINY, img_size=32, patch_size=4)
    ckpt = tmp_path / 'backbone.pth'  # a backbone file without meta['num_heads']
    torch.save({'state_dict': {'backbone.' + k: v for k, v in vit.state_dict().items()},
                'meta': {}}, ckpt)
    with pytest.raises(HeadCountError, match='Pass --num-heads N'):
        export_timm(str(ckpt), str(tmp_path / 'x.pth'))
    assert not (tmp_path / 'x.pth').exists()
    with pytest.raises(ValueError, match="unknown output type '.npz'"):
        export_timm(str(ckpt), str(tmp_path / 'x.npz'), num_heads=2)
    assert read_encoder(str(ckpt), num_heads=2).num_heads == 2
