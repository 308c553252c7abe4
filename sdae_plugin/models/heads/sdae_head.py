"""SdAE's objective: per-patch normalized teacher features, matched by cosine similarity."""
from typing import Dict

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

LOSS_AXES = ('tokens', 'features')


def normalize_target(target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Eq. (3): standardize every patch's feature vector over its channels.

    ``(f - mean(f)) / sqrt(var(f) + eps)`` with the unbiased variance, as the released code and
    MAE's ``norm_pix`` do, and no affine term.

    Args:
        target (Tensor): ``(..., C)`` teacher features.
        eps (float): added to the variance. Defaults to 1e-6.

    Returns:
        Tensor: same shape, mean 0 and (unbiased) variance ~1 along the last axis.
    """
    mean = target.mean(dim=-1, keepdim=True)
    var = target.var(dim=-1, keepdim=True)
    return (target - mean) / (var + eps).sqrt()


@MODELS.register_module()
class SdAEHead(BaseModule):
    """Loss between the decoder's predictions and the teacher's targets, view by view.

    Args:
        loss (dict): the cosine loss, reused from MMPretrain. Defaults to
            ``CosineSimilarityLoss(shift_factor=1, scale_factor=1)``, i.e. ``1 - cos``.
        loss_axis (str): which axis the cosine runs along.

            - ``'tokens'`` (default; Eq. (4) and the released code): for each view and each
              channel, the cosine between the L-vector of predictions and the L-vector of
              targets (the sum over masked tokens i sits inside the cosine), averaged over views
              and channels.
            - ``'features'``: the per-token cosine over channels, averaged over tokens.
        normalize_target (bool): apply Eq. (3) to the teacher features (Table 5's ablation turns
            it off). Defaults to True.
        init_cfg (dict, optional): initialization config.
    """

    def __init__(self,
                 loss: dict = dict(type='CosineSimilarityLoss', shift_factor=1.0, scale_factor=1.0),
                 loss_axis: str = 'tokens',
                 normalize_target: bool = True,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if loss_axis not in LOSS_AXES:
            raise ValueError(f'Unknown loss_axis {loss_axis!r}; choose one of {LOSS_AXES}.')
        self.loss_module = MODELS.build(loss)
        self.loss_axis = loss_axis
        self.normalize_target = normalize_target

    def construct_target(self, teacher_features: torch.Tensor) -> torch.Tensor:
        """``(B*V, L, C)`` teacher features -> targets (normalized per patch if enabled)."""
        return normalize_target(teacher_features) if self.normalize_target else teacher_features

    def loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Cosine loss along ``loss_axis``.

        Args:
            pred (Tensor): ``(B*V, L, C)`` student predictions at the target positions.
            target (Tensor): ``(B*V, L, C)`` targets from :meth:`construct_target`.

        Returns:
            Tensor: the scalar loss.
        """
        if self.loss_axis == 'tokens':
            pred, target = pred.transpose(1, 2), target.transpose(1, 2)  # cosine over the L axis
        return self.loss_module(pred.float(), target.float())

    @torch.no_grad()
    def diagnostics(self, pred: torch.Tensor, target: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Values to log, none of them summed into the loss.

        Returns:
            dict: ``target_std``, the std of the targets over all tokens, averaged over channels
            (it falls towards 0 if the teacher collapses to a constant), and ``cosine``, the mean
            per-token student-teacher cosine over channels.
        """
        flat = target.float().flatten(0, 1)  # (B*V*L, C)
        return dict(
            target_std=flat.std(dim=0).mean(),
            cosine=F.cosine_similarity(pred.float(), target.float(), dim=-1).mean())
