"""Reading every accepted checkpoint kind, and writing backbone files that read back.

The checkpoints are real: one epoch of the tiny SdAE through MMEngine's Runner (conftest), an MAE
model of the mini configs, and, for the released layout, MMPretrain modules whose state dicts are
renamed to MAE/timm names by :func:`timm_name` below (written independently of the package).
"""
import argparse
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmpretrain.models import VisionTransformer

from sdae_plugin.checkpoints import BackboneKeyError, read_encoder, save_backbone
from sdae_plugin.checkpoints.files import detect_format, encoder_state, load_checkpoint_file

ROOT = Path(__file__).resolve().parents[2]
ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)
TIMM_BLOCK = (('ln1', 'norm1'), ('ln2', 'norm2'), ('attn.qkv', 'attn.qkv'),
              ('attn.proj', 'attn.proj'), ('ffn.layers.0.0', 'mlp.fc1'), ('ffn.layers.1', 'mlp.fc2'))


def timm_name(key: str) -> str:
    """The MAE/timm name, written out independently of sdae_plugin.checkpoints.released_format."""
    top = {'patch_embed.projection.weight': 'patch_embed.proj.weight',
           'patch_embed.projection.bias': 'patch_embed.proj.bias',
           'ln1.weight': 'norm.weight', 'ln1.bias': 'norm.bias'}
    if key in top or not key.startswith('layers.'):
        return top.get(key, key)
    _, index, rest = key.split('.', 2)
    for ours, theirs in TIMM_BLOCK:
        if rest.startswith(ours + '.'):
            return f'blocks.{index}.{theirs}{rest[len(ours):]}'
    raise KeyError(key)


def vit(seed: int) -> VisionTransformer:
    torch.manual_seed(seed)
    model = VisionTransformer(arch=ARCH, img_size=32, patch_size=8)
    for param in model.parameters():  # distinct values everywhere (no zero-init leftovers)
        torch.nn.init.normal_(param)
    return model


def released_checkpoint(path, model_name: str = 'mae_vit_tiny') -> tuple:
    """A checkpoint in the released code's layout, with its optimizer, scaler and args."""
    student, teacher = vit(0).state_dict(), vit(1).state_dict()
    model = OrderedDict((timm_name(k), v) for k, v in student.items())
    model.update({
        'mask_token': torch.randn(1, 1, 16), 'decoder_embed.weight': torch.randn(16, 32),
        'decoder_pos_embed': torch.randn(1, 17, 16),
        'decoder_blocks.0.norm1.weight': torch.randn(16),
        'decoder_blocks.0.mlp.fc1.weight': torch.randn(64, 16),
        'decoder_norm.weight': torch.randn(16), 'decoder_pred.weight': torch.randn(32, 16)})
    model_teacher = OrderedDict((timm_name(k), v) for k, v in teacher.items())
    model_teacher.update({'head.weight': torch.randn(10, 32), 'head.bias': torch.randn(10)})
    torch.save(dict(model=model, model_teacher=model_teacher,
                    optimizer=dict(state={}, param_groups=[dict(lr=1e-3, params=[0])]),
                    epoch=299, scaler=dict(scale=65536.0),
                    args=argparse.Namespace(model=model_name, blr=2.666e-4)), path)
    return student, teacher


def assert_same_state(state: dict, expected: dict) -> None:
    assert state.keys() == expected.keys()
    for key, value in expected.items():
        assert torch.equal(state[key], value), key


@pytest.mark.parametrize('teacher', [False, True], ids=['student', 'teacher'])
def test_plugin_checkpoint_of_a_training_run(trained_checkpoint, teacher):
    ckpt = torch.load(trained_checkpoint, weights_only=True)
    prefix = 'teacher.' if teacher else 'backbone.'
    expected = {k[len(prefix):]: v for k, v in ckpt['state_dict'].items() if k.startswith(prefix)}
    encoder = read_encoder(str(trained_checkpoint), teacher=teacher)
    assert_same_state(encoder.state, expected)
    assert (encoder.num_heads, encoder.num_heads_from) == (2, 'the config stored in the checkpoint')
    assert encoder.meta == dict(source=str(trained_checkpoint), source_format='mmengine',
                                branch='teacher' if teacher else 'student', epoch=1, iter=2)
    arch = encoder.arch
    assert (arch.embed_dims, arch.num_layers, arch.feedforward_channels) == (32, 2, 64)
    assert (arch.img_size, arch.patch_size, arch.in_channels) == (32, 4, 1)
    assert arch.with_cls_token and arch.final_norm and arch.qkv_bias


def test_mmpretrain_mae_checkpoint(tmp_path):
    from mmengine.config import Config
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(str(ROOT / 'configs/mini/mae_vit-mini_fashion-mnist.py'))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    path = tmp_path / 'mae.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(cfg=cfg.pretty_text, epoch=3)),
               path)
    encoder = read_encoder(str(path))
    assert_same_state(encoder.state, model.backbone.state_dict())
    assert encoder.num_heads == cfg.model.backbone.arch.num_heads
    with pytest.raises(ValueError, match='it has no EMA teacher'):
        read_encoder(str(path), teacher=True)


@pytest.mark.parametrize('teacher', [False, True], ids=['student', 'teacher'])
def test_released_checkpoint(tmp_path, teacher):
    student, ema = released_checkpoint(tmp_path / 'checkpoint-299.pth')
    encoder = read_encoder(str(tmp_path / 'checkpoint-299.pth'), teacher=teacher, num_heads=2)
    assert_same_state(encoder.state, ema if teacher else student)  # decoder and head dropped
    assert encoder.meta == dict(source=str(tmp_path / 'checkpoint-299.pth'),
                                source_format='released',
                                branch='teacher' if teacher else 'student', epoch=299)
    VisionTransformer(arch=ARCH, img_size=32, patch_size=8).load_state_dict(encoder.state)


def test_extracted_backbone_reads_back_with_its_head_count(tmp_path, trained_checkpoint):
    encoder = read_encoder(str(trained_checkpoint))
    out = tmp_path / 'sub' / 'backbone.pth'
    save_backbone(encoder, str(out))
    written = torch.load(out, weights_only=True)  # plain tensors and values only
    assert written['meta'] == dict(encoder.meta, num_heads=2)
    assert written['state_dict'].keys() == {'backbone.' + k for k in encoder.state}
    again = read_encoder(str(out))
    assert_same_state(again.state, encoder.state)
    assert (again.num_heads, again.num_heads_from) == (2, 'meta["num_heads"] of the file')
    assert again.meta == dict(source=str(out), source_format='mmengine', branch='student',
                              epoch=1, iter=2)


def test_layouts_that_are_not_encoders_are_errors(tmp_path):
    with pytest.raises(ValueError, match=r'Unknown checkpoint layout: expected a "state_dict" '
                       r"\(MMEngine\) or a \"model\".*found keys \['optimizer'\]"):
        detect_format({'optimizer': {}})
    detector = {'state_dict': {'neck.fpn.weight': torch.zeros(1), 'roi_head.w': torch.zeros(1)}}
    with pytest.raises(ValueError, match=r'No "backbone.\*" keys in the checkpoint \(its '
                       r"prefixes: \['neck.', 'roi_head.'\]\)"):
        encoder_state(detector)
    with pytest.raises(ValueError, match='no "model_teacher" entry'):
        encoder_state({'model': {}}, teacher=True)
    # a stray key in a released checkpoint is listed, not dropped
    model = OrderedDict((timm_name(k), v) for k, v in vit(0).state_dict().items())
    model['blocks.0.gamma_1'] = torch.ones(32)
    with pytest.raises(BackboneKeyError, match=r'unexpected.*\n\s+blocks\.0\.gamma_1'):
        encoder_state({'model': model})


def test_history_buffer_checkpoint_needs_the_unsafe_switch(tmp_path):
    state = {'backbone.' + k: v for k, v in vit(0).state_dict().items()}
    path = tmp_path / 'full.pth'
    torch.save(dict(state_dict=state, message_hub=dict(log_scalars={'loss': HistoryBuffer()})),
               path)
    with pytest.raises(RuntimeError, match='--unsafe-load'):
        load_checkpoint_file(str(path))
    encoder = read_encoder(str(path), num_heads=2, unsafe=True)
    assert encoder.state.keys() == {k[len('backbone.'):] for k in state}
