"""ViTLayerDecayOptimWrapperConstructor in the three downstream models, built from the real configs.

The ViT-B backbones of the fine-tune, Mask R-CNN and UperNet configs are built as configured (no
checkpoint); the optimizer comes from each config's ``optim_wrapper`` through MMEngine's builder,
in the config's own registry scope (so ``constructor='mmpretrain.ViTLayerDecay...'`` resolves
from MMDetection and MMSegmentation).
"""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import MODELS, DefaultScope

import sdae_plugin  # noqa: F401
from sdae_plugin.engine.layer_decay import ViTLayerDecayOptimWrapperConstructor, find_layer_depth

ROOT = Path(__file__).resolve().parents[2]
CASES = {
    'classifier': ('configs/benchmarks/sdae_vit-b-p16_ft-8xb256-coslr-100e_in1k.py', 0.65, 4e-3,
                   'head.fc.weight'),
    'mask_rcnn': ('configs/coco_maskrcnn_sdae.py', 0.75, 3e-4,
                  'roi_head.bbox_head.fc_cls.weight'),
    'upernet': ('configs/ade20k_upernet_sdae.py', 0.65, 4e-4, 'decode_head.conv_seg.weight'),
}


def build(config: str):
    cfg = Config.fromfile(str(ROOT / config))
    cfg.model.backbone.pop('init_cfg')
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    return cfg, model, optim_wrapper


@pytest.fixture(scope='module', params=sorted(CASES))
def built(request):
    config, rate, lr, head = CASES[request.param]
    cfg, model, optim_wrapper = build(config)
    groups = {}
    for group in optim_wrapper.optimizer.param_groups:
        assert len(group['params']) == 1
        groups[group['param_name']] = group
    return request.param, rate, lr, head, model, optim_wrapper, groups


def test_constructor_is_the_plugin_one(built):
    name, _, lr, _, model, optim_wrapper, groups = built
    assert isinstance(optim_wrapper.optimizer, torch.optim.AdamW)
    assert optim_wrapper.optimizer.defaults['lr'] == pytest.approx(lr)
    # every trainable parameter is in exactly one group
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert set(groups) == trainable


def test_lr_multipliers_of_named_parameters(built):
    """patch embed rate^13, block 0 rate^12, block 11 rate^1, head 1 (ViT-B: 12 blocks)."""
    name, rate, lr, head, _, _, groups = built
    expected = {
        'backbone.patch_embed.projection.weight': rate**13,
        'backbone.pos_embed': rate**13,
        'backbone.cls_token': rate**13,
        'backbone.layers.0.attn.qkv.weight': rate**12,
        'backbone.layers.0.ln1.weight': rate**12,
        'backbone.layers.11.ffn.layers.1.weight': rate**1,
        head: 1.0,
    }
    for param, scale in expected.items():
        assert groups[param]['lr_scale'] == pytest.approx(scale), (name, param)
        assert groups[param]['lr'] == pytest.approx(lr * scale), (name, param)
    print(name, {p: round(groups[p]['lr_scale'], 6) for p in expected})


def test_necks_and_heads_are_not_decayed(built):
    name, _, _, _, _, _, groups = built
    outside = [g for n, g in groups.items() if not n.startswith('backbone.')]
    assert outside and all(g['lr_scale'] == 1.0 for g in outside)
    if name == 'mask_rcnn':
        assert groups['neck.0.branches.0.0.weight']['lr_scale'] == 1.0  # the adapter
        assert groups['rpn_head.rpn_conv.weight']['lr_scale'] == 1.0
    # the depth of a backbone parameter grows with its block
    depths = [groups[f'backbone.layers.{i}.attn.proj.weight']['layer_id'] for i in range(12)]
    assert depths == list(range(1, 13))


def test_no_weight_decay_rules(built):
    name, _, _, _, model, _, groups = built
    params = dict(model.named_parameters())
    for param_name, group in groups.items():
        no_decay = (params[param_name].ndim == 1 or param_name.endswith('.bias')
                    or param_name.endswith(('pos_embed', 'cls_token')))
        assert group['weight_decay'] == (0.0 if no_decay else 0.05), (name, param_name)
    assert groups['backbone.layers.3.attn.qkv.weight']['weight_decay'] == 0.05


def test_frozen_parameters_are_left_out():
    """The linear probe freezes the encoder; a layer-decay optimizer over it skips them."""
    cfg = Config.fromfile(
        str(ROOT / 'configs/benchmarks/sdae_vit-b-p16_linear-8xb2048-coslr-90e_in1k.py'))
    cfg.model.backbone.pop('init_cfg')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
        wrapper = build_optim_wrapper(model, dict(
            optimizer=dict(type='SGD', lr=1.0, weight_decay=0.),
            paramwise_cfg=dict(layer_decay_rate=0.5),
            constructor='ViTLayerDecayOptimWrapperConstructor'))
    names = {g['param_name'] for g in wrapper.optimizer.param_groups}
    assert names == {n for n, p in model.named_parameters() if p.requires_grad}
    assert names and not any(n.startswith('backbone.') for n in names)


def test_user_keys_override_defaults_and_rate_is_required():
    ctor = ViTLayerDecayOptimWrapperConstructor(
        dict(optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05)),
        dict(layer_decay_rate=0.9, custom_keys={'.pos_embed': dict(decay_mult=0.5)}))
    assert ctor.paramwise_cfg['custom_keys']['.pos_embed'] == dict(decay_mult=0.5)
    assert ctor.paramwise_cfg['custom_keys']['.cls_token'] == dict(decay_mult=0.)
    assert ctor.paramwise_cfg['flat_decay_mult'] == 0.
    with pytest.raises(ValueError, match='layer_decay_rate'):
        ViTLayerDecayOptimWrapperConstructor(
            dict(optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05)), {})
    with pytest.raises(ValueError, match='weight_decay'):
        ViTLayerDecayOptimWrapperConstructor(dict(optimizer=dict(type='AdamW', lr=1e-3)),
                                             dict(layer_decay_rate=0.9))


def test_model_without_backbone_depth_is_an_error():
    with pytest.raises(NotImplementedError, match='get_layer_depth'):
        find_layer_depth(torch.nn.Linear(2, 2))
