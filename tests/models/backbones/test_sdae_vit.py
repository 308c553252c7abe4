"""SdAEViT: whole-image features as MMPretrain's ViT, subsets with their original positions."""
import pytest
import torch

from mmpretrain.registry import MODELS

ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)


def build(**kwargs):
    torch.manual_seed(0)
    vit = MODELS.build(dict(type='SdAEViT', arch=ARCH, img_size=32, patch_size=4, **kwargs))
    vit.init_weights()
    vit.eval()  # mmpretrain's VisionTransformer.train() returns None, so no chaining
    return vit


def test_all_patches_in_grid_order_equal_the_whole_image_forward():
    vit = build()
    x = torch.randn(2, 3, 32, 32)
    whole = vit(x)[0]  # (B, 65, C), out_type='raw'
    ids = torch.arange(64).expand(2, 1, 64)
    torch.testing.assert_close(vit.forward_tokens(x, ids), whole, atol=1e-5, rtol=0)


def test_drop_after_pos_is_applied_in_training_only():
    vit = build(drop_rate=0.5)
    x, ids = torch.randn(1, 3, 32, 32), torch.arange(64).expand(1, 1, 64)
    torch.testing.assert_close(vit.forward_tokens(x, ids), vit.forward_tokens(x, ids))
    vit.train()
    torch.manual_seed(1)
    first = vit.forward_tokens(x, ids)
    assert not torch.allclose(first, vit.forward_tokens(x, ids))
    torch.manual_seed(1)
    torch.testing.assert_close(vit.forward_tokens(x, ids), first)  # the dropout's randomness


def test_views_are_independent_sequences():
    vit = build()
    x = torch.randn(1, 3, 32, 32)
    ids = torch.tensor([[[0, 1, 2], [10, 11, 12]]])
    both = vit.forward_tokens(x, ids)
    assert both.shape == (2, 4, 32)
    torch.testing.assert_close(both[1], vit.forward_tokens(x, ids[:, 1:])[0], atol=1e-5, rtol=0)


def test_grey_images_and_position_embeddings_are_fixed():
    vit = build(patch_cfg=dict(in_channels=1))
    assert vit.forward_tokens(torch.randn(1, 1, 32, 32), torch.zeros(1, 1, 4).long()).shape == (
        1, 5, 32)
    assert not vit.pos_embed.requires_grad


@pytest.mark.parametrize('kwargs,message', [
    (dict(img_size=30), 'img_size=30 is not a multiple of patch_size=4'),
    (dict(img_size=(32, 16)), 'square patch grid'),
])
def test_bad_sizes_are_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MODELS.build(dict(type='SdAEViT', arch=ARCH, patch_size=4, **kwargs))


def test_masking_inside_the_backbone_is_refused():
    with pytest.raises(ValueError, match='does not draw masks itself'):
        build()(torch.randn(1, 3, 32, 32), mask=True)


def sincos_half(positions: torch.Tensor, channels: int) -> torch.Tensor:
    """``[sin(p * w_i), cos(p * w_i)]`` with ``w_i = 10000 ** (-i / (channels / 2))``."""
    omega = 1.0 / 10000**(torch.arange(channels // 2, dtype=torch.float64) / (channels // 2))
    angles = positions.flatten().double()[:, None] * omega[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def test_position_table_is_mae_sincos_with_rows_and_columns_swapped():
    """README's differences table: MMPretrain's first half encodes the row, MAE's the column."""
    vit = build()
    grid, width = 8, 32
    rows, cols = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing='ij')  # k = r*8+c
    ours = vit.pos_embed[0, 1:].double()
    row_first = torch.cat([sincos_half(rows, width // 2), sincos_half(cols, width // 2)], dim=1)
    mae = torch.cat([sincos_half(cols, width // 2), sincos_half(rows, width // 2)], dim=1)
    torch.testing.assert_close(ours, row_first, atol=1e-6, rtol=0)
    assert not torch.allclose(ours, mae)
    transposed = torch.arange(grid * grid).reshape(grid, grid).T.flatten()  # patch (r, c) -> (c, r)
    torch.testing.assert_close(ours, mae[transposed], atol=1e-6, rtol=0)
    assert torch.count_nonzero(vit.pos_embed[0, 0]) == 0  # the cls position is zero in both
