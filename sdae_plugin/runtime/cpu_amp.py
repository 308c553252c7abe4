"""bf16 autocast on CPU inside MMEngine's training loop.

MMEngine's :class:`~mmengine.optim.AmpOptimWrapper` asserts CUDA (or NPU/MLU/MUSA) and keeps a
loss scaler that bf16 does not need. On a CPU with AMX (``amx_bf16`` in ``lscpu``) the GEMMs of
a ViT run several times faster in bf16, so this wrapper only adds
``torch.autocast('cpu', dtype=torch.bfloat16)`` around the forward and loss (MMEngine enters
``optim_wrapper.optim_context(model)`` there, see ``BaseModel.train_step``). Parameters, gradients
and optimizer states stay fp32; the backward pass runs outside the context, as autocast
prescribes.

Registered in MMPretrain's ``OPTIM_WRAPPERS`` by ``import sdae_plugin``; a config selects it with::

    custom_imports = dict(imports=['sdae_plugin'], allow_failed_imports=False)
    optim_wrapper = dict(type='CPUAutocastOptimWrapper', dtype='bfloat16', optimizer=...)
"""
from contextlib import contextmanager
from typing import Union

import torch
from mmengine.optim import OptimWrapper
from mmpretrain.registry import OPTIM_WRAPPERS
from torch import nn

from .precision import autocast_dtype


@OPTIM_WRAPPERS.register_module()
class CPUAutocastOptimWrapper(OptimWrapper):
    """:class:`~mmengine.optim.OptimWrapper` whose forward runs under CPU autocast.

    Args:
        dtype (str | torch.dtype): the autocast dtype, ``'bfloat16'`` (default) or
            ``'float16'``. No loss scaling is done: use bf16 (fp32's exponent range).
        enabled (bool): False gives plain fp32 (the same wrapper with autocast off), so a
            config can switch precision with one ``--cfg-options`` key. Defaults to True.
        **kwargs: the :class:`~mmengine.optim.OptimWrapper` arguments (``optimizer``,
            ``clip_grad``, ``accumulative_counts``).
    """

    def __init__(self, dtype: Union[str, torch.dtype] = 'bfloat16', enabled: bool = True,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.cast_dtype = autocast_dtype(dtype, allowed=('bf16', 'fp16'),
                                         what='CPUAutocastOptimWrapper dtype')
        self.enabled = bool(enabled)

    @contextmanager
    def optim_context(self, model: nn.Module):
        """The base context (gradient-accumulation ``no_sync``) plus CPU autocast."""
        with super().optim_context(model), torch.autocast('cpu', dtype=self.cast_dtype,
                                                          enabled=self.enabled):
            yield
