"""Analytic FLOPs of one training step of MAE and SdAE (matrix products only).

Counts 2 FLOPs per multiply-add of every GEMM and attention product; element-wise work (norms,
GELU, softmax, the optimizer) is not counted. Backward costs twice the forward of a trained layer;
the teacher runs forward only; the patch embedding has no input gradient (its input is the image).
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class ViTShape:
    """The sizes that the FLOPs depend on."""
    width: int  # encoder embed dims, d
    depth: int  # encoder layers
    mlp: int  # encoder MLP hidden width
    num_patches: int  # N
    patch_dim: int  # P * P * C_in
    decoder_width: int
    decoder_depth: int
    decoder_out: int  # P*P*C_in for MAE (pixels), d for SdAE (features)


def block_forward(tokens: int, width: int, hidden: int, attention: bool = True) -> int:
    """One pre-norm transformer block on ``tokens`` tokens: qkv, proj, MLP (and attention)."""
    linear = 2 * tokens * (4 * width * width + 2 * width * hidden)
    return linear + (4 * tokens * tokens * width if attention else 0)  # q @ k^T, attn @ v


def mae_style_student(shape: ViTShape, num_visible: int, attention: bool = True) -> tuple:
    """Forward FLOPs per image of the student: ``(patch embedding, encoder + decoder)``."""
    n_enc = 1 + num_visible
    n_dec = 1 + shape.num_patches
    patch_embed = 2 * shape.num_patches * shape.patch_dim * shape.width
    encoder = shape.depth * block_forward(n_enc, shape.width, shape.mlp, attention)
    decoder = (2 * n_enc * shape.width * shape.decoder_width +
               shape.decoder_depth * block_forward(n_dec, shape.decoder_width,
                                                   4 * shape.decoder_width, attention) +
               2 * n_dec * shape.decoder_width * shape.decoder_out)
    return patch_embed, encoder + decoder


def train_step_flops(shape: ViTShape, batch: int, num_visible: int, views: int = 0,
                     view_len: int = 0, attention: bool = True) -> int:
    """FLOPs of one step (forward + backward of the student, forward of the teacher).

    Args:
        shape (ViTShape): the architecture.
        batch (int): images per step.
        num_visible (int): patches the student encodes.
        views (int): teacher sequences per image (0 for MAE).
        view_len (int): patches per teacher sequence.
        attention (bool): count the attention products (``q @ k^T``, ``attn @ v``); torch's
            FlopCounterMode does not see them inside CPU fused attention kernels.

    Returns:
        int: FLOPs per step.
    """
    patch_embed, trained = mae_style_student(shape, num_visible, attention)
    student = 2 * patch_embed + 3 * trained  # patch embed: forward + weight gradient only
    teacher = 0
    if views:
        teacher = (2 * shape.num_patches * shape.patch_dim * shape.width +
                   views * shape.depth * block_forward(1 + view_len, shape.width, shape.mlp,
                                                       attention))
    return batch * (student + teacher)
