"""optimizer.fused=True: the same weights as the foreach AdamW, and a clear error where it
cannot run."""
import copy

import pytest
import torch
from mmengine.optim import build_optim_wrapper

from sdae_plugin.runtime.fused_optimizer import check_fused_support, fused_devices


def _adamw(model, **impl):
    return build_optim_wrapper(model, dict(
        constructor='SdAEOptimWrapperConstructor',
        optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.95), weight_decay=0.05, **impl),
        paramwise_cfg=dict(custom_keys={'bias': dict(decay_mult=0.)})))


def test_fused_and_foreach_adamw_give_the_same_weights(make_sdae):
    """Ten steps on the same gradients (SdAE's own, from fresh masks each step): the weights
    agree within 1e-6 (measured: 1.2e-7, one float32 ulp at the weights' scale) and the moments
    within 1e-7. The same gradients, because two runs that each compute their own drift apart
    by far more: Adam's normalized update turns ulp differences of near-zero gradients into
    differences of up to lr."""
    fused_model = make_sdae()
    foreach_model = copy.deepcopy(fused_model)
    fused, foreach = _adamw(fused_model, fused=True), _adamw(foreach_model, foreach=True)
    assert fused.optimizer.defaults['fused'] and foreach.optimizer.defaults['foreach']
    images = torch.randn(4, 1, 32, 32)
    for step in range(10):
        torch.manual_seed(step)
        fused_model.loss(images)['loss'].backward()
        for a, b in zip(fused_model.parameters(), foreach_model.parameters()):
            b.grad = None if a.grad is None else a.grad.clone()
        for wrapper in (fused, foreach):
            wrapper.step()
            wrapper.zero_grad()
    for (name, a), b in zip(fused_model.named_parameters(), foreach_model.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6, msg=name)
        if a.requires_grad:
            for key in ('exp_avg', 'exp_avg_sq'):
                torch.testing.assert_close(fused.optimizer.state[a][key],
                                           foreach.optimizer.state[b][key], rtol=0, atol=1e-7)
    assert not torch.equal(fused_model.backbone.layers[0].attn.qkv.weight,
                           make_sdae().backbone.layers[0].attn.qkv.weight)  # it did train


def test_fused_on_an_unsupported_device_is_a_build_time_error(make_sdae):
    model = make_sdae().to('meta')  # no fused kernels on the meta device
    assert 'meta' not in fused_devices()
    with pytest.raises(ValueError, match=r"fused AdamW does not run on parameters of "
                                         r"\['meta torch.float32'\].*optimizer.fused=None"):
        _adamw(model, fused=True)
    check_fused_support(dict(type='AdamW', fused=None), model)  # not asked for: no check


def test_layer_decay_constructor_checks_too(make_sdae):
    model = make_sdae().to('meta')
    cfg = dict(constructor='ViTLayerDecayOptimWrapperConstructor',
               optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05, fused=True),
               paramwise_cfg=dict(layer_decay_rate=0.75))
    with pytest.raises(ValueError, match='optimizer.fused=None'):
        build_optim_wrapper(model, cfg)
