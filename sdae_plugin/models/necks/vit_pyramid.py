"""Multi-scale adapter from a plain ViT's stride-p maps to a feature pyramid (BEiT/CAE style)."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from torch import nn


@MODELS.register_module()
class ViTPyramidAdapter(BaseModule):
    """Rescale ViT feature maps to a pyramid: the BEiT/CAE detection and segmentation adapter.

    A ViT gives every chosen block's output at one stride (16 for ViT-B/16). Each scale ``s`` of
    ``scales`` rescales one map:

    * ``4``: ConvTranspose 2x2/2, norm, GELU, ConvTranspose 2x2/2 (stride 16 -> 4);
    * ``2``: ConvTranspose 2x2/2 (-> 8);
    * ``1``: identity (16);
    * ``0.5``: max-pool 2x2/2 (-> 32).

    This is the operator set of MMSegmentation's ``Feature2Pyramid``; it is here, in MMPretrain's
    registry, so that an MMDetection config can put it in front of ``FPN`` without MMSegmentation
    (``neck=[dict(type='mmpretrain.ViTPyramidAdapter', ...), dict(type='FPN', ...)]``), and it
    takes either the ViT's tuple of maps (one per scale, as ``VisionTransformer(out_indices=(3, 5,
    7, 11), out_type='featmap')`` returns) or a single map that every scale reuses (ViTDet's
    ``SimpleFPN`` input).

    Args:
        in_channels (int): channels of the ViT maps (its ``embed_dims``).
        scales (Sequence[float]): one rescale factor per output, from ``{4, 2, 1, 0.5}``.
            Defaults to ``(4, 2, 1, 0.5)``.
        norm_cfg (dict): the norm inside the x4 branch. Defaults to SyncBN (MMEngine turns it
            into BN when not distributed), as BEiT/CAE.
        act_cfg (dict): the activation inside the x4 branch. Defaults to GELU.
        init_cfg (dict, optional): MMEngine initialization config.
    """

    def __init__(self,
                 in_channels: int,
                 scales: Sequence[float] = (4, 2, 1, 0.5),
                 norm_cfg: dict = dict(type='SyncBN', requires_grad=True),
                 act_cfg: dict = dict(type='GELU'),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg)
        self.in_channels = in_channels
        self.scales = tuple(scales)
        self.branches = nn.ModuleList(
            self._branch(scale, in_channels, norm_cfg, act_cfg) for scale in self.scales)

    @staticmethod
    def _branch(scale: float, channels: int, norm_cfg: dict, act_cfg: dict) -> nn.Module:
        def up() -> nn.Module:
            return nn.ConvTranspose2d(channels, channels, kernel_size=2, stride=2)

        if scale == 4:
            return nn.Sequential(up(), build_norm_layer(norm_cfg, channels)[1],
                                 build_activation_layer(act_cfg), up())
        if scale == 2:
            return up()
        if scale == 1:
            return nn.Identity()
        if scale == 0.5:
            return nn.MaxPool2d(kernel_size=2, stride=2)
        raise ValueError(f'ViTPyramidAdapter: unsupported scale {scale!r}; '
                         'choose from 4, 2, 1, 0.5')

    def forward(self, inputs: Union[torch.Tensor, Sequence[torch.Tensor]]
                ) -> Tuple[torch.Tensor, ...]:
        if isinstance(inputs, torch.Tensor):
            inputs = [inputs] * len(self.branches)
        if len(inputs) != len(self.branches):
            raise ValueError(f'ViTPyramidAdapter got {len(inputs)} feature maps for '
                             f'{len(self.branches)} scales {self.scales}: set the backbone\'s '
                             'out_indices to one block per scale, or pass one map')
        return tuple(branch(x) for branch, x in zip(self.branches, inputs))
