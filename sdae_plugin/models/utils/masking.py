"""Multi-fold masking: which patches the student sees and how the teacher sees the rest."""
import math
from typing import NamedTuple, Tuple

import torch
from mmpretrain.registry import MODELS

MODES = ('multi_fold', 'only_masked', 'full_image', 'teacher_crop')


class MaskPlan(NamedTuple):
    """The one record that the student, the decoder, the teacher and the loss all read.

    Every index is a patch position in the original ``(H/P) x (W/P)`` grid, flattened row-major.

    Attributes:
        ids_keep (Tensor): ``(B, N_vis)`` the student's visible patches.
        ids_restore (Tensor): ``(B, N)`` permutation that puts ``[visible, masked]`` tokens back in
            grid order (what MAE's decoder needs).
        view_ids (Tensor): ``(B, V, L)`` the teacher's views: view ``v`` of sample ``b`` is the
            sequence of patches ``view_ids[b, v]``, fed to the teacher as its own sequence.
        num_targets (int): the first ``num_targets`` tokens of every view are loss targets
            (``L`` except in ``'full_image'`` mode, where the masked patches come first).
    """
    ids_keep: torch.Tensor
    ids_restore: torch.Tensor
    view_ids: torch.Tensor
    num_targets: int

    @property
    def target_ids(self) -> torch.Tensor:
        """``(B, V, num_targets)`` the patch positions that receive a teacher target."""
        return self.view_ids[..., :self.num_targets]


REMAINDER_HINT = ('Change the values so that they divide, or set drop_remainder=True to drop the '
                  'remainder as the released code does.')


def _check_arguments(num_patches: int, mask_ratio: float, mode: str, num_folds: int,
                     crop_ratio: float) -> None:
    """Raise on values outside their ranges (before any count is derived from them)."""
    if mode not in MODES:
        raise ValueError(f'Unknown mask mode {mode!r}; choose one of {MODES}.')
    if not isinstance(num_patches, int) or num_patches < 2:
        raise ValueError(f'num_patches must be an integer >= 2, got {num_patches!r}.')
    if not 0 < mask_ratio < 1:
        raise ValueError(f'mask_ratio must be in (0, 1), got {mask_ratio}.')
    if not isinstance(num_folds, int) or num_folds < 1:
        raise ValueError(f'num_folds must be an integer >= 1, got {num_folds!r}.')
    if not 0 < crop_ratio <= 1:
        raise ValueError(f'crop_ratio must be in (0, 1], got {crop_ratio}.')


def _exact_count(value: float, what: str, hint: str) -> int:
    """Return ``value`` as an int, or raise if it is not (numerically) an integer."""
    nearest = round(value)
    if abs(value - nearest) > 1e-6:
        raise ValueError(f'{what} = {value:g} is not an integer. {hint}')
    return int(nearest)


@MODELS.register_module()
class MultiFoldMaskGenerator:
    """Draws the student's visible set and the teacher's views (SdAE, Sec. 2.2 and Table 1).

    Per sample and per call, a uniformly random permutation of the ``N`` patches is drawn on the
    model's device (one ``argsort`` of uniform noise for the whole batch, as in MAE). Its first
    ``N_vis = N * (1 - mask_ratio)`` entries are visible to the student; the remaining
    ``N_mask = N * mask_ratio`` masked patches, in their random order, feed the teacher:

    - ``'multi_fold'`` (SdAE): ``num_folds`` disjoint random folds of ``N_mask / num_folds`` patches
      that together cover every masked patch (3 x 49 for ViT-B/16 at 224).
    - ``'only_masked'``: one view holding all masked patches.
    - ``'full_image'``: one view holding all ``N`` patches; only the masked ones are loss targets.
    - ``'teacher_crop'``: one view holding a random ``crop_ratio`` fraction of the masked patches.

    The random numbers come from torch's global generator, so runs are reproducible under
    mmengine's ``randomness=dict(seed=...)``.

    Args:
        num_patches (int): N, the number of patches of the input image. The ``SdAE`` algorithm
            fills it in from its backbone.
        mask_ratio (float): fraction of patches hidden from the student, in (0, 1).
            Defaults to 0.75.
        mode (str): one of ``'multi_fold'``, ``'only_masked'``, ``'full_image'``,
            ``'teacher_crop'``. Defaults to ``'multi_fold'``.
        num_folds (int): t, the number of folds in ``'multi_fold'`` mode. Defaults to 3.
        crop_ratio (float): fraction of the masked patches the teacher sees in ``'teacher_crop'``
            mode, in (0, 1]. Defaults to 1/3.
        drop_remainder (bool): counts that do not divide (``N * mask_ratio`` not an integer,
            ``N_mask`` not divisible by ``num_folds``, a fractional crop size) are an error unless
            this is True. Then, as in the released code, ``N_vis = int(N * (1 - mask_ratio))`` and
            the masked patches left over by the folds (or the crop) get no teacher target.
            Defaults to False.

    Raises:
        ValueError: on any invalid or non-dividing setting; the message names the values.
    """

    def __init__(self,
                 num_patches: int,
                 mask_ratio: float = 0.75,
                 mode: str = 'multi_fold',
                 num_folds: int = 3,
                 crop_ratio: float = 1 / 3,
                 drop_remainder: bool = False) -> None:
        _check_arguments(num_patches, mask_ratio, mode, num_folds, crop_ratio)
        self.num_patches = num_patches
        self.mask_ratio = mask_ratio
        self.mode = mode
        self.num_folds = num_folds
        self.crop_ratio = crop_ratio
        self.drop_remainder = drop_remainder
        self.num_visible = self._count_visible()
        self.num_masked = num_patches - self.num_visible
        self.num_views, self.view_len = self._view_shape()
        self.num_targets = self.num_masked if mode == 'full_image' else self.view_len

    def _count_visible(self) -> int:
        """``N_vis``: ``N - N * r`` exactly, or ``int(N * (1 - r))`` with ``drop_remainder``."""
        if self.drop_remainder:
            num_visible = int(self.num_patches * (1 - self.mask_ratio))
        else:
            num_visible = self.num_patches - _exact_count(
                self.num_patches * self.mask_ratio,
                f'num_patches * mask_ratio ({self.num_patches} * {self.mask_ratio})',
                REMAINDER_HINT)
        if not 1 <= num_visible < self.num_patches:
            raise ValueError(f'mask_ratio={self.mask_ratio} with num_patches={self.num_patches} '
                             f'leaves {num_visible} visible and {self.num_patches - num_visible} '
                             'masked patches; both must be >= 1.')
        return num_visible

    def _view_shape(self) -> Tuple[int, int]:
        """``(V, L)``: the number of teacher views and the patches in each."""
        if self.mode == 'multi_fold':
            if self.num_masked % self.num_folds and not self.drop_remainder:
                raise ValueError(
                    f'{self.num_masked} masked patches (num_patches={self.num_patches}, '
                    f'mask_ratio={self.mask_ratio}) do not split into num_folds={self.num_folds} '
                    f'equal folds. {REMAINDER_HINT}')
            view_len = self.num_masked // self.num_folds
            if view_len < 1:
                raise ValueError(f'num_folds={self.num_folds} is larger than the '
                                 f'{self.num_masked} masked patches: every fold needs at least '
                                 'one patch.')
            return self.num_folds, view_len
        if self.mode == 'teacher_crop':
            return 1, self._crop_size()
        if self.mode == 'only_masked':
            return 1, self.num_masked
        return 1, self.num_patches  # full_image

    def _crop_size(self) -> int:
        """The patches of the teacher's one view in ``'teacher_crop'`` mode."""
        crop = self.num_masked * self.crop_ratio
        if self.drop_remainder:
            crop = math.floor(crop + 1e-6)
        else:
            crop = _exact_count(crop, f'num_masked * crop_ratio ({self.num_masked} * '
                                f'{self.crop_ratio:g})', REMAINDER_HINT)
        if crop < 1:
            raise ValueError(f'crop_ratio={self.crop_ratio:g} of {self.num_masked} masked patches '
                             'gives an empty teacher crop; raise crop_ratio.')
        return crop

    def __call__(self, batch_size: int, device: torch.device) -> MaskPlan:
        """Draw one plan for a batch.

        Args:
            batch_size (int): B.
            device (torch.device): where the indices live (the model's device).

        Returns:
            MaskPlan: the indices for the student, the decoder, the teacher and the loss.
        """
        noise = torch.rand(batch_size, self.num_patches, device=device)
        ids_shuffle = noise.argsort(dim=1)  # (B, N): a random permutation per sample
        ids_restore = ids_shuffle.argsort(dim=1)
        ids_keep = ids_shuffle[:, :self.num_visible]
        ids_masked = ids_shuffle[:, self.num_visible:]  # random order: slices are random subsets

        if self.mode == 'full_image':
            # Masked patches first, so the targets are a prefix of the view. Attention is
            # permutation-equivariant and every token carries its own position, so the order
            # does not change the teacher's output.
            view_ids = torch.cat([ids_masked, ids_keep], dim=1)[:, None]
        else:
            used = self.num_views * self.view_len
            view_ids = ids_masked[:, :used].reshape(batch_size, self.num_views, self.view_len)
        return MaskPlan(ids_keep, ids_restore, view_ids, self.num_targets)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_patches={self.num_patches}, '
                f'mask_ratio={self.mask_ratio}, mode={self.mode!r}, num_folds={self.num_folds}, '
                f'crop_ratio={self.crop_ratio:g}, drop_remainder={self.drop_remainder}, '
                f'views={self.num_views}x{self.view_len})')
