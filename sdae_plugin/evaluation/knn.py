"""Weighted k-nearest-neighbour classification on frozen ViT features (DINO's protocol).

Every test feature votes with its ``k`` most cosine-similar training features, each vote
weighted by ``exp(similarity / temperature)`` (k=20, T=0.07 in DINO); the class with the largest
summed weight wins. Features come from any ViT encoder checkpoint that
:mod:`sdae_plugin.engine.checkpoint_io` reads (this plugin's pretraining checkpoints, MMPretrain's
MAE checkpoints, extracted backbones, the released SdAE checkpoints), run as MMPretrain's
``VisionTransformer`` on whole images: the cls token and the mean of the patch tokens, both after
the encoder's final LayerNorm.
"""
import copy
from contextlib import nullcontext
from typing import Dict, Iterable, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..engine.checkpoint_io import (StateDict, check_backbone_state, extract_backbone,
                                    infer_vit_arch, load_checkpoint_file)

FEATURE_KINDS = ('cls', 'mean')


def model_num_heads(model_cfg) -> int:
    """The attention heads of a model config's ViT backbone (``arch`` dict or arch name)."""
    arch = model_cfg['backbone']['arch']
    if isinstance(arch, str):
        from mmpretrain.models import VisionTransformer
        return int(VisionTransformer.arch_zoo[arch.lower()]['num_heads'])
    return int(arch['num_heads'])


def checkpoint_num_heads(checkpoint: dict) -> Optional[int]:
    """The heads of the ViT that wrote an MMEngine checkpoint, from the config text MMEngine's
    Runner stores in ``meta['cfg']``; None if the checkpoint has no config (e.g. an extracted
    backbone). The weights alone do not determine it: the same tensors with another head count
    compute other features."""
    meta = checkpoint.get('meta')
    text = meta.get('cfg') if isinstance(meta, dict) else None
    if not isinstance(text, str):
        return None
    from mmengine.config import Config
    try:
        return model_num_heads(Config.fromstring(text, '.py').model)
    except Exception:  # a config without a ViT backbone arch
        return None


def load_encoder_state(path: str, teacher: bool = False, unsafe: bool = False,
                       num_heads: Optional[int] = None) -> Tuple[StateDict, int]:
    """The encoder state (MMPretrain ViT names, no prefix) of a checkpoint and its head count.

    Raises:
        ValueError: if ``num_heads`` is not given and the checkpoint holds no config to read
            it from.
    """
    checkpoint = load_checkpoint_file(path, unsafe=unsafe)
    state = extract_backbone(checkpoint, teacher=teacher)
    heads = num_heads or checkpoint_num_heads(checkpoint)
    if heads is None:
        raise ValueError(f'{path} holds no training config to read the number of attention '
                         'heads from (the weights do not determine it): pass num_heads '
                         '(tools/knn_eval.py --num-heads).')
    return state, heads


def build_encoder(state: StateDict, num_heads: int) -> nn.Module:
    """MMPretrain's ``VisionTransformer`` (all tokens out) loaded strictly with ``state``."""
    from mmpretrain.models import VisionTransformer
    kwargs = infer_vit_arch(state)
    if kwargs['arch']['embed_dims'] % num_heads:
        raise ValueError(f'num_heads={num_heads} does not divide the width '
                         f'{kwargs["arch"]["embed_dims"]}')
    kwargs['arch']['num_heads'] = num_heads
    model = VisionTransformer(out_type='raw', **kwargs)
    check_backbone_state(model, state, strict=True, context='(kNN encoder)')
    model.eval()  # (VisionTransformer.train returns None, so eval() cannot be chained)
    return model


def random_encoder_state(model_cfg: dict, seed: int = 0) -> StateDict:
    """The student encoder of a pretraining model config at its initialization (the floor row).

    The model (e.g. SdAE or MAE) is built from ``model_cfg`` and initialized with its own
    ``init_cfg`` after ``torch.manual_seed(seed)``, exactly as pretraining starts.
    """
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    torch.manual_seed(seed)
    model = MODELS.build(copy.deepcopy(model_cfg))
    model.init_weights()
    return {k: v.detach().clone() for k, v in model.backbone.state_dict().items()}


@torch.no_grad()
def extract_features(encoder: nn.Module, batches: Iterable[Tuple[torch.Tensor, torch.Tensor]],
                     amp: Optional[torch.dtype] = None) -> Tuple[Dict[str, torch.Tensor],
                                                                  torch.Tensor]:
    """Cls-token and mean-pooled patch-token features of every batch.

    Args:
        encoder (nn.Module): a ``VisionTransformer`` with ``out_type='raw'`` (and a cls token).
        batches: ``(images, labels)`` pairs, images already normalized, ``(B, C, H, W)``.
        amp (torch.dtype, optional): run the encoder under CPU autocast with this dtype.

    Returns:
        tuple: ``({'cls': (N, C), 'mean': (N, C)}, labels (N,))``, features in fp32.
    """
    feats = {kind: [] for kind in FEATURE_KINDS}
    labels = []
    context = torch.autocast('cpu', dtype=amp) if amp is not None else nullcontext()
    for images, targets in batches:
        with context:
            tokens = encoder(images)[0]  # (B, 1 + N, C) after the final norm
        tokens = tokens.float()
        feats['cls'].append(tokens[:, 0])
        feats['mean'].append(tokens[:, 1:].mean(dim=1))
        labels.append(targets.reshape(-1).long())
    return {k: torch.cat(v) for k, v in feats.items()}, torch.cat(labels)


def pixel_features(batches: Iterable[Tuple[torch.Tensor, torch.Tensor]]
                   ) -> Tuple[Dict[str, torch.Tensor], torch.Tensor]:
    """The normalized images themselves as features: the no-network reference for kNN.

    Args:
        batches: ``(images, labels)`` pairs, images already normalized, ``(B, C, H, W)``.

    Returns:
        tuple: ``({'pixels': (N, C * H * W)}, labels (N,))``.
    """
    feats, labels = [], []
    for images, targets in batches:
        feats.append(images.flatten(1).float())
        labels.append(targets.reshape(-1).long())
    return {'pixels': torch.cat(feats)}, torch.cat(labels)


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
