"""SdAENeck: predicts encoder-width features at every patch; validates its grid."""
import pytest
import torch

from mmpretrain.registry import MODELS


def test_predicts_teacher_width_at_every_position():
    neck = MODELS.build(dict(type='SdAENeck', num_patches=64, embed_dim=48, decoder_embed_dim=16,
                             decoder_depth=2, decoder_num_heads=2))
    neck.init_weights()
    latent = torch.randn(3, 1 + 16, 48)
    ids_restore = torch.stack([torch.randperm(64) for _ in range(3)])
    assert neck(latent, ids_restore).shape == (3, 64, 48)
    assert len(neck.decoder_blocks) == 2


@pytest.mark.parametrize('kwargs,message', [
    (dict(num_patches=50), 'num_patches=50 is not a square'),
    (dict(decoder_embed_dim=30, decoder_num_heads=4), 'not divisible by decoder_num_heads=4'),
])
def test_invalid_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MODELS.build(dict(type='SdAENeck', **kwargs))
