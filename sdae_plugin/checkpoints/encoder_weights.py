"""One ViT encoder as every tool handles it: its weights, its head count, where it came from."""
from dataclasses import dataclass, field
from typing import Dict, Optional

import torch

from .errors import BackboneKeyError, HeadCountError
from .num_heads import unknown_heads_error

StateDict = Dict[str, torch.Tensor]


@dataclass(frozen=True)
class ViTArch:
    """What the weights of an MMPretrain ``VisionTransformer`` encoder determine.

    Everything except the number of attention heads: no tensor's shape depends on it.
    """
    embed_dims: int
    num_layers: int
    feedforward_channels: int
    patch_size: int
    img_size: int
    in_channels: int
    with_cls_token: bool
    final_norm: bool
    qkv_bias: bool

    @classmethod
    def from_state(cls, state: StateDict) -> 'ViTArch':
        """Read the shape off an encoder state dict (MMPretrain names, no prefix).

        Raises:
            BackboneKeyError: if the state has no patch embedding or no transformer layer.
            ValueError: if ``pos_embed`` is not a square grid of positions.
        """
        needed = ('patch_embed.projection.weight', 'pos_embed', 'layers.0.ffn.layers.0.0.weight')
        missing = [key for key in needed if key not in state]
        if missing:
            raise BackboneKeyError(missing=missing, context='(not a ViT encoder)')
        proj = state['patch_embed.projection.weight']  # (C, in_channels, p, p)
        with_cls_token = 'cls_token' in state
        num_tokens = state['pos_embed'].shape[1] - int(with_cls_token)  # pos_embed (1, [1 +] N, C)
        grid = int(round(num_tokens**0.5))
        if grid * grid != num_tokens:
            raise ValueError(f'pos_embed has {num_tokens} patch positions: not a square grid')
        return cls(
            embed_dims=proj.shape[0],
            num_layers=1 + max(int(k.split('.')[1]) for k in state if k.startswith('layers.')),
            feedforward_channels=state['layers.0.ffn.layers.0.0.weight'].shape[0],
            patch_size=proj.shape[2], img_size=grid * proj.shape[2], in_channels=proj.shape[1],
            with_cls_token=with_cls_token, final_norm='ln1.weight' in state,
            qkv_bias='layers.0.attn.qkv.bias' in state)

    def vit_kwargs(self, num_heads: int) -> dict:
        """Arguments of MMPretrain's ``VisionTransformer`` (all but ``out_type``) for these weights.

        Raises:
            HeadCountError: if ``num_heads`` does not divide the width.
        """
        if num_heads < 1 or self.embed_dims % num_heads:
            raise HeadCountError(f'num_heads={num_heads} does not divide the width '
                                 f'{self.embed_dims}')
        return dict(
            arch=dict(embed_dims=self.embed_dims, num_layers=self.num_layers,
                      num_heads=num_heads, feedforward_channels=self.feedforward_channels),
            img_size=self.img_size, patch_size=self.patch_size, in_channels=self.in_channels,
            with_cls_token=self.with_cls_token, final_norm=self.final_norm,
            qkv_bias=self.qkv_bias)


@dataclass
class EncoderWeights:
    """A ViT encoder read from any accepted source.

    Attributes:
        state (dict): the weights, MMPretrain ``VisionTransformer`` names without prefix.
        num_heads (int, optional): attention heads; None only where nothing states it (see
            :mod:`~sdae_plugin.checkpoints.num_heads`). Whatever builds a model needs it.
        meta (dict): plain values describing the source: ``source`` (path or description),
            ``source_format`` (``'mmengine'``, ``'released'`` or ``'config'``), ``branch``
            (``'student'`` or ``'teacher'``), and ``epoch`` / ``iter`` where the file has them.
        num_heads_from (str): where ``num_heads`` came from (``'--num-heads'``, a config, ...).
    """
    state: StateDict
    num_heads: Optional[int] = None
    meta: dict = field(default_factory=dict)
    num_heads_from: str = ''

    @property
    def arch(self) -> ViTArch:
        """The shape the weights determine (everything but the head count)."""
        return ViTArch.from_state(self.state)

    def vit_kwargs(self) -> dict:
        """MMPretrain ``VisionTransformer`` arguments (all but ``out_type``).

        Raises:
            HeadCountError: if the head count is unknown (the message names ``--num-heads``).
        """
        if self.num_heads is None:
            raise unknown_heads_error(self.meta.get('source', 'the encoder'))
        return self.arch.vit_kwargs(self.num_heads)
