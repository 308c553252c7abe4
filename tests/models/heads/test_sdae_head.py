"""Target normalization and both loss axes against formulas written out independently."""
import math

import pytest
import torch

from mmpretrain.registry import MODELS
from sdae_plugin.models.heads import normalize_target


def explicit_normalize(t: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(t)
    for idx in range(t.shape[0]):
        for tok in range(t.shape[1]):
            v = t[idx, tok]
            mean = sum(v.tolist()) / len(v)
            var = sum((x - mean)**2 for x in v.tolist()) / (len(v) - 1)
            out[idx, tok] = (v - mean) / math.sqrt(var + 1e-6)
    return out


def explicit_cosine_loss(pred: torch.Tensor, target: torch.Tensor, axis: str) -> float:
    """1 - mean cosine; 'tokens': per (view, channel) over L tokens, 'features': per token."""
    values = []
    views, length, channels = pred.shape
    for v in range(views):
        if axis == 'tokens':
            for c in range(channels):
                a, b = pred[v, :, c].tolist(), target[v, :, c].tolist()
                dot = sum(x * y for x, y in zip(a, b))
                values.append(dot / (math.sqrt(sum(x * x for x in a)) *
                                     math.sqrt(sum(y * y for y in b))))
        else:
            for i in range(length):
                a, b = pred[v, i].tolist(), target[v, i].tolist()
                dot = sum(x * y for x, y in zip(a, b))
                values.append(dot / (math.sqrt(sum(x * x for x in a)) *
                                     math.sqrt(sum(y * y for y in b))))
    return 1 - sum(values) / len(values)


def test_normalization_gives_zero_mean_unit_variance_per_token():
    target = torch.randn(6, 5, 16, dtype=torch.float64) * 3 + 7
    out = normalize_target(target)
    torch.testing.assert_close(out.mean(-1), torch.zeros(6, 5, dtype=torch.float64))
    torch.testing.assert_close(out.var(-1), torch.ones(6, 5, dtype=torch.float64), atol=1e-5,
                               rtol=0)
    torch.testing.assert_close(out, explicit_normalize(target))


@pytest.mark.parametrize('axis', ['tokens', 'features'])
def test_loss_axes_match_explicit_formula(axis):
    torch.manual_seed(0)
    head = MODELS.build(dict(type='SdAEHead', loss_axis=axis))
    pred, raw = torch.randn(4, 7, 8), torch.randn(4, 7, 8)
    target = head.construct_target(raw)
    got = head.loss(pred, target).item()
    assert got == pytest.approx(explicit_cosine_loss(pred, target, axis), abs=1e-5)


def test_tokens_axis_equals_released_code_expression():
    """The released code: 1 - F.cosine_similarity(target, pred).mean() on (B*t, L, C)."""
    torch.manual_seed(1)
    head = MODELS.build(dict(type='SdAEHead'))
    pred, target = torch.randn(6, 49, 24), torch.randn(6, 49, 24)
    released = 1 - torch.nn.functional.cosine_similarity(target, pred).mean()
    torch.testing.assert_close(head.loss(pred, target), released, atol=1e-6, rtol=0)


@pytest.mark.parametrize('axis', ['tokens', 'features'])
def test_loss_is_zero_when_prediction_equals_target(axis):
    head = MODELS.build(dict(type='SdAEHead', loss_axis=axis))
    target = head.construct_target(torch.randn(3, 5, 8))
    assert head.loss(target.clone(), target).item() == pytest.approx(0.0, abs=1e-6)


def test_normalize_target_switch():
    raw = torch.randn(2, 3, 8)
    assert torch.equal(MODELS.build(dict(type='SdAEHead', normalize_target=False))
                       .construct_target(raw), raw)


def test_diagnostics_signal_collapse():
    head = MODELS.build(dict(type='SdAEHead', normalize_target=False))
    pred = torch.randn(2, 4, 8)
    collapsed = torch.ones(2, 4, 8)
    diag = head.diagnostics(pred, collapsed)
    assert diag['target_std'].item() == pytest.approx(0.0)
    assert head.diagnostics(pred, pred)['cosine'].item() == pytest.approx(1.0, abs=1e-6)
    assert not any('loss' in key for key in diag)


def test_unknown_loss_axis_is_an_error():
    with pytest.raises(ValueError, match="Unknown loss_axis 'channels'"):
        MODELS.build(dict(type='SdAEHead', loss_axis='channels'))
