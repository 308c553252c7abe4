"""Weighted k-nearest-neighbour classification on frozen ViT features (DINO's protocol).

Every test feature votes with its ``k`` most cosine-similar training features, each vote
weighted by ``exp(similarity / temperature)`` (k=20, T=0.07 in DINO); the class with the largest
summed weight wins. Features of an encoder (:func:`~sdae_plugin.checkpoints.build_vit`, run on whole
images): the cls token and the mean of the patch tokens, both after the encoder's final LayerNorm.
These functions are pure (tensors in, tensors out); :mod:`.knn_eval` reads the data and the
checkpoints.
"""
from contextlib import nullcontext
from typing import Dict, Iterable, Optional, Tuple

import torch
import torch.nn.functional as F


@torch.no_grad()
def knn_predict(train_feats: torch.Tensor, train_labels: torch.Tensor, test_feats: torch.Tensor,
                num_classes: Optional[int] = None, k: int = 20, temperature: float = 0.07,
                chunk: int = 1024) -> torch.Tensor:
    """Weighted kNN class predictions (DINO): cosine similarity, ``exp(s / T)`` votes.

    Args:
        train_feats (Tensor): ``(N_train, C)`` memory bank (normalized here).
        train_labels (Tensor): ``(N_train,)`` integer labels.
        test_feats (Tensor): ``(N_test, C)`` queries (normalized here).
        num_classes (int, optional): defaults to ``max(train_labels) + 1``.
        k (int): neighbours per query (capped at ``N_train``). Defaults to 20.
        temperature (float): vote weight ``exp(similarity / temperature)``. Defaults to 0.07.
        chunk (int): queries per similarity block (memory). Defaults to 1024.

    Returns:
        Tensor: ``(N_test,)`` predicted labels. Ties go to the smaller class index.
    """
    if train_feats.ndim != 2 or test_feats.ndim != 2 or train_feats.shape[1] != test_feats.shape[1]:
        raise ValueError(f'features must be (N, C) with the same C, got {tuple(train_feats.shape)}'
                         f' and {tuple(test_feats.shape)}')
    if len(train_feats) != len(train_labels):
        raise ValueError(f'{len(train_feats)} training features but {len(train_labels)} labels')
    if k < 1 or temperature <= 0:
        raise ValueError(f'k must be >= 1 and temperature > 0, got k={k}, T={temperature}')
    train_labels = train_labels.long()
    num_classes = int(train_labels.max()) + 1 if num_classes is None else num_classes
    k = min(k, len(train_feats))
    bank = F.normalize(train_feats.float(), dim=1)
    preds = []
    for start in range(0, len(test_feats), chunk):
        query = F.normalize(test_feats[start:start + chunk].float(), dim=1)
        sim, idx = (query @ bank.T).topk(k, dim=1)  # (q, k)
        weights = (sim / temperature).exp()
        votes = torch.zeros(len(query), num_classes)
        votes.scatter_add_(1, train_labels[idx], weights)
        preds.append(votes.argmax(dim=1))
    return torch.cat(preds)


def knn_top1(train_feats: torch.Tensor, train_labels: torch.Tensor, test_feats: torch.Tensor,
             test_labels: torch.Tensor, **kwargs) -> float:
    """Top-1 accuracy in percent of :func:`knn_predict`."""
    pred = knn_predict(train_feats, train_labels, test_feats, **kwargs)
    return 100.0 * (pred == test_labels.long()).float().mean().item()
