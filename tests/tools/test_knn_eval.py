"""tools/knn_eval.py and sdae_plugin.evaluation: weighted kNN, features, checkpoints, the CLI."""
import importlib.util
import json
from pathlib import Path

import pytest
import torch

from sdae_plugin.evaluation import (build_encoder, checkpoint_num_heads, extract_features,
                                    knn_predict, knn_top1, load_encoder_state, model_num_heads,
                                    pixel_features, random_encoder_state)

ROOT = Path(__file__).resolve().parents[2]
KNN_CFG = ROOT / 'configs/mini/eval/knn_fashion-mnist.py'
MINI_SDAE = ROOT / 'configs/mini/sdae_vit-mini_fashion-mnist.py'


def load_tool():
    spec = importlib.util.spec_from_file_location('knn_eval_tool', ROOT / 'tools/knn_eval.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_knn_finds_the_known_neighbours():
    """Queries next to known training points get those points' labels, whatever their norm."""
    torch.manual_seed(0)
    train = torch.randn(50, 16)
    labels = torch.arange(50) % 7
    picks = torch.tensor([3, 17, 42, 8, 29])
    # scaled copies with a little noise: cosine similarity ignores the scale
    queries = train[picks] * torch.tensor([[0.1], [5.0], [1.0], [30.0], [2.0]])
    queries = queries + 0.01 * torch.randn_like(queries)
    pred = knn_predict(train, labels, queries, num_classes=7, k=1)
    assert pred.tolist() == labels[picks].tolist()
    assert knn_top1(train, labels, queries, labels[picks], k=1) == 100.0
    wrong = (labels[picks] + 1) % 7
    assert knn_top1(train, labels, queries, wrong, k=1) == 0.0


def test_votes_are_weighted_by_exp_similarity_over_temperature():
    """One very close neighbour of class 0 outvotes two far ones of class 1 at T=0.07 only."""
    query = torch.tensor([[1.0, 0.0]])
    angle = torch.tensor([0.1, 1.0, 1.05])  # cosine 0.995, 0.540, 0.498
    train = torch.stack([angle.cos(), angle.sin()], dim=1)
    labels = torch.tensor([0, 1, 1])
    # exp(0.995/0.07) = 1.5e6 > exp(0.540/0.07) + exp(0.498/0.07) = 3.5e3: class 0
    assert knn_predict(train, labels, query, k=3, temperature=0.07).tolist() == [0]
    # a flat vote (huge T) is a majority vote: class 1
    assert knn_predict(train, labels, query, k=3, temperature=1e4).tolist() == [1]
    # k=2 leaves out the third point: 1.5e6 vs 2.2e3, class 0
    assert knn_predict(train, labels, query, k=2, temperature=1.0).tolist() == [0]


def test_knn_chunks_and_caps_k():
    torch.manual_seed(1)
    train, test = torch.randn(30, 8), torch.randn(25, 8)
    labels = torch.randint(0, 4, (30, ))
    whole = knn_predict(train, labels, test, k=20)
    assert torch.equal(whole, knn_predict(train, labels, test, k=20, chunk=3))
    # k larger than the bank: all 30 vote
    assert torch.equal(knn_predict(train, labels, test, k=100),
                       knn_predict(train, labels, test, k=30))
    with pytest.raises(ValueError):
        knn_predict(train, labels[:5], test)
    with pytest.raises(ValueError):
        knn_predict(train, labels, test, temperature=0)


def test_encoder_from_an_sdae_checkpoint_is_the_student(tmp_path, make_sdae):
    """The kNN encoder built from a pretraining checkpoint computes the student's tokens."""
    model = make_sdae().eval()
    with torch.no_grad():  # make the teacher differ from the student
        for p in model.teacher.parameters():
            p.add_(0.1)
    path = tmp_path / 'epoch_1.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(epoch=1)), path)

    x = torch.randn(3, 1, 32, 32)
    # no config in this file: the head count must be given (the weights do not fix it)
    with pytest.raises(ValueError, match='num_heads'):
        load_encoder_state(str(path))
    state, heads = load_encoder_state(str(path), num_heads=2)
    encoder = build_encoder(state, heads)
    with torch.no_grad():
        tokens = encoder(x)[0]
        assert torch.allclose(tokens, model.backbone(x)[0], atol=1e-5)
        wrong = build_encoder(state, 4)(x)[0]  # same weights, other heads: other features
        assert not torch.allclose(wrong, tokens, atol=1e-3)
        teacher = build_encoder(*load_encoder_state(str(path), teacher=True, num_heads=2))
        assert torch.allclose(teacher(x)[0], model.teacher(x)[0], atol=1e-5)
        assert not torch.allclose(teacher(x)[0], tokens, atol=1e-3)

    feats, labels = extract_features(encoder, [(x[:2], torch.tensor([4, 5])),
                                               (x[2:], torch.tensor([6]))])
    assert labels.tolist() == [4, 5, 6]
    assert torch.allclose(feats['cls'], tokens[:, 0], atol=1e-5)
    assert torch.allclose(feats['mean'], tokens[:, 1:].mean(1), atol=1e-5)
    bf16, _ = extract_features(encoder, [(x, torch.zeros(3))], amp=torch.bfloat16)
    assert bf16['cls'].dtype == torch.float32
    assert torch.allclose(bf16['cls'], tokens[:, 0], atol=0.1)


def test_random_init_encoder_is_seeded():
    from mmengine.config import Config
    cfg = Config.fromfile(str(MINI_SDAE)).model
    a, b = random_encoder_state(cfg, seed=0), random_encoder_state(cfg, seed=0)
    c = random_encoder_state(cfg, seed=1)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a['layers.0.attn.qkv.weight'], c['layers.0.attn.qkv.weight'])
    assert a['patch_embed.projection.weight'].shape == (128, 1, 4, 4)


def test_cli_each_image_finds_itself(tmp_path, fashion_idx, make_sdae):
    """The tool end to end on a tiny idx set whose test split is its train split: with k=1 every
    query's nearest neighbour is itself, so top-1 is 100 % for any encoder, but only if features
    and labels stay paired through data loading, caching and every feature kind (cls, mean-pool,
    and the raw pixels of --pixels)."""
    data = tmp_path / 'fashion'
    fashion_idx(data, num=40)
    model = make_sdae()
    ckpt = tmp_path / 'tiny.pth'
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    out = tmp_path / 'knn.json'
    rows = load_tool().main([
        str(ckpt), '--config', str(KNN_CFG), '--random-init', str(MINI_SDAE), '--k', '1',
        '--num-heads', '2', '--pixels',
        '--out-json', str(out), '--cfg-options', f'train_dataloader.dataset.data_root={data}',
        f'test_dataloader.dataset.data_root={data}', 'train_dataloader.batch_size=16',
        'test_dataloader.batch_size=7'])
    assert [r['checkpoint'] for r in rows] == ['pixels', f'random-init:{MINI_SDAE}', str(ckpt)]
    for row in rows:
        assert (row['num_train'], row['num_test'], row['k']) == (40, 40, 1)
    assert rows[0]['top1_pixels'] == 100.0 and 'top1_cls' not in rows[0]
    for row in rows[1:]:
        assert row['top1_cls'] == row['top1_mean'] == 100.0
    assert json.loads(out.read_text()) == rows

    # default k=20 from the config: a real vote, a valid percentage
    rows = load_tool().main([str(ckpt), '--config', str(KNN_CFG), '--num-heads', '2',
                             '--cfg-options',
                             f'train_dataloader.dataset.data_root={data}',
                             f'test_dataloader.dataset.data_root={data}',
                             'train_dataloader.dataset.indices=24'])
    assert rows[0]['k'] == 20 and rows[0]['temperature'] == 0.07 and rows[0]['num_train'] == 24
    assert 0.0 <= rows[0]['top1_cls'] <= 100.0


def test_pixel_features_are_the_flattened_images():
    images = torch.randn(3, 1, 4, 4)
    feats, labels = pixel_features([(images[:2], torch.tensor([1, 2])),
                                    (images[2:], torch.tensor([[0]]))])
    assert torch.equal(feats['pixels'], images.flatten(1)) and labels.tolist() == [1, 2, 0]


def test_num_heads_from_configs_and_checkpoints():
    from mmengine.config import Config
    cfg = Config.fromfile(str(MINI_SDAE))
    assert model_num_heads(cfg.model) == 4
    assert model_num_heads(dict(backbone=dict(arch='b'))) == 12
    assert checkpoint_num_heads(dict(meta=dict(cfg=cfg.pretty_text))) == 4
    assert checkpoint_num_heads(dict(meta=dict(epoch=1))) is None
    assert checkpoint_num_heads(dict(state_dict={})) is None
