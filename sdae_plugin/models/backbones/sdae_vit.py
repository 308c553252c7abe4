"""The ViT used as SdAE's student encoder and as its teacher: one class, two roles."""
from typing import Optional, Tuple

import torch
from mmcv.cnn.bricks.drop import DropPath
from mmpretrain.models.selfsup.mae import MAEViT
from mmpretrain.registry import MODELS
from mmengine.utils import to_2tuple


def gather_tokens(x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Pick tokens by index for every sample.

    Args:
        x (Tensor): ``(B, N, C)`` tokens.
        ids (Tensor): ``(B, ...)`` integer positions into the N axis.

    Returns:
        Tensor: ``(B, ..., C)``.
    """
    batch, channels = x.shape[0], x.shape[-1]
    flat = ids.reshape(batch, -1)
    out = x.gather(1, flat.unsqueeze(-1).expand(-1, -1, channels))
    return out.reshape(*ids.shape, channels)


@MODELS.register_module()
class SdAEViT(MAEViT):
    """MAE's ViT (fixed 2-D sin-cos positions, cls token) that encodes chosen patch subsets.

    The student encodes the visible patches of each image; the teacher encodes each of its views
    (folds) as a separate sequence. Both are :meth:`forward_tokens`: every patch keeps the
    position embedding of its original grid position and each sequence gets its own cls token.
    Called with ``mask=None`` (as ``MAE.extract_feat`` does) it is a plain
    :class:`~mmpretrain.models.VisionTransformer` on the whole image. Both paths apply the
    ViT's dropout after the position embedding (``drop_rate``), as
    ``VisionTransformer.forward`` does (MMPretrain's ``MAEViT`` skips it on its masked path).
    ``MAEViT`` takes no ``pre_norm`` argument, so there is no pre-norm to apply. The drop-path
    rates are plain Python floats (MMPretrain leaves NumPy scalars from ``np.linspace``, on
    which ``torch.compile`` cannot branch; the values, and so the arithmetic, are the same).

    Args:
        img_size (int | tuple): input size; must be a multiple of ``patch_size``.
        patch_size (int): patch size. Defaults to 16.
        **kwargs: the other :class:`~mmpretrain.models.selfsup.MAEViT` arguments (``arch``,
            ``drop_path_rate``, ``patch_cfg=dict(in_channels=1)`` for grey images, ...). MAEViT's
            own ``mask_ratio`` is not used: the masks come from ``MultiFoldMaskGenerator``.

    Raises:
        ValueError: if the image size is not a multiple of the patch size, or the patch grid is
            not square (the 2-D sin-cos table assumes a square grid).
    """

    def __init__(self, img_size=224, patch_size: int = 16, **kwargs) -> None:
        height, width = to_2tuple(img_size)
        if height % patch_size or width % patch_size:
            raise ValueError(f'img_size={img_size} is not a multiple of patch_size={patch_size}: '
                             'the border pixels would be dropped. Change img_size (and the crop '
                             'size of the data pipeline) or patch_size.')
        if height != width:
            raise ValueError(f'img_size={img_size}: SdAEViT needs a square patch grid for its '
                             '2-D sin-cos position embeddings.')
        kwargs.pop('mask_ratio', None)
        super().__init__(img_size=img_size, patch_size=patch_size, **kwargs)
        for module in self.modules():
            if isinstance(module, DropPath):
                module.drop_prob = float(module.drop_prob)

    def forward(self, x: torch.Tensor, mask: Optional[bool] = None) -> Tuple[torch.Tensor]:
        """Whole-image features, as :class:`~mmpretrain.models.VisionTransformer`.

        SdAE draws its masks outside the backbone; use :meth:`forward_tokens` for subsets.
        """
        if mask:
            raise ValueError('SdAEViT does not draw masks itself; call forward_tokens(x, ids) '
                             'with indices from MultiFoldMaskGenerator.')
        return super().forward(x, mask=None)

    def forward_tokens(self, x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """Encode, for every image, each row of ``ids`` as its own sequence.

        Args:
            x (Tensor): ``(B, C_in, H, W)`` images.
            ids (Tensor): ``(B, V, L)`` patch positions: V sequences of L patches per image.

        Returns:
            Tensor: ``(B * V, 1 + L, C)`` features after the final norm; token 0 of each sequence
            is its cls token. Row ``b * V + v`` holds image ``b``, sequence ``v``.
        """
        batch, views, length = ids.shape
        patches = self.patch_embed(x)[0] + self.pos_embed[:, 1:]  # (B, N, C), original positions
        tokens = gather_tokens(patches, ids).reshape(batch * views, length, -1)
        cls_token = (self.cls_token + self.pos_embed[:, :1]).expand(batch * views, -1, -1)
        tokens = self.drop_after_pos(torch.cat([cls_token, tokens], dim=1))
        for layer in self.layers:
            tokens = layer(tokens)
        return self.norm1(tokens) if self.final_norm else tokens
