"""Backbone extraction and conversion (sdae_plugin.engine.checkpoint_io, tools/extract_backbone.py).

Checkpoints are written here by real models: a tiny SdAE built through the registry (our
layout) and, for the released layout, MMPretrain modules whose state dicts are renamed to the
MAE/timm names by the table below (written out independently of the converter).
"""
import argparse
import importlib.util
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmpretrain.models import VisionTransformer

from sdae_plugin.engine.checkpoint_io import (
    BackboneKeyError, check_backbone_state, convert_released_key, extract_backbone,
    infer_vit_arch, load_checkpoint_file)

ROOT = Path(__file__).resolve().parents[2]
ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)

_spec = importlib.util.spec_from_file_location('extract_backbone',
                                               ROOT / 'tools/extract_backbone.py')
extract_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(extract_tool)

# MMPretrain name -> MAE/timm name, spelled out for a 2-block encoder.
MMPRETRAIN_TO_TIMM = {
    'cls_token': 'cls_token',
    'pos_embed': 'pos_embed',
    'patch_embed.projection.weight': 'patch_embed.proj.weight',
    'patch_embed.projection.bias': 'patch_embed.proj.bias',
    'ln1.weight': 'norm.weight',
    'ln1.bias': 'norm.bias',
}
for i in range(2):
    for ours, theirs in (('ln1', 'norm1'), ('ln2', 'norm2'), ('attn.qkv', 'attn.qkv'),
                         ('attn.proj', 'attn.proj'), ('ffn.layers.0.0', 'mlp.fc1'),
                         ('ffn.layers.1', 'mlp.fc2')):
        for p in ('weight', 'bias'):
            MMPRETRAIN_TO_TIMM[f'layers.{i}.{ours}.{p}'] = f'blocks.{i}.{theirs}.{p}'


def vit(seed: int, **kwargs) -> VisionTransformer:
    torch.manual_seed(seed)
    model = VisionTransformer(arch=ARCH, img_size=32, patch_size=8, **kwargs)
    for param in model.parameters():  # distinct values everywhere (no zero-init leftovers)
        torch.nn.init.normal_(param)
    return model


def released_checkpoint(path: Path) -> tuple:
    """A checkpoint in the released code's layout, with its optimizer, scaler and args."""
    student, teacher = vit(0), vit(1)
    model = OrderedDict((MMPRETRAIN_TO_TIMM[k], v) for k, v in student.state_dict().items())
    model.update({
        'mask_token': torch.randn(1, 1, 16), 'decoder_embed.weight': torch.randn(16, 32),
        'decoder_pos_embed': torch.randn(1, 17, 16),
        'decoder_blocks.0.norm1.weight': torch.randn(16),
        'decoder_blocks.0.mlp.fc1.weight': torch.randn(64, 16),
        'decoder_norm.weight': torch.randn(16), 'decoder_pred.weight': torch.randn(32, 16)})
    model_teacher = OrderedDict((MMPRETRAIN_TO_TIMM[k], v)
                                for k, v in teacher.state_dict().items())
    model_teacher.update({'head.weight': torch.randn(10, 32), 'head.bias': torch.randn(10)})
    torch.save(dict(model=model, model_teacher=model_teacher,
                    optimizer=dict(state={}, param_groups=[dict(lr=1e-3, params=[0])]),
                    epoch=299, scaler=dict(scale=65536.0),
                    args=argparse.Namespace(model='mae_vit_base_patch16', blr=2.666e-4)), path)
    return student.state_dict(), teacher.state_dict()


def test_released_key_map():
    for ours, theirs in MMPRETRAIN_TO_TIMM.items():
        assert convert_released_key(theirs) == ours
    for key in ('decoder_blocks.0.attn.qkv.weight', 'mask_token', 'decoder_pred.bias',
                'head.weight', 'fc_norm.bias'):
        assert convert_released_key(key) is None
    with pytest.raises(KeyError, match='blocks.0.gamma_1'):
        convert_released_key('blocks.0.gamma_1')


@pytest.mark.parametrize('teacher', [False, True], ids=['student', 'teacher'])
def test_released_checkpoint_imports(tmp_path, teacher, capsys):
    student, ema = released_checkpoint(tmp_path / 'checkpoint-299.pth')
    out = tmp_path / 'backbone.pth'
    argv = [str(tmp_path / 'checkpoint-299.pth'), str(out)] + (['--teacher'] if teacher else [])
    assert extract_tool.main(argv) == 0
    assert 'released format' in capsys.readouterr().out
    written = torch.load(out, weights_only=True)  # plain tensors only
    assert written['meta']['source_format'] == 'released'
    assert written['meta']['epoch'] == 299
    source = ema if teacher else student
    assert written['state_dict'].keys() == {'backbone.' + k for k in source}
    for key, value in source.items():
        assert torch.equal(written['state_dict']['backbone.' + key], value)
    # strict load into MMPretrain's ViT
    target = VisionTransformer(arch=ARCH, img_size=32, patch_size=8)
    target.load_state_dict({k[len('backbone.'):]: v for k, v in written['state_dict'].items()})


def test_sdae_checkpoint_student_and_teacher(tmp_path, make_sdae):
    model = make_sdae()
    with torch.no_grad():
        for p in model.teacher.parameters():
            p.add_(1.0)  # make the teacher differ from the student
    src = tmp_path / 'epoch_1.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(epoch=1, iter=2)), src)
    for teacher, module in ((False, model.backbone), (True, model.teacher)):
        out = tmp_path / f'{teacher}.pth'
        assert extract_tool.main([str(src), str(out)] + (['--teacher'] if teacher else [])) == 0
        written = torch.load(out, weights_only=True)
        assert written['meta'] == dict(source=str(src), source_format='mmengine',
                                       branch='teacher' if teacher else 'student', epoch=1,
                                       iter=2)
        expected = module.state_dict()
        assert written['state_dict'].keys() == {'backbone.' + k for k in expected}
        for key, value in expected.items():
            assert torch.equal(written['state_dict']['backbone.' + key], value)
    arch = infer_vit_arch(extract_backbone(torch.load(src, weights_only=True)))
    assert arch['arch'] == dict(embed_dims=32, num_layers=2, num_heads=16,
                                feedforward_channels=64)  # num_heads: any divisor (unknowable)
    assert (arch['img_size'], arch['patch_size'], arch['in_channels']) == (32, 4, 1)


def test_errors_list_the_keys(tmp_path, capsys):
    # a stray key in a released checkpoint: listed, nothing written
    student = vit(0).state_dict()
    model = OrderedDict((MMPRETRAIN_TO_TIMM[k], v) for k, v in student.items())
    model['blocks.0.gamma_1'] = torch.ones(32)
    torch.save(dict(model=model), tmp_path / 'bad.pth')
    assert extract_tool.main([str(tmp_path / 'bad.pth'), str(tmp_path / 'out.pth')]) == 1
    assert 'blocks.0.gamma_1' in capsys.readouterr().err
    assert not (tmp_path / 'out.pth').exists()

    # a checkpoint without teacher
    torch.save(dict(state_dict={'backbone.' + k: v for k, v in student.items()}),
               tmp_path / 'no_teacher.pth')
    with pytest.raises(ValueError, match='no EMA teacher'):
        extract_tool.main([str(tmp_path / 'no_teacher.pth'), str(tmp_path / 'o.pth'),
                           '--teacher'])

    # a missing block tensor: the strict check names it
    broken = dict(student)
    del broken['layers.1.attn.proj.weight']
    with pytest.raises(BackboneKeyError, match=r'missing.*\n\s+layers\.1\.attn\.proj\.weight'):
        check_backbone_state(VisionTransformer(arch=ARCH, img_size=32, patch_size=8), broken)

    # a shape mismatch is named with both shapes
    wide = VisionTransformer(arch=dict(ARCH, feedforward_channels=128), img_size=32,
                             patch_size=8)
    with pytest.raises(BackboneKeyError, match=r'layers\.0\.ffn\.layers\.0\.0\.weight: '
                                               r'checkpoint \(64, 32\), model \(128, 32\)'):
        check_backbone_state(wide, student, strict=False)


def test_downstream_differences_are_the_documented_ones():
    state = vit(0).state_dict()
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


def test_history_buffer_checkpoint_needs_the_unsafe_switch(tmp_path):
    state = {'backbone.' + k: v for k, v in vit(0).state_dict().items()}
    path = tmp_path / 'full.pth'
    torch.save(dict(state_dict=state, message_hub=dict(log_scalars={'loss': HistoryBuffer()})),
               path)
    with pytest.raises(RuntimeError, match='--unsafe-load'):
        load_checkpoint_file(str(path))
    assert extract_tool.main([str(path), str(tmp_path / 'o.pth'), '--unsafe-load']) == 0
    assert torch.load(tmp_path / 'o.pth', weights_only=True)['state_dict'].keys() == state.keys()
