"""One training step as the benchmark times it, and the parts of an SdAE step timed alone."""
import statistics
from typing import Callable, Dict

import torch

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

    Every part is a call of the model's own methods on the same masks: the teacher's targets
    (:meth:`~sdae_plugin.models.SdAE.teacher_targets`, no gradients), the student's encoder and
    decoder forward + backward (:meth:`~sdae_plugin.models.SdAE.student_predictions`), the whole
    loss forward + backward (:meth:`~sdae_plugin.models.SdAE.masked_loss`), the optimizer step
    and the teacher's EMA update (:meth:`~sdae_plugin.models.SdAE.update_teacher`, once per
    epoch in SdAE). The whole loss is the teacher, the student and the loss head together.
    """
    plan = model.mask_generator(images.shape[0], images.device)

    def teacher() -> None:
        with amp_context(device, amp):
            model.teacher_targets(images, plan)

    def student() -> None:
        with amp_context(device, amp):
            pred = model.student_predictions(images, plan)
        pred.float().sum().backward()

    def whole_loss() -> None:
        with amp_context(device, amp):
            loss = model.masked_loss(images, plan)['loss']
        loss.backward()

    def optimizer_step() -> None:
        for p in model.parameters():
            if p.requires_grad:
                p.grad = torch.zeros_like(p)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    parts = {}
    for name, fn in [('teacher targets (no grad)', teacher),
                     ('student (encoder+decoder) fwd+bwd', student),
                     ('whole loss fwd+bwd', whole_loss), ('optimizer step', optimizer_step),
                     ('EMA update (once per epoch)', lambda: model.update_teacher(0.99))]:
        time_calls(fn, 1, device)
        parts[name] = statistics.median(time_calls(fn, repeats, device))
        optimizer.zero_grad(set_to_none=True)
    return parts
