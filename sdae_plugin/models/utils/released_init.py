"""The released code's random initialization of the teacher (timm 0.3.2's ``VisionTransformer``).

The released SdAE builds its teacher as timm's ``vit_base_patch16`` and never copies the student
into it. timm 0.3.2 initializes that model differently from MAE (which our ``SdAEViT`` follows):

=====================  ==========================================  ==============================
tensor                 timm 0.3.2 (released teacher)               MAE / ``SdAEViT.init_weights``
=====================  ==========================================  ==============================
Linear weights         truncated normal, std 0.02 (cut at +-2)     Xavier uniform
Linear biases          0                                           0
LayerNorm              weight 1, bias 0                            weight 1, bias 0
patch embedding conv   PyTorch's default ``Conv2d`` init           Xavier uniform (flattened)
cls token              truncated normal, std 0.02                  normal, std 0.02
position embedding     truncated normal, std 0.02 (then EMA'd      fixed 2-D sin-cos table
                       towards the student's sin-cos table)
=====================  ==========================================  ==============================
"""
import torch
from torch import nn

TRUNC_STD = 0.02


@torch.no_grad()
def init_like_released_teacher(vit: nn.Module) -> None:
    """Re-initialize an ``SdAEViT`` in place the way the released code's teacher starts.

    Args:
        vit (nn.Module): an :class:`~sdae_plugin.models.SdAEViT` (MMPretrain ViT layout:
            ``patch_embed.projection``, ``cls_token``, ``pos_embed`` of shape ``(1, 1 + N, C)``).
    """
    for module in vit.modules():
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=TRUNC_STD, a=-2., b=2.)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    vit.patch_embed.projection.reset_parameters()
    nn.init.trunc_normal_(vit.cls_token, std=TRUNC_STD, a=-2., b=2.)
    nn.init.trunc_normal_(vit.pos_embed, std=TRUNC_STD, a=-2., b=2.)
