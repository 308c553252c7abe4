"""Optimizer construction that leaves SdAE's EMA teacher (and any frozen tensor) out."""
import logging
from typing import List, Optional

from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmpretrain.registry import OPTIM_WRAPPER_CONSTRUCTORS
from torch import nn

from ..runtime.quiet_console import quiet_console
from ..runtime.fused_optimizer import check_fused_support


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class SdAEOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """:class:`~mmengine.optim.DefaultOptimWrapperConstructor` without frozen parameters.

    Without ``paramwise_cfg`` MMEngine hands ``model.parameters()`` to the optimizer, frozen
    ones included; with it, it skips them but logs a warning for each (hundreds for a ViT-B
    teacher). SdAE's teacher and its fixed sin-cos position embeddings must never be optimized,
    so this constructor skips frozen submodules quietly and removes every parameter that does not
    require gradients (and every group left empty) from the optimizer it builds. An optimizer
    config with ``fused=True`` is checked against the parameters' devices first
    (:func:`~sdae_plugin.runtime.fused_optimizer.check_fused_support`).
    """

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '',
                   is_dcn_module: Optional[int] = None) -> None:
        if prefix and not any(p.requires_grad for p in module.parameters()):
            return  # a frozen subtree such as the EMA teacher: nothing to optimize
        super().add_params(params, module, prefix=prefix, is_dcn_module=is_dcn_module)

    def __call__(self, model: nn.Module) -> OptimWrapper:
        check_fused_support(self.optimizer_cfg, model)
        # MMEngine logs 3 lines per parameter and warns for each frozen one (the fixed sin-cos
        # position embeddings): kept in the log file, not shown on the terminal.
        with quiet_console('paramwise_options -- ', r'\S+ is skipped since its requires_grad',
                           level=logging.WARNING):
            optim_wrapper = super().__call__(model)
        groups = optim_wrapper.optimizer.param_groups
        for group in groups:
            group['params'] = [p for p in group['params'] if p.requires_grad]
        groups[:] = [group for group in groups if group['params']]
        if not groups:
            raise ValueError('No trainable parameters: every parameter has requires_grad=False.')
        return optim_wrapper
