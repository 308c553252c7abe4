"""sdae_plugin.evaluation.knn: weighted kNN votes, features of an encoder, pixel features."""
import pytest
import torch

from sdae_plugin.evaluation import knn_predict, knn_top1


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
