"""Whole-image features of live and built encoders: equal to MMPretrain's ViT, autocast, labels,
the pixels, and the DDP gather (2 gloo processes) against one process."""
import subprocess
import sys

import pytest
import torch

from sdae_plugin.checkpoints import EncoderWeights, build_vit
from sdae_plugin.evaluation import (check_encoder, encoder_input_shape, extract_features,
                                    gather_shards, load_labelled, pixel_features,
                                    whole_image_tokens)


@pytest.mark.parametrize('branch', ['backbone', 'teacher'])
def test_tokens_equal_mmpretrain_vit_on_whole_images(make_sdae, reference_vit, branch):
    encoder = getattr(make_sdae(), branch)
    encoder.eval()
    images = torch.randn(3, 1, 32, 32)
    with torch.no_grad():
        tokens = whole_image_tokens(encoder, images)
        expected = reference_vit(encoder.state_dict())(images)[-1]
    assert tokens.shape == (3, 65, 32)
    torch.testing.assert_close(tokens, expected, rtol=1e-5, atol=1e-5)

    feats, labels = extract_features(encoder, [(images[:2], torch.tensor([0, 1])),
                                               (images[2:], torch.tensor([2]))])
    assert labels.tolist() == [0, 1, 2]
    torch.testing.assert_close(feats['cls'], expected[:, 0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(feats['mean'], expected[:, 1:].mean(1), rtol=1e-5, atol=1e-5)


def test_mae_vit_is_encoded_unmasked(reference_vit):
    """MAEViT masks unless called with mask=None (mask=False masks too); unmasked it is
    MMPretrain's ViT. A ViT that outputs only its cls token is refused."""
    from mmpretrain.models import MAEViT
    torch.manual_seed(0)
    vit = MAEViT(arch=dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64),
                 img_size=32, patch_size=4, patch_cfg=dict(in_channels=1))
    vit.eval()
    check_encoder(vit)
    images = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        tokens = whole_image_tokens(vit, images)
    assert tokens.shape == (2, 65, 32)
    torch.testing.assert_close(tokens, reference_vit(vit.state_dict())(images)[-1],
                               rtol=1e-5, atol=1e-5)
    vit.out_type = 'cls_token'
    with pytest.raises(ValueError, match=r'model.backbone \(MAEViT\) gives no cls and patch '
                                         r'tokens.*out_type=\'cls_token\''):
        check_encoder(vit, 'model.backbone')


def test_bf16_autocast_features(make_sdae):
    encoder = make_sdae().backbone
    encoder.eval()
    batches = [(torch.randn(4, 1, 32, 32), torch.zeros(4, dtype=torch.long))]
    fp32, _ = extract_features(encoder, batches)
    bf16, _ = extract_features(encoder, batches, dtype=torch.bfloat16)
    assert bf16['cls'].dtype == torch.float32  # returned in fp32 ...
    assert not torch.equal(bf16['cls'], fp32['cls'])  # ... computed in bf16
    torch.testing.assert_close(bf16['cls'], fp32['cls'], rtol=0.1, atol=0.1)


def test_input_shape_and_unsupported_encoder(make_sdae):
    encoder = make_sdae().backbone
    assert encoder_input_shape(encoder) == (1, 32, 32)
    with pytest.raises(ValueError, match='is not a ViT with a patch_embed'):
        check_encoder(torch.nn.Linear(2, 2), 'model.backbone')


def test_load_labelled_normalizes_and_reads_labels(make_sdae, labelled_images, synthetic_images):
    from mmengine.runner import Runner
    from mmpretrain.models import SelfSupDataPreprocessor
    images = torch.randint(0, 256, (5, 1, 32, 32), dtype=torch.uint8)
    loader = Runner.build_dataloader(dict(
        dataset=labelled_images(images, [3, 1, 4, 1, 5]), batch_size=2,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate')))
    preprocessor = SelfSupDataPreprocessor(mean=[100.], std=[50.], to_rgb=False)
    batches = load_labelled(loader, preprocessor)
    assert [len(labels) for _, labels in batches] == [2, 2, 1]
    assert torch.cat([labels for _, labels in batches]).tolist() == [3, 1, 4, 1, 5]
    torch.testing.assert_close(torch.cat([x for x, _ in batches]), (images.float() - 100) / 50)

    unlabelled = Runner.build_dataloader(dict(
        dataset=synthetic_images(4), batch_size=2,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate')))
    with pytest.raises(ValueError, match='bank: the samples have no gt_label'):
        load_labelled(unlabelled, preprocessor, 'bank')


def test_gather_in_one_process_drops_nothing_but_the_padding():
    shard = torch.arange(12).reshape(6, 2)
    assert torch.equal(gather_shards(shard, 5), shard[:5])


# Two gloo processes: each takes its DefaultSampler(shuffle=False) shard of 7 rows (4 + 3, or
# 4 + 4 with the padding of round_up) and gathers; both must hold the 7 rows in order.
GATHER = '''
import sys
import torch
import torch.distributed as tdist
import torch.multiprocessing as mp
from mmengine.dataset import DefaultSampler
from sdae_plugin.evaluation import gather_shards


def worker(rank, port, out):
    tdist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                             world_size=2)
    data = torch.arange(21, dtype=torch.float).reshape(7, 3)
    for round_up in (True, False):
        shard = data[list(DefaultSampler(list(range(7)), shuffle=False, round_up=round_up))]
        torch.save((len(shard), gather_shards(shard, 7)), f'{out}/{rank}_{round_up}.pt')
    tdist.destroy_process_group()


if __name__ == '__main__':
    mp.spawn(worker, args=(int(sys.argv[1]), sys.argv[2]), nprocs=2)
'''


def test_gather_over_two_gloo_processes(tmp_path, free_port):
    script = tmp_path / 'gather.py'
    script.write_text(GATHER)
    result = subprocess.run([sys.executable, str(script), str(free_port()), str(tmp_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    expected = torch.arange(21, dtype=torch.float).reshape(7, 3)
    for rank in (0, 1):
        for round_up, shard_sizes in ((True, (4, 4)), (False, (4, 3))):
            size, gathered = torch.load(tmp_path / f'{rank}_{round_up}.pt', weights_only=True)
            assert size == shard_sizes[rank]
            assert torch.equal(gathered, expected)


def test_pixel_features_are_the_flattened_images():
    images = torch.randn(3, 1, 4, 4)
    feats, labels = pixel_features([(images[:2], torch.tensor([1, 2])),
                                    (images[2:], torch.tensor([[0]]))])
    assert torch.equal(feats['pixels'], images.flatten(1)) and labels.tolist() == [1, 2, 0]


def test_features_are_the_encoders_cls_and_mean_tokens(make_sdae):
    model = make_sdae().eval()
    encoder = build_vit(EncoderWeights(model.backbone.state_dict(), num_heads=2))
    x = torch.randn(3, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        tokens = model.backbone(x)[0]  # (3, 1 + 64, 32) after the final norm
    feats, labels = extract_features(encoder, [(x[:2], torch.tensor([4, 5])),
                                               (x[2:], torch.tensor([6]))])
    assert labels.tolist() == [4, 5, 6]
    torch.testing.assert_close(feats['cls'], tokens[:, 0], atol=1e-5, rtol=0)
    torch.testing.assert_close(feats['mean'], tokens[:, 1:].mean(1), atol=1e-5, rtol=0)
    bf16, _ = extract_features(encoder, [(x, torch.zeros(3))], dtype=torch.bfloat16)
    assert bf16['cls'].dtype == torch.float32
    assert torch.allclose(bf16['cls'], tokens[:, 0], atol=0.1)
