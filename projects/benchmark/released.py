"""The released SdAE code (``AbrahamYabo/SdAE``) as a benchmark peer, read from the user's checkout.

Nothing of the released code is part of this package: :func:`load_released_code` imports its
``models_mae.py`` and ``models_teacher.py`` at run time from the directory the user points to,
with timm 0.3.2 (the version it was written for) importable from that directory, from an extra
directory, or from the environment. Two shims make that code import and build on current
torch and numpy; they exist only while it is imported and its models are built:

* ``torch._six`` (removed in torch 2.0): timm 0.3.2 imports ``container_abcs`` from it and the
  released ``util/misc.py`` imports ``inf``; the shim module provides both (``collections.abc``,
  ``math.inf``).
* ``np.float`` (removed in numpy 1.24): the released ``util/pos_embed.py`` builds its sin-cos
  table with ``dtype=np.float``; the shim is the builtin ``float`` (what ``np.float`` was).

The import is isolated: the modules it brings (``models_mae``, ``util``, ``timm`` 0.3.2, ...) are
removed from ``sys.modules`` afterwards, and anything they shadowed (a newer timm) is restored,
so the rest of the process keeps its own versions.

The step is the released one (``main_pretrain.py`` with the README's ``--drop_path 0.25
--shrink_num 147 --ncrop_loss 3``; ``engine_pretrain.train_one_epoch_ema``): the student
``mae_vit_<arch>_patch16`` draws the mask, the teacher ``vit_<arch>_patch16`` (drop path 0)
encodes the first ``shrink_num`` masked patches as ``ncrop_loss`` folds without gradients, the
teacher features are standardized per patch and the loss is one minus the cosine along the
token axis (:func:`released_loss`).
"""
import collections.abc
import contextlib
import importlib
import io
import math
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .flops import ViTShape

RELEASED_TIMM = '0.3.2'
# The README's pretraining command: --mask_ratio 0.75 --shrink_num 147 --ncrop_loss 3 (ViT-B/16 at
# 224: every one of the 147 masked patches goes to the teacher, as 3 folds of 49).
MASK_RATIO, NCROP_LOSS = 0.75, 3
RELEASED_ARCHS = ('small', 'base', 'large')  # mae_vit_<arch>_patch16 / vit_<arch>_patch16


@contextlib.contextmanager
def released_shims() -> Iterator[None]:
    """``torch._six`` and ``np.float`` while the block runs (only where they are missing)."""
    added_six = 'torch._six' not in sys.modules
    if added_six:
        six = types.ModuleType('torch._six')
        six.container_abcs, six.inf = collections.abc, math.inf
        six.string_classes, six.int_classes = (str, bytes), int
        sys.modules['torch._six'] = six
    added_float = 'float' not in np.__dict__
    if added_float:
        np.float = float
    try:
        yield
    finally:
        if added_six:
            del sys.modules['torch._six']
        if added_float:
            del np.float


@contextlib.contextmanager
def _isolated_imports(paths: Sequence[str], shadowed: Sequence[str]) -> Iterator[None]:
    """Import from ``paths`` first; afterwards drop what was imported and restore the rest.

    Args:
        paths: directories put at the front of ``sys.path`` for the block.
        shadowed: top-level package names (``timm``) whose already imported modules are hidden
            during the block so that the versions under ``paths`` are imported instead.
    """
    saved_path, saved_modules = list(sys.path), dict(sys.modules)
    for name in list(sys.modules):
        if name.split('.')[0] in shadowed:
            del sys.modules[name]
    sys.path[:0] = [str(p) for p in paths]
    importlib.invalidate_caches()
    try:
        yield
    finally:
        sys.path[:] = saved_path
        for name in [n for n in sys.modules if sys.modules[n] is not saved_modules.get(n)]:
            del sys.modules[name]
        sys.modules.update(saved_modules)


@dataclass
class ReleasedCode:
    """The released model files, imported from a checkout.

    Attributes:
        path (Path): the checkout.
        models_mae (module): its ``models_mae`` (the student ``MaskedAutoencoderViT``).
        models_teacher (module): its ``models_teacher`` (the timm ``VisionTransformer`` teacher).
        timm_version (str): the timm it imported.
    """
    path: Path
    models_mae: types.ModuleType
    models_teacher: types.ModuleType
    timm_version: str

    def build(self, arch: str = 'base', img_size: int = 224,
              drop_path: float = 0.25) -> Tuple[nn.Module, nn.Module]:
        """``(student, teacher)`` as its ``main_pretrain.py`` builds them (teacher drop path 0).

        The teacher gets ``requires_grad_(False)`` (the released code only runs it under
        ``torch.no_grad()`` and never optimizes it; this keeps it out of ``.grad`` bookkeeping).
        The student's constructor prints its drop-path rates; that print is swallowed.
        """
        if arch not in RELEASED_ARCHS:
            raise ValueError(f'The released code has no ViT-{arch}/16; choose one of '
                             f'{RELEASED_ARCHS}.')
        with released_shims(), contextlib.redirect_stdout(io.StringIO()):
            student = getattr(self.models_mae, f'mae_vit_{arch}_patch16')(
                img_size=img_size, drop_path=drop_path)
            teacher = getattr(self.models_teacher, f'vit_{arch}_patch16')(
                img_size=img_size, drop_path_rate=0.0, mask_ratio=MASK_RATIO,
                shrink_num=shrink_num(student))
        return student, teacher.requires_grad_(False)


def load_released_code(path: str, timm_dir: Optional[str] = None) -> ReleasedCode:
    """Import the released ``models_mae`` and ``models_teacher`` from a checkout.

    Args:
        path (str): a checkout of ``AbrahamYabo/SdAE`` (``models_mae.py``, ``models_teacher.py``
            and ``util/`` at its top level).
        timm_dir (str, optional): a directory holding timm 0.3.2 (e.g. made with
            ``pip install --no-deps --target DIR timm==0.3.2``). Without it, timm is looked up
            in ``path`` and then in the environment.

    Raises:
        FileNotFoundError: if ``path`` is not such a checkout.
        ImportError: if the timm it finds is not 0.3.2 (the message says how to provide it).
    """
    root = Path(path).expanduser().resolve()
    missing = [f for f in ('models_mae.py', 'models_teacher.py', 'util/pos_embed.py')
               if not (root / f).is_file()]
    if missing:
        raise FileNotFoundError(f'{root} is not a checkout of the released SdAE code '
                                f'(AbrahamYabo/SdAE): {missing} not found.')
    paths = [root] + ([Path(timm_dir).expanduser().resolve()] if timm_dir else [])
    with _isolated_imports(paths, shadowed=('timm', 'util', 'models_mae', 'models_teacher')), \
            released_shims():
        try:
            timm = importlib.import_module('timm')
        except ImportError as err:
            raise ImportError(_timm_hint(f'timm is not importable ({err})')) from err
        version = getattr(timm, '__version__', '?')
        if version != RELEASED_TIMM:
            raise ImportError(_timm_hint(f'found timm {version} at {timm.__file__}'))
        models_mae = importlib.import_module('models_mae')
        models_teacher = importlib.import_module('models_teacher')
    return ReleasedCode(root, models_mae, models_teacher, version)


def _timm_hint(found: str) -> str:
    return (f'The released SdAE code needs timm {RELEASED_TIMM}; {found}. Install it into a '
            f'directory of its own (not into this environment, whose timm the rest of the '
            f'project uses): pip install --no-deps --target DIR timm=={RELEASED_TIMM}, and pass '
            'that directory as --released-timm DIR.')


def shrink_num(student: nn.Module) -> int:
    """The masked patches of the released student, all fed to the teacher (147 for ViT-B/16)."""
    num_patches = student.patch_embed.num_patches
    masked = num_patches - int(num_patches * (1 - MASK_RATIO))  # its random_masking's count
    if masked % NCROP_LOSS:
        raise ValueError(f'{masked} masked patches do not split into {NCROP_LOSS} folds; choose '
                         'an image size whose masked patch count is divisible by 3.')
    return masked


def released_loss(student: nn.Module, teacher: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The loss of one step of the released ``engine_pretrain.train_one_epoch_ema``.

    The student draws the mask (``torch.rand(B, N)``, the same stream and order as
    :class:`~sdae_plugin.models.utils.MultiFoldMaskGenerator`) and predicts features for every
    patch; the teacher encodes the first ``shrink_num`` masked patches as ``ncrop_loss`` folds;
    its features are standardized per patch; the predictions at the same patches are taken in
    the same fold layout; the loss is ``1 - cos`` along the token axis, averaged.

    Args:
        student (nn.Module): the released ``MaskedAutoencoderViT``.
        teacher (nn.Module): the released ``VisionTransformer`` teacher.
        images (Tensor): ``(B, 3, H, W)``.

    Returns:
        Tensor: the scalar loss.
    """
    masked, folds = shrink_num(student), NCROP_LOSS
    pred, _, ids_unkeep = student(images, mask_ratio=MASK_RATIO)  # (B, N, C), _, (B, N_mask)
    with torch.no_grad():
        target = teacher(images, ids_unkeep=ids_unkeep, shrink_num=masked,
                         ncrop_loss=folds)  # (B * folds, masked / folds, C)
    target = (target - target.mean(dim=-1, keepdim=True)) / (
        target.var(dim=-1, keepdim=True) + 1e-6)**.5
    ids = ids_unkeep[:, :masked]
    pred = pred.gather(1, ids[..., None].expand(-1, -1, pred.shape[-1]))
    pred = pred.reshape(pred.shape[0] * folds, masked // folds, pred.shape[-1])
    return 1 - F.cosine_similarity(target, pred, dim=1).mean()


def released_shape(student: nn.Module) -> Tuple[ViTShape, int, int, int]:
    """``(ViTShape, num_visible, views, view_len)`` of the released step (for the FLOP model)."""
    blocks, embed = student.blocks, student.patch_embed
    width = student.cls_token.shape[-1]
    patch = embed.proj
    shape = ViTShape(
        width=width, depth=len(blocks), mlp=blocks[0].mlp.fc1.out_features,
        num_patches=embed.num_patches,
        patch_dim=patch.in_channels * patch.kernel_size[0] * patch.kernel_size[1],
        decoder_width=student.decoder_embed.out_features,
        decoder_depth=len(student.decoder_blocks),
        decoder_out=student.decoder_pred.out_features)
    num_visible = int(embed.num_patches * (1 - MASK_RATIO))
    return shape, num_visible, NCROP_LOSS, shrink_num(student) // NCROP_LOSS
