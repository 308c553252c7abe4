"""Features of a ViT encoder on whole labelled images: the one extractor and the one loader.

The encoder is a live one (SdAE's student ``model.backbone`` or its EMA teacher
``model.teacher``, MAE's ``MAEViT``, for ``KNNMonitorHook``) or one built from a checkpoint
(:func:`~sdae_plugin.checkpoints.build_vit`, for ``tools/knn_eval.py``): every image is encoded
whole, without masking, and described by its cls token and by the mean of its patch tokens, both
after the encoder's final LayerNorm. The normalized pixels are the no-network reference.

Under DDP each rank encodes its shard of the data, dealt out by MMEngine's ``DefaultSampler``
with ``shuffle=False`` (rank ``r`` gets samples ``r, r + W, r + 2W, ...``, the list padded by
repetition to a multiple of ``W``); :func:`gather_shards` puts the shards back in dataset order
and drops the padding, so every rank holds the same features as a single process would.
"""
from typing import Dict, List, Optional, Tuple

import torch
from mmengine import dist
from torch import nn

from ..runtime.precision import autocast

# [(images (B, C, H, W) normalized, labels (B,) long)], read once by load_labelled and reused.
Batches = List[Tuple[torch.Tensor, torch.Tensor]]
Features = Dict[str, torch.Tensor]  # kind ('cls', 'mean' or 'pixels') -> (N, D) fp32
PRECISIONS = ('fp32', 'bf16')  # of the encoder's forward (CPU autocast)


def encoder_input_shape(encoder: nn.Module) -> Tuple[int, int, int]:
    """``(C, H, W)`` of the images the encoder was built for (its position-embedding grid)."""
    patch_embed = encoder.patch_embed
    height, width = patch_embed.init_input_size
    return patch_embed.projection.in_channels, int(height), int(width)


def check_encoder(encoder: nn.Module, name: str = 'encoder') -> None:
    """Raise ``ValueError`` unless :func:`whole_image_tokens` can encode with ``encoder``.

    Supported: anything with ``forward_tokens(x, ids)`` (:class:`SdAEViT`), or an MMPretrain
    ``VisionTransformer`` (``MAEViT`` included) with a cls token and ``out_type='raw'``.
    """
    if not hasattr(encoder, 'patch_embed'):
        raise ValueError(f'{name} ({type(encoder).__name__}) is not a ViT with a patch_embed.')
    if hasattr(encoder, 'forward_tokens'):
        return
    if getattr(encoder, 'cls_token', None) is None or getattr(encoder, 'out_type', None) != 'raw':
        raise ValueError(
            f'{name} ({type(encoder).__name__}) gives no cls and patch tokens: use an SdAEViT, '
            f'or a VisionTransformer with a cls token and out_type="raw" (it has out_type='
            f'{getattr(encoder, "out_type", None)!r}).')


def whole_image_tokens(encoder: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """All tokens of whole images after the final norm.

    Args:
        encoder (nn.Module): see :func:`check_encoder`.
        images (Tensor): ``(B, C, H, W)``, normalized, of the encoder's input size.

    Returns:
        Tensor: ``(B, 1 + N, C)``; token 0 is the cls token, then the N patches in grid order.
    """
    if hasattr(encoder, 'forward_tokens'):
        grid = encoder.patch_resolution
        num_patches = grid[0] * grid[1]
        ids = torch.arange(num_patches, device=images.device).expand(len(images), 1, -1)
        return encoder.forward_tokens(images, ids)
    from mmpretrain.models.selfsup.mae import MAEViT
    # MAEViT masks unless mask is None (mask=False would still mask); then it is a plain ViT.
    outs = encoder(images, mask=None) if isinstance(encoder, MAEViT) else encoder(images)
    return outs[-1]


def load_labelled(loader, preprocessor: nn.Module, name: str = 'dataloader') -> Batches:
    """Read a dataloader once: normalized images and integer labels, batch by batch.

    Args:
        loader: yields MMPretrain batches (``dict(inputs=..., data_samples=[DataSample])``).
        preprocessor (nn.Module): the model's data preprocessor (normalization, channel order).
        name (str): how error messages call the dataloader.

    Returns:
        list: ``[(images (B, C, H, W) float, labels (B,) long)]``.

    Raises:
        ValueError: if a sample has no ``gt_label``.
    """
    batches = []
    for data in loader:
        data = preprocessor(data, False)
        samples = data['data_samples']
        if any(sample is None or 'gt_label' not in sample for sample in samples):
            raise ValueError(f'{name}: the samples have no gt_label. The kNN needs a labelled '
                             'dataset whose pipeline ends with PackInputs (e.g. FashionMNIST, '
                             'ImageNet with an ann_file).')
        labels = torch.stack([sample.gt_label.reshape(-1)[0] for sample in samples]).long()
        batches.append((data['inputs'], labels))
    return batches


@torch.no_grad()
def extract_features(encoder: nn.Module, batches: Batches,
                     dtype: Optional[torch.dtype] = None) -> Tuple[Features, torch.Tensor]:
    """Cls-token and mean-pooled patch-token features of whole images.

    Args:
        encoder (nn.Module): see :func:`check_encoder`; put it in eval mode first.
        batches (Batches): from :func:`load_labelled`.
        dtype (torch.dtype, optional): run the encoder under CPU autocast with this dtype.

    Returns:
        tuple: ``({'cls': (N, C), 'mean': (N, C)}, labels (N,))``, features in fp32.
    """
    cls, mean = [], []
    for images, _ in batches:
        with autocast('cpu', dtype):
            tokens = whole_image_tokens(encoder, images)
        tokens = tokens.float()
        cls.append(tokens[:, 0])
        mean.append(tokens[:, 1:].mean(dim=1))
    return {'cls': torch.cat(cls), 'mean': torch.cat(mean)}, batch_labels(batches)


def pixel_features(batches: Batches) -> Tuple[Features, torch.Tensor]:
    """The normalized images themselves as features: the no-network reference for kNN.

    Args:
        batches (Batches): from :func:`load_labelled`.

    Returns:
        tuple: ``({'pixels': (N, C * H * W)}, labels (N,))``.
    """
    pixels = torch.cat([images.flatten(1).float() for images, _ in batches])
    return {'pixels': pixels}, batch_labels(batches)


def batch_labels(batches: Batches) -> torch.Tensor:
    """``(N,)`` the labels of all batches (empty when there are none)."""
    if not batches:
        return torch.zeros(0, dtype=torch.long)
    return torch.cat([labels.reshape(-1).long() for _, labels in batches])


def gather_shards(shard: torch.Tensor, total: int) -> torch.Tensor:
    """The per-rank shards of ``DefaultSampler(shuffle=False)``, back in dataset order.

    Args:
        shard (Tensor): ``(n_r, ...)`` this rank's rows (n_r may differ by one between ranks
            when the sampler does not pad).
        total (int): the dataset length; padding repeats beyond it are dropped.

    Returns:
        Tensor: ``(total, ...)``, the same on every rank.
    """
    if dist.get_world_size() == 1:
        return shard[:total]
    counts = torch.cat(dist.all_gather(torch.tensor([len(shard)])))  # (W,)
    most = int(counts.max())
    padded = shard.new_zeros((most, *shard.shape[1:]))
    padded[:len(shard)] = shard
    rows = torch.stack(dist.all_gather(padded), dim=1)  # (most, W, ...): row i of every rank
    valid = torch.arange(most)[:, None] < counts[None, :]  # (most, W)
    return rows[valid][:total]
