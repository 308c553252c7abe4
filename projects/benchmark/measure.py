"""Clocks and meters for the benchmark: synchronized step timing, peak memory, GEMM ceiling."""
import contextlib
import ctypes
import gc
import os
import platform
import statistics
import threading
import time
from typing import Callable, ContextManager, List, Optional

import torch

from sdae_plugin.runtime.precision import autocast, autocast_dtype

AMP_CHOICES = ('none', 'bf16', 'fp16')  # the benchmark's --amp: no autocast, or its dtype


def is_cuda(device: str) -> bool:
    return torch.device(device).type == 'cuda'


def amp_context(device: str, amp: str) -> ContextManager:
    """Autocast in ``amp``'s dtype on ``device`` (nothing for ``'none'``)."""
    return autocast(torch.device(device).type, autocast_dtype(amp, what='amp'))


def sync(device: str) -> None:
    if is_cuda(device):
        torch.cuda.synchronize()


def time_calls(fn: Callable[[], object], n: int, device: str) -> List[float]:
    """Wall seconds of ``n`` calls of ``fn``, each between two device synchronizations."""
    times = []
    for _ in range(n):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return times


def host_sync_in(fn: Callable[[], object], device: str) -> Optional[str]:
    """Run ``fn`` once with CUDA's sync debug mode set to ``'error'``.

    Returns:
        str | None: the first line of the error if ``fn`` made the host wait for the device
        (``.item()``, a data-dependent shape, a copy to the CPU, ...), else None. On the CPU
        there is nothing to wait for: None.
    """
    if not is_cuda(device):
        return None
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode('error')
    try:
        fn()
        return None
    except RuntimeError as err:
        return str(err).splitlines()[0]
    finally:
        torch.cuda.set_sync_debug_mode('default')
        torch.cuda.synchronize()


class PeakRSS:
    """Peak resident set size of this process, sampled every millisecond (CPU memory)."""

    def __init__(self) -> None:
        self.peak, self._stop = 0, threading.Event()

    @staticmethod
    def now() -> int:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')

    def __enter__(self) -> 'PeakRSS':
        self.peak = self.now()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.001):
            self.peak = max(self.peak, self.now())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.now())


def release_memory(device: str) -> None:
    """Collect garbage and hand freed memory back (CUDA cache, glibc's heap)."""
    gc.collect()
    if is_cuda(device):
        torch.cuda.empty_cache()
    elif platform.system() == 'Linux':
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL('libc.so.6').malloc_trim(0)


def gemm_flops_per_s(device: str, amp: str) -> float:
    """FLOP/s of a plain square matrix product in the step's compute dtype (median of 7)."""
    size = 8192 if is_cuda(device) else 2048
    dtype = autocast_dtype(amp, what='amp') or torch.float32  # 'none': the step runs in fp32
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    times = time_calls(lambda: torch.mm(a, b), 3, device)[1:] + time_calls(
        lambda: torch.mm(a, b), 5, device)
    return 2 * size**3 / statistics.median(times)


def machine(device: str) -> str:
    """The GPU's name, or the CPU model and torch's thread count."""
    if is_cuda(device):
        return torch.cuda.get_device_name()
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in open('/proc/cpuinfo'):
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    return f'{cpu}, {torch.get_num_threads()} threads'
