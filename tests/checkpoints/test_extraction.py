"""extract_backbone: checks against MMPretrain and downstream configs, writes the head count."""
import argparse
from collections import OrderedDict

import pytest
import torch
from mmpretrain.models import VisionTransformer

from sdae_plugin.checkpoints import (BackboneKeyError, HeadCountError, extract_backbone,
                                     read_encoder, to_timm_key)

ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)


def test_trained_checkpoint_extracts_with_its_head_count(tmp_path, trained_checkpoint):
    out = tmp_path / 'backbone.pth'
    result = extract_backbone(str(trained_checkpoint), str(out))
    assert result.encoder.num_heads == 2 and result.configs == []
    written = torch.load(out, weights_only=True)
    assert written['meta'] == dict(source=str(trained_checkpoint), source_format='mmengine',
                                   branch='student', epoch=1, iter=2, num_heads=2)
    assert read_encoder(str(out)).num_heads == 2


def test_released_checkpoint_without_head_count_extracts_without_it(tmp_path):
    torch.manual_seed(0)
    state = VisionTransformer(arch=ARCH, img_size=32, patch_size=8).state_dict()
    model = OrderedDict((to_timm_key(k), v) for k, v in state.items())
    src = tmp_path / 'checkpoint-9.pth'
    torch.save(dict(model=model, epoch=9, args=argparse.Namespace(model='mae_vit_tiny')), src)
    out = tmp_path / 'backbone.pth'
    assert extract_backbone(str(src), str(out)).encoder.num_heads is None
    assert 'num_heads' not in torch.load(out, weights_only=True)['meta']
    with pytest.raises(HeadCountError, match='Pass --num-heads N'):
        read_encoder(str(out))
    extract_backbone(str(src), str(out), num_heads=2)  # ... unless given once, at extraction
    assert read_encoder(str(out)).num_heads == 2


def test_a_bad_key_writes_nothing(tmp_path, make_sdae):
    model = make_sdae()
    sd = dict(model.state_dict())
    del sd['backbone.layers.1.attn.proj.weight']
    src = tmp_path / 'broken.pth'
    torch.save(dict(state_dict=sd), src)
    with pytest.raises(BackboneKeyError, match=r'layers\.1\.attn\.proj\.weight'):
        extract_backbone(str(src), str(tmp_path / 'out.pth'), num_heads=2)
    assert not (tmp_path / 'out.pth').exists()


def test_downstream_config_with_another_head_count_is_an_error(tmp_path, trained_checkpoint):
    from mmengine.config import Config
    downstream = Config(dict(model=dict(backbone=dict(
        type='VisionTransformer', arch=dict(ARCH, num_heads=4), img_size=32, patch_size=4,
        in_channels=1, out_type='avg_featmap', final_norm=False)), default_scope='mmpretrain'))
    path = tmp_path / 'downstream.py'
    downstream.dump(str(path))
    with pytest.raises(HeadCountError, match=r'its backbone has 4 attention heads, the encoder '
                                             r'2 \(from the config stored in the checkpoint\)'):
        extract_backbone(str(trained_checkpoint), str(tmp_path / 'out.pth'), configs=[str(path)])
    result = extract_backbone(str(trained_checkpoint), str(tmp_path / 'out.pth'),
                              configs=[str(path)], cfg_options={'model.backbone.arch.num_heads': 2})
    assert result.configs == [(str(path), ['ln2.weight', 'ln2.bias'], ['ln1.weight', 'ln1.bias'])]
