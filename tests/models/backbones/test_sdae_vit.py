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
