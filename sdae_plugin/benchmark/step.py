"""One training step as the benchmark times it, and the parts of an SdAE step timed alone."""
import statistics
from typing import Callable, Dict

import torch

from ..models.backbones.sdae_vit import gather_tokens
from .measure import amp_context, time_calls


def benchmark_adamw(model: torch.nn.Module, fused: bool) -> torch.optim.Optimizer:
    """The benchmark's AdamW over the trainable parameters (``fused=False``: torch's default
    implementation, foreach on CUDA and a loop on the CPU)."""
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.95), weight_decay=0.05,
                             fused=fused or None)


def make_step(loss_fn: Callable[[], torch.Tensor], optimizer: torch.optim.Optimizer, device: str,
              amp: str) -> Callable[[], None]:
    """One training step: the loss forward under autocast, backward, optimizer step.

    Args:
        loss_fn (callable): computes the step's scalar loss (e.g. ``model.loss(images,
            None)['loss']``, or the released code's loss).
        optimizer (Optimizer): over the trainable parameters.
        device (str): where the model runs.
        amp (str): ``'none'``, ``'bf16'`` or ``'fp16'`` (fp16 on CUDA with a loss scaler).
    """
    scaler = torch.amp.GradScaler(enabled=amp == 'fp16' and device.startswith('cuda'))

    def step() -> None:
        with amp_context(device, amp):
            loss = loss_fn()
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
    return step


def profile_parts(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                  images: torch.Tensor, device: str, amp: str, repeats: int) -> Dict[str, float]:
    """Median seconds of each part of one SdAE step, each run on its own on the same batch.

    Parts: the student encoder (forward + backward), encoder + decoder, the teacher's forward,
    the optimizer step, the teacher's EMA update (once per epoch in SdAE) and, as a difference,
    the decoder.
    """
    plan = model.mask_generator(images.shape[0], images.device)

    def encoder() -> None:
        with amp_context(device, amp):
            latent = model.backbone.forward_tokens(images, plan.ids_keep[:, None])
        latent.float().sum().backward()

    def encoder_decoder() -> None:
        with amp_context(device, amp):
            pred = model.neck(model.backbone.forward_tokens(images, plan.ids_keep[:, None]),
                              plan.ids_restore)
            pred = gather_tokens(pred, plan.target_ids)
        pred.float().sum().backward()

    def teacher() -> None:
        with torch.no_grad(), amp_context(device, amp):
            model.teacher.forward_tokens(images, plan.view_ids)

    def optimizer_step() -> None:
        for p in model.parameters():
            if p.requires_grad:
                p.grad = torch.zeros_like(p)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    parts = {}
    for name, fn in [('student encoder fwd+bwd', encoder),
                     ('encoder+decoder fwd+bwd', encoder_decoder), ('teacher fwd', teacher),
                     ('optimizer step', optimizer_step),
                     ('EMA update (once per epoch)', lambda: model.update_teacher(0.99))]:
        time_calls(fn, 1, device)
        parts[name] = statistics.median(time_calls(fn, repeats, device))
        optimizer.zero_grad(set_to_none=True)
    parts['decoder fwd+bwd (difference)'] = (parts['encoder+decoder fwd+bwd'] -
                                              parts['student encoder fwd+bwd'])
    return parts
