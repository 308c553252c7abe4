"""The head-count policy: each source, their order, contradictions, and the error without one."""
import argparse
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from sdae_plugin.checkpoints import HeadCountError, build_vit, read_encoder
from sdae_plugin.checkpoints.num_heads import heads_of_arch, heads_of_config, resolve_num_heads

ROOT = Path(__file__).resolve().parents[2]
MINI_SDAE = ROOT / 'configs/mini/sdae_vit-mini_fashion-mnist.py'  # 128 wide, 4 heads


def stored(cfg: Config) -> dict:
    """A checkpoint with the config text MMEngine's Runner stores."""
    return dict(state_dict={}, meta=dict(cfg=cfg.pretty_text))


def test_heads_of_arch_names_dicts_and_configs():
    assert heads_of_arch('b') == heads_of_arch('base') == 12
    assert heads_of_arch('deit-tiny') == 3 and heads_of_arch('l') == 16
    assert heads_of_arch(dict(embed_dims=32, num_heads=2)) == 2
    assert heads_of_arch('no-such-arch') is None
    with pytest.raises(HeadCountError, match='the config\'s backbone is 768 wide, the '
                                             'checkpoint\'s encoder 32'):
        heads_of_arch('b', embed_dims=32)
    cfg = Config.fromfile(str(MINI_SDAE))
    assert heads_of_config(cfg) == heads_of_config(cfg.model) == 4
    assert heads_of_config(dict(model=dict(backbone=dict(type='MAEViT')))) == 12  # default 'b'
    assert heads_of_config(dict(train_dataloader=dict())) is None  # a data config


def test_each_source_in_order():
    cfg = Config.fromfile(str(MINI_SDAE))
    assert resolve_num_heads({}, 128, num_heads=4) == (4, '--num-heads')
    assert resolve_num_heads({}, 128, config=str(MINI_SDAE)) == (4, str(MINI_SDAE))
    assert resolve_num_heads({}, 128, config=cfg) == (4, cfg.filename)
    assert resolve_num_heads(stored(cfg), 128) == (4, 'the config stored in the checkpoint')
    released = dict(model={}, args=argparse.Namespace(model='mae_vit_large_patch16'))
    assert resolve_num_heads(released, 1024) == (16, 'args.model=mae_vit_large_patch16')
    extracted = dict(state_dict={}, meta=dict(num_heads=8))
    assert resolve_num_heads(extracted, 128) == (8, 'meta["num_heads"] of the file')
    # agreeing sources: the first one is reported
    assert resolve_num_heads(extracted, 128, num_heads=8) == (8, '--num-heads')
    # nothing states it: unknown, never a guess from the width (768 is ViT-B's, still unknown)
    assert resolve_num_heads(dict(state_dict={}, meta=dict(epoch=1)), 768) == (None, '')
    assert resolve_num_heads(dict(model={}, args=argparse.Namespace(model='tiny')), 768) == \
        (None, '')
    # a stored config that no longer parses states nothing
    assert resolve_num_heads(dict(state_dict={}, meta=dict(cfg='model = (')), 128) == (None, '')


def test_contradictions_are_errors():
    cfg = Config.fromfile(str(MINI_SDAE))
    with pytest.raises(HeadCountError, match=r'8 attention heads from --num-heads, but 4 from '
                                             r'the config stored in the checkpoint'):
        resolve_num_heads(stored(cfg), 128, num_heads=8)
    with pytest.raises(HeadCountError, match=r'2 attention heads from --num-heads, but 8 from '
                                             r'meta\["num_heads"\] of the file'):
        resolve_num_heads(dict(state_dict={}, meta=dict(num_heads=8)), 128, num_heads=2)
    with pytest.raises(HeadCountError, match=r'4 attention heads from .*sdae_vit-mini.*, but 8'):
        resolve_num_heads(dict(state_dict={}, meta=dict(num_heads=8)), 128, config=MINI_SDAE)
    with pytest.raises(HeadCountError, match='does not divide the width 128'):
        resolve_num_heads({}, 128, num_heads=3)
    with pytest.raises(HeadCountError, match='128 wide, the checkpoint\'s encoder 32'):
        resolve_num_heads(stored(cfg), 32)


def test_without_any_source_the_error_names_num_heads(tmp_path, make_sdae):
    path = tmp_path / 'no_config.pth'
    torch.save(dict(state_dict=make_sdae().state_dict(), meta=dict(epoch=1)), path)
    with pytest.raises(HeadCountError, match=rf'{path}: the number of attention heads is '
                                             r'unknown.*Pass --num-heads N'):
        read_encoder(str(path))
    encoder = read_encoder(str(path), require_heads=False)  # extraction copies weights only
    assert encoder.num_heads is None
    with pytest.raises(HeadCountError, match='Pass --num-heads N'):
        build_vit(encoder)
    assert read_encoder(str(path), num_heads=2).num_heads == 2


def test_the_head_count_changes_the_features(make_sdae):
    """Why it is never guessed: the same weights with 4 instead of 2 heads are another function."""
    from sdae_plugin.checkpoints import EncoderWeights
    model = make_sdae().eval()
    state = model.backbone.state_dict()
    x = torch.randn(2, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        right = build_vit(EncoderWeights(state, num_heads=2))(x)[0]
        wrong = build_vit(EncoderWeights(state, num_heads=4))(x)[0]
        torch.testing.assert_close(right, model.backbone(x)[0], atol=1e-5, rtol=0)
    assert not torch.allclose(wrong, right, atol=1e-3)
