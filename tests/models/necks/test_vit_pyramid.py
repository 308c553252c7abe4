"""ViTPyramidAdapter: strides, the single-map form, equality with MMSegmentation's Feature2Pyramid."""
import pytest
import torch
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS

import sdae_plugin  # noqa: F401
from sdae_plugin.models.necks import ViTPyramidAdapter


def maps(channels: int = 8, size: int = 6, count: int = 4):
    torch.manual_seed(0)
    return tuple(torch.randn(2, channels, size, size) for _ in range(count))


def test_rescales_each_block_output():
    adapter = ViTPyramidAdapter(8, norm_cfg=dict(type='BN'))
    outs = adapter(maps())
    assert [o.shape[-1] for o in outs] == [24, 12, 6, 3]  # strides 4, 8, 16, 32 for patch 16
    assert all(o.shape[:2] == (2, 8) for o in outs)
    inputs = maps()
    assert torch.equal(adapter(inputs)[2], inputs[2])  # x1 is the identity
    assert torch.equal(adapter(inputs)[3], torch.nn.functional.max_pool2d(inputs[3], 2))


def test_single_map_is_reused_for_every_scale():
    adapter = ViTPyramidAdapter(8, norm_cfg=dict(type='BN')).eval()
    x = maps(count=1)[0]
    assert [tuple(o.shape[-2:]) for o in adapter(x)] == [(24, 24), (12, 12), (6, 6), (3, 3)]
    for a, b in zip(adapter(x), adapter((x, ) * 4)):
        assert torch.equal(a, b)


def test_equals_mmseg_feature2pyramid_with_the_same_weights():
    from mmseg.models.necks import Feature2Pyramid
    torch.manual_seed(1)
    ours = ViTPyramidAdapter(8, norm_cfg=dict(type='BN')).eval()
    theirs = Feature2Pyramid(8, rescales=[4, 2, 1, 0.5], norm_cfg=dict(type='BN')).eval()
    with torch.no_grad():  # non-trivial weights and BN statistics
        for tensor in list(ours.parameters()) + [ours.branches[0][1].running_mean]:
            tensor.normal_()
        ours.branches[0][1].running_var.uniform_(0.5, 2.0)
    theirs.upsample_4x.load_state_dict(ours.branches[0].state_dict())
    theirs.upsample_2x[0].load_state_dict(ours.branches[1].state_dict())
    inputs = maps()
    for a, b in zip(ours(inputs), theirs(inputs)):
        torch.testing.assert_close(a, b)


def test_registered_for_mmdet_and_mmseg_configs():
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        assert isinstance(MODELS.build(dict(type='ViTPyramidAdapter', in_channels=8)),
                          ViTPyramidAdapter)
    for scope in ('mmdet', 'mmseg'):
        registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
        with DefaultScope.overwrite_default_scope(scope):
            module = registry.build(dict(type='mmpretrain.ViTPyramidAdapter', in_channels=8))
        assert isinstance(module, ViTPyramidAdapter)


def test_errors():
    with pytest.raises(ValueError, match='unsupported scale 3'):
        ViTPyramidAdapter(8, scales=(3, 1))
    with pytest.raises(ValueError, match='3 feature maps for 4 scales'):
        ViTPyramidAdapter(8, norm_cfg=dict(type='BN'))(maps(count=3))
