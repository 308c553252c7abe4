"""Check mode: our SdAE, loaded with the released model's weights, computes the released step.

The released student and teacher are built from the user's checkout (:mod:`.released`), their
weights are loaded into an SdAE of the same architecture through the converter of the released
code's names (:func:`sdae_plugin.checkpoints.released_to_sdae_state`), and both losses are
computed on the same images after the same seed, so that both draw the same masks from the same
``torch.rand(B, N)`` (and, with drop path, the same per-sample draws in the same order); both
backward passes run. The report: the two losses, their difference, whether the masks are the
same, and the largest relative gradient difference over the student's and the decoder's tensors,
``max_t ||g_ours(t) - g_released(t)|| / ||g_released(t)||``. In fp32 a loss difference above
1e-5 or a gradient difference above 1e-4 is a regression.
"""
import contextlib
import logging
from typing import Dict, Iterator, Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from torch import nn

from sdae_plugin.checkpoints import released_to_sdae_key, released_to_sdae_state

from .measure import machine
from .released import (NCROP_LOSS, ReleasedCode, load_released_code, released_loss,
                       shrink_num)
from .rows import model_config

LOSS_TOLERANCE, GRAD_TOLERANCE = 1e-5, 1e-4


def mirror_config(student: nn.Module, drop_path: float) -> Config:
    """Our SdAE model config with the architecture of the released student."""
    block, dec_block = student.blocks[0], student.decoder_blocks[0]
    width = student.cls_token.shape[-1]
    cfg = Config.fromfile(model_config('sdae')).model
    cfg.backbone.update(
        arch=dict(embed_dims=width, num_layers=len(student.blocks),
                  num_heads=block.attn.num_heads, feedforward_channels=block.mlp.fc1.out_features),
        img_size=student.patch_embed.img_size[0], patch_size=student.patch_embed.patch_size[0],
        drop_path_rate=drop_path)
    cfg.neck.update(num_patches=student.patch_embed.num_patches, embed_dim=width,
                    decoder_embed_dim=student.decoder_embed.out_features,
                    decoder_depth=len(student.decoder_blocks),
                    decoder_num_heads=dec_block.attn.num_heads,
                    mlp_ratio=dec_block.mlp.fc1.out_features //
                    student.decoder_embed.out_features)
    cfg.mask_generator.update(num_folds=NCROP_LOSS)
    return cfg


@contextlib.contextmanager
def _exact_fp32() -> Iterator[None]:
    """No TF32 in CUDA matrix products and convolutions while the block runs."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def check_against_released(code: ReleasedCode, arch: str = 'base', img_size: int = 224,
                           batch: int = 2, device: str = 'cpu', seed: int = 0,
                           drop_path: float = 0.0) -> Dict[str, object]:
    """Run one fp32 step of the released code and of our SdAE with its weights; compare.

    Args:
        code (ReleasedCode): the loaded released code.
        arch (str): its ``mae_vit_<arch>_patch16``.
        img_size (int): input side.
        batch (int): images.
        device (str): where both run.
        seed (int): the seed set before each loss (same masks).
        drop_path (float): the student's drop-path rate in both (0 by default: the comparison
            of the computation; with a rate, both draw their per-sample keeps in the same order
            from the same stream).

    Returns:
        dict: ``loss_ours``, ``loss_released``, ``loss_diff``, ``masks_equal``,
        ``max_rel_grad_diff``, ``worst_tensor`` (our name), ``tensors_compared`` and ``ok``
        (both differences within :data:`LOSS_TOLERANCE` / :data:`GRAD_TOLERANCE` and the
        masks equal).
    """
    init_default_scope('mmpretrain')
    student, teacher = code.build(arch, img_size, drop_path=drop_path)
    ours = MODELS.build(mirror_config(student, drop_path))
    state = released_to_sdae_state(student.state_dict(), teacher.state_dict())
    missing, unexpected = ours.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise RuntimeError(f'The name converter does not cover the released model: our tensors '
                           f'without a released one {missing}, released ones without ours '
                           f'{unexpected}.')
    for module in (student, teacher, ours):
        module.to(device).train()
    torch.manual_seed(seed)
    images = torch.randn(batch, 3, img_size, img_size, device=device)
    with _exact_fp32():
        masks_equal = _same_masks(ours, student, images, seed)
        torch.manual_seed(seed)
        loss_ours = ours.loss(images)['loss']
        loss_ours.backward()
        torch.manual_seed(seed)
        loss_released = released_loss(student, teacher, images)
        loss_released.backward()
    ours_params = dict(ours.named_parameters())
    worst, worst_key, compared = 0.0, None, 0
    for key, param in student.named_parameters():
        if param.grad is None:
            continue
        name = released_to_sdae_key(key)
        mine = ours_params[name].grad
        diff = ((mine - param.grad).norm() / param.grad.norm().clamp_min(1e-30)).item()
        compared += 1
        if diff >= worst:
            worst, worst_key = diff, name
    loss_diff = abs(loss_ours.item() - loss_released.item())
    return dict(loss_ours=loss_ours.item(), loss_released=loss_released.item(),
                loss_diff=loss_diff, masks_equal=masks_equal, max_rel_grad_diff=worst,
                worst_tensor=worst_key, tensors_compared=compared, drop_path=drop_path,
                ok=masks_equal and loss_diff <= LOSS_TOLERANCE and worst <= GRAD_TOLERANCE)


def _same_masks(ours: nn.Module, student: nn.Module, images: torch.Tensor, seed: int) -> bool:
    """Whether both draw the same visible set, restore order and teacher folds after ``seed``."""
    torch.manual_seed(seed)
    plan = ours.mask_generator(images.shape[0], images.device)
    torch.manual_seed(seed)
    tokens = torch.zeros(images.shape[0], student.patch_embed.num_patches, 1,
                         device=images.device)
    _, _, ids_restore, ids_unkeep = student.random_masking(tokens, 0.75)
    masked = shrink_num(student)
    return (torch.equal(plan.ids_restore, ids_restore) and
            torch.equal(plan.view_ids.flatten(1), ids_unkeep[:, :masked]))


def check_released(released_code: str, released_timm: Optional[str] = None,
                   arch: str = 'base', img_size: int = 224, batch: int = 2,
                   device: str = 'cpu', drop_path: float = 0.0) -> Tuple[dict, str]:
    """Load the released code from a checkout, run :func:`check_against_released`.

    Returns:
        tuple: the result (with ``machine``, ``torch`` and the arguments added) and the lines
        a user reads.
    """
    MMLogger.get_current_instance().setLevel(logging.WARNING)  # no per-parameter init log
    code = load_released_code(released_code, released_timm)
    result = check_against_released(code, arch, img_size, batch, device, drop_path=drop_path)
    result.update(machine=machine(device), torch=torch.__version__, arch=arch,
                  img_size=img_size, batch=batch, device=device)
    return result, format_check(result)


def format_check(result: Dict[str, object]) -> str:
    """The check's result as the lines a user reads."""
    verdict = 'OK' if result['ok'] else 'REGRESSION'
    device = result.get('device')
    return (f"check against the released code{f' on {device}' if device else ''} (fp32, "
            f"drop path {result['drop_path']}): {verdict}\n"
            f"  loss ours {result['loss_ours']:.8f}, released {result['loss_released']:.8f}, "
            f"difference {result['loss_diff']:.2e} (limit {LOSS_TOLERANCE:g})\n"
            f"  same masks: {result['masks_equal']}\n"
            f"  largest relative gradient difference {result['max_rel_grad_diff']:.2e} "
            f"(limit {GRAD_TOLERANCE:g}) at {result['worst_tensor']}, "
            f"{result['tensors_compared']} tensors compared")
