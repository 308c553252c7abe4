"""Precision names: the one table from the names configs and tools use to autocast dtypes.

``'fp32'`` (also ``'float32'``, ``'none'``) means no autocast; ``'bf16'`` / ``'bfloat16'`` and
``'fp16'`` / ``'float16'`` autocast in that dtype. Each user states which of them it accepts
(e.g. the kNN features take ``fp32`` and ``bf16``, a teacher's autocast ``bf16`` and ``fp16``).
"""
import contextlib
from typing import ContextManager, Optional, Sequence, Union

import torch

DTYPES = {
    'fp32': None, 'float32': None, 'none': None,
    'bf16': torch.bfloat16, 'bfloat16': torch.bfloat16,
    'fp16': torch.float16, 'float16': torch.float16,
}
SHORT_NAMES = {None: 'fp32', torch.float32: 'fp32', torch.bfloat16: 'bf16', torch.float16: 'fp16'}


def autocast_dtype(precision: Union[str, torch.dtype, None],
                   allowed: Sequence[str] = ('fp32', 'bf16', 'fp16'),
                   what: str = 'precision') -> Optional[torch.dtype]:
    """The autocast dtype of a precision, None for fp32 (no autocast).

    Args:
        precision (str | torch.dtype | None): a name of :data:`DTYPES`, a dtype, or None (fp32).
        allowed (Sequence[str]): the short names (``'fp32'``, ``'bf16'``, ``'fp16'``) the caller
            accepts.
        what (str): how the error message calls the setting.

    Raises:
        ValueError: for an unknown name or one the caller does not accept.
    """
    if isinstance(precision, torch.dtype) or precision is None:
        dtype = None if precision in (None, torch.float32) else precision
    elif precision in DTYPES:
        dtype = DTYPES[precision]
    else:
        dtype = 'unknown'
    if dtype == 'unknown' or SHORT_NAMES.get(dtype) not in allowed:
        names = sorted(name for name, value in DTYPES.items() if SHORT_NAMES[value] in allowed)
        raise ValueError(f'{what}={precision!r}: choose one of {names}.')
    return dtype


def autocast(device_type: str, dtype: Optional[torch.dtype]) -> ContextManager:
    """``torch.autocast(device_type, dtype)``, or nothing when ``dtype`` is None (fp32)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type, dtype=dtype)
