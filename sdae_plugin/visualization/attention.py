"""Attention weights of a ViT's last layer (the paper's Fig. 7: cls-token attention per head).

MMPretrain's ``MultiheadAttention`` calls fused ``scaled_dot_product_attention`` and never forms
the attention matrix. The weights are recomputed here from the last layer's own ``qkv`` projection
applied to that layer's attention input (the output of its ``ln1``, captured by a forward hook
during one ordinary forward pass): ``softmax(q kᵀ / √d)`` per head, which is what SDPA computes.
"""
from typing import Tuple

import torch
from torch import nn


def attention_weights(attn: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The attention matrix of an MMPretrain ``MultiheadAttention`` on its input ``x``.

    Args:
        attn (nn.Module): ``mmpretrain.models.utils.MultiheadAttention`` (``qkv``,
            ``num_heads``, ``head_dims``; default scale ``head_dims ** -0.5``).
        x (Tensor): ``(B, T, C)`` the tokens the module attends over (its forward input).

    Returns:
        Tensor: ``(B, heads, T, T)``; row ``i`` of head ``h`` is the softmax distribution of
        query token ``i`` over all key tokens (rows sum to 1).
    """
    batch, tokens, _ = x.shape
    heads, head_dims = attn.num_heads, attn.head_dims
    qkv = attn.qkv(x).reshape(batch, tokens, 3, heads, head_dims).permute(2, 0, 3, 1, 4)
    query, key = qkv[0], qkv[1]  # (B, heads, T, d)
    logits = query @ key.transpose(-2, -1) * head_dims**-0.5
    return logits.softmax(dim=-1)


def last_layer_attention(backbone: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Attention weights of the last transformer layer of a ViT on whole images.

    Args:
        backbone (nn.Module): an MMPretrain ``VisionTransformer`` (``SdAEViT``, ``MAEViT``, ...)
            whose ``layers[-1]`` has ``ln1`` and ``attn``. It is run in eval mode (no drop path)
            and left in the mode it had.
        images (Tensor): ``(B, C_in, H, W)`` normalized images of the backbone's input size.

    Returns:
        Tensor: ``(B, heads, 1 + N, 1 + N)``, token 0 is the cls token, tokens ``1..N`` the
        patches in row-major grid order.
    """
    layer = backbone.layers[-1]
    captured = []
    handle = layer.ln1.register_forward_hook(lambda module, args, out: captured.append(out))
    was_training = backbone.training
    backbone.eval()
    try:
        with torch.no_grad():
            backbone(images)
            if len(captured) != 1:
                raise RuntimeError(f'the last layer ran {len(captured)} times in one forward pass')
            return attention_weights(layer.attn, captured[0])
    finally:
        handle.remove()
        backbone.train(was_training)


def cls_attention_maps(weights: torch.Tensor, grid: Tuple[int, int]) -> torch.Tensor:
    """The cls token's attention to the patches, as maps.

    Args:
        weights (Tensor): ``(B, heads, 1 + N, 1 + N)`` from :func:`last_layer_attention`.
        grid (tuple): ``(rows, cols)`` of the patch grid, ``rows * cols == N``.

    Returns:
        Tensor: ``(B, heads, rows, cols)``: row 0 of the attention matrix without its cls column
        (each map sums to 1 minus the cls token's attention to itself).
    """
    batch, heads, tokens, _ = weights.shape
    if tokens - 1 != grid[0] * grid[1]:
        raise ValueError(f'{tokens - 1} patch tokens do not form a {grid[0]}x{grid[1]} grid')
    return weights[:, :, 0, 1:].reshape(batch, heads, *grid)
