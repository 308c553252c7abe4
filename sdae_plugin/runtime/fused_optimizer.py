"""Build-time check of ``optimizer.fused=True`` (torch's single-kernel Adam/AdamW/SGD step).

The pretraining and fine-tuning configs ask for ``fused=True``: one kernel per parameter group
updates weights, moments and step counters in one pass over memory instead of one pass per
element-wise operation, and under ``AmpOptimWrapper`` it takes the loss scaler's inf check on
the device (no host synchronization in the step). torch runs it on CUDA, CPU (torch >= 2.4), MPS,
XPU and a few other backends, for floating-point parameters. On any other device, or with an older
torch on the CPU, the optimizer cannot be built; this check says so before MMEngine builds it,
with the key to change.
"""
from typing import List, Optional

from torch import nn


def fused_devices() -> Optional[List[str]]:
    """Device types torch's fused optimizers run on (``None`` if this torch does not say)."""
    try:
        from torch.utils._foreach_utils import _get_fused_kernels_supported_devices
    except ImportError:
        return None
    return list(_get_fused_kernels_supported_devices())


def check_fused_support(optimizer_cfg: dict, model: nn.Module) -> None:
    """Raise if ``optimizer_cfg`` asks for ``fused=True`` and the trainable parameters of
    ``model`` are on a device (or of a dtype) the fused kernels do not cover.

    Args:
        optimizer_cfg (dict): the ``optim_wrapper.optimizer`` config.
        model (nn.Module): the model, already on its device (MMEngine builds the optimizer
            after moving the model).

    Raises:
        ValueError: naming the devices/dtypes found and the config key to change.
    """
    devices = fused_devices()
    if not optimizer_cfg.get('fused') or devices is None:
        return
    bad = sorted({f'{p.device.type} {p.dtype}' for p in model.parameters()
                  if p.requires_grad and (p.device.type not in devices
                                          or not p.is_floating_point())})
    if bad:
        raise ValueError(
            f"optim_wrapper.optimizer.fused=True, but torch's fused {optimizer_cfg.get('type')} "
            f'does not run on parameters of {bad} (it runs on floating-point parameters on '
            f'{devices}). Use the default implementation instead: --cfg-options '
            'optim_wrapper.optimizer.fused=None')
