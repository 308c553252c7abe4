"""SdAE's student decoder: MAE's decoder predicting teacher features instead of pixels."""
import math
from typing import List, Optional, Union

from mmpretrain.models.necks import MAEPretrainDecoder
from mmpretrain.registry import MODELS


@MODELS.register_module()
class SdAENeck(MAEPretrainDecoder):
    """MAE-style decoder whose last Linear maps to the encoder width (the teacher's features).

    Visible tokens (``decoder_embed``-projected) and learned mask tokens are put back in grid
    order, fixed 2-D sin-cos positions are added, then ``decoder_depth`` transformer blocks,
    LayerNorm and ``decoder_pred`` (Linear ``decoder_embed_dim -> embed_dim``). The output covers
    every patch position, ``(B, N, embed_dim)``; the loss reads the masked ones. The defaults are
    the released code's (8 blocks x 512, 16 heads); the paper's Fig. 6 shows that 2 blocks lose
    only 0.07 % top-1.

    Args:
        num_patches (int): N. Defaults to 196.
        embed_dim (int): encoder width, also the predicted feature width. Defaults to 768.
        decoder_embed_dim (int): decoder width. Defaults to 512.
        decoder_depth (int): number of decoder blocks. Defaults to 8.
        decoder_num_heads (int): attention heads of the decoder. Defaults to 16.
        mlp_ratio (int): MLP hidden width / decoder width. Defaults to 4.
        norm_cfg (dict): normalization layer. Defaults to LayerNorm with eps 1e-6.
        init_cfg (dict | list[dict], optional): initialization config.
    """

    def __init__(self,
                 num_patches: int = 196,
                 embed_dim: int = 768,
                 decoder_embed_dim: int = 512,
                 decoder_depth: int = 8,
                 decoder_num_heads: int = 16,
                 mlp_ratio: int = 4,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        side = math.isqrt(num_patches)
        if side * side != num_patches:
            raise ValueError(f'num_patches={num_patches} is not a square: the decoder\'s 2-D '
                             'sin-cos positions need a square patch grid.')
        if decoder_embed_dim % decoder_num_heads:
            raise ValueError(f'decoder_embed_dim={decoder_embed_dim} is not divisible by '
                             f'decoder_num_heads={decoder_num_heads}.')
        super().__init__(
            num_patches=num_patches,
            embed_dim=embed_dim,
            decoder_embed_dim=decoder_embed_dim,
            decoder_depth=decoder_depth,
            decoder_num_heads=decoder_num_heads,
            mlp_ratio=mlp_ratio,
            norm_cfg=norm_cfg,
            predict_feature_dim=embed_dim,
            init_cfg=init_cfg)
        self.embed_dim = embed_dim
