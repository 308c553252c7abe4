"""The GPU script's run (``tools/gpu_benchmark.sh``): check, benchmark, largest batch, one report.

In one process: the check of our step against the released one on the device (fp32,
:mod:`.check`); the benchmark rows at one batch (MAE, SdAE with torch's
default AdamW, SdAE with fused AdamW, SdAE fused + compiled, the released code); the largest
batch at which an SdAE step fits (doubling, then bisection, within 1/16); and the SdAE
rows and the released code again at 7/8 of that batch (the other rows' weights and optimizer
states stay resident while each row runs, so the batch that fits one row alone would not fit
there). Everything goes into one JSON report and one Markdown page.
"""
import math
from dataclasses import asdict, dataclass
from typing import Callable, Optional

import torch

from .check import check_released
from .measure import is_cuda, release_memory
from .rows import build
from .run import BenchmarkOptions, run_benchmark, summary
from .step import benchmark_adamw, make_step

SUITE_ROWS = ['mae', 'sdae_multi_fold', 'sdae_multi_fold_fused',
              'sdae_multi_fold_fused_compiled', 'released']
LARGEST_ROWS = ['sdae_multi_fold_fused', 'sdae_multi_fold_fused_compiled', 'released']
FIT_ROW = 'sdae_multi_fold_fused'


@dataclass
class SuiteOptions:
    """What the GPU script measures.

    Attributes:
        released_code (str): a checkout of the released code.
        released_timm (str, optional): a directory holding timm 0.3.2 for it.
        device (str): ``'cuda'`` (or ``'cpu'`` for a dry run with tiny sizes).
        arch (str): our arch name and the released ``mae_vit_<arch>_patch16``.
        img_size (int): input side.
        batch (int): the first benchmark's batch.
        amp (str): autocast dtype of the benchmarks (the check is fp32).
        steps (int): timed steps per row at ``batch``.
        warmup (int): untimed steps per row.
        check_batch (int): images of the check.
        max_batch (int, optional): upper end of the largest-batch search; required on the CPU,
            where running out of memory cannot be caught.
        largest_steps (int): timed steps per row at the largest batch (0: skip that part).
    """
    released_code: str
    released_timm: Optional[str] = None
    device: str = 'cuda'
    arch: str = 'base'
    img_size: int = 224
    batch: int = 96
    amp: str = 'bf16'
    steps: int = 20
    warmup: int = 3
    check_batch: int = 8
    max_batch: Optional[int] = None
    largest_steps: int = 8

    def __post_init__(self) -> None:
        if not is_cuda(self.device) and self.largest_steps and self.max_batch is None:
            raise ValueError('On the CPU running out of memory cannot be caught: give '
                             '--max-batch (the largest batch to try) or --largest-steps 0.')


def largest_batch(fits: Callable[[int], bool], start: int, cap: Optional[int] = None,
                  step: int = 8) -> int:
    """The largest batch for which ``fits`` holds, within 1/16 (and a multiple of ``step``).

    Doubles from ``start`` until ``fits`` fails or ``cap`` is reached, then bisects between
    the last batch that fitted and the first that did not until they are less than
    ``max(step, good / 16)`` apart.

    Raises:
        RuntimeError: if not even ``start`` fits.
    """
    if not fits(start):
        raise RuntimeError(f'Not even batch {start} fits.')
    good, bad = start, None
    while bad is None and (cap is None or good < cap):
        trial = good * 2 if cap is None else min(good * 2, cap)
        if fits(trial):
            good = trial
        else:
            bad = trial
    while bad is not None and bad - good > max(step, good // 16):
        middle = (good + bad) // 2 // step * step
        if middle <= good:
            break
        good, bad = (middle, bad) if fits(middle) else (good, middle)
    return good


def step_fits(opts: SuiteOptions, batch: int) -> bool:
    """Whether two steps of the fused SdAE row run at ``batch`` on ``opts.device`` (CUDA: no
    out-of-memory error; CPU: ``batch <= opts.max_batch``, nothing is run)."""
    if not is_cuda(opts.device):
        return batch <= opts.max_batch
    release_memory(opts.device)
    try:
        model = build(FIT_ROW, opts.arch, opts.img_size).to(opts.device).train()
        optimizer = benchmark_adamw(model, fused=True)
        images = torch.randn(batch, 3, opts.img_size, opts.img_size, device=opts.device)
        step = make_step(lambda: model.loss(images, None)['loss'], optimizer, opts.device,
                         opts.amp)
        step()
        step()
        torch.cuda.synchronize()
        return True
    except torch.cuda.OutOfMemoryError:
        return False
    finally:
        model = optimizer = images = step = None  # noqa: F841  (free before the next try)
        release_memory(opts.device)


def run_suite(opts: SuiteOptions, progress: Callable[[str], None] = lambda msg: None) -> dict:
    """Run the whole suite; returns the report (JSON-serializable).

    Returns:
        dict: ``options``, ``check`` (see :func:`~.check.check_released`), ``at_batch`` (a
        benchmark report), and unless ``largest_steps`` is 0: ``largest_batch``,
        ``timed_batch`` and ``at_largest`` (a benchmark report; ``released_left_out`` says if
        the released row did not fit there and ran without it).
    """
    common = dict(arch=opts.arch, img_size=opts.img_size, device=opts.device, amp=opts.amp,
                  warmup=opts.warmup, released_code=opts.released_code,
                  released_timm=opts.released_timm)
    check, text = check_released(opts.released_code, opts.released_timm, opts.arch,
                                 opts.img_size, opts.check_batch, opts.device)
    progress(text)
    report = dict(options=asdict(opts), check=check)
    report['at_batch'] = run_benchmark(
        BenchmarkOptions(batch=opts.batch, steps=opts.steps, rows=SUITE_ROWS, **common),
        progress)
    progress(summary(report['at_batch']))
    if not opts.largest_steps:
        return report
    largest = largest_batch(lambda b: step_fits(opts, b), opts.batch, opts.max_batch)
    timed = max(8, math.floor(largest * 7 / 8 / 8) * 8) if is_cuda(opts.device) else largest
    progress(f'largest batch of one SdAE step: {largest}; timed at {timed}')
    report.update(largest_batch=largest, timed_batch=timed, released_left_out=False)
    rows = list(LARGEST_ROWS)
    try:
        at_largest = run_benchmark(
            BenchmarkOptions(batch=timed, steps=opts.largest_steps, rows=rows, **common))
    except torch.cuda.OutOfMemoryError:
        release_memory(opts.device)
        report['released_left_out'] = True
        at_largest = run_benchmark(
            BenchmarkOptions(batch=timed, steps=opts.largest_steps,
                             rows=[r for r in rows if r != 'released'], **common))
    report['at_largest'] = at_largest
    progress(summary(at_largest))
    return report


def suite_markdown(report: dict) -> str:
    """The report as one Markdown page: the check, then each benchmark's summary."""
    check = report['check']
    lines = ['# SdAE step beside the released code', '',
             f"Check on {check['device']} ({check['machine']}), fp32, batch {check['batch']}: "
             f"{'OK' if check['ok'] else 'REGRESSION'}; loss difference "
             f"{check['loss_diff']:.2e}; largest relative gradient difference "
             f"{check['max_rel_grad_diff']:.2e} ({check['worst_tensor']}); same masks "
             f"{check['masks_equal']}.", '', f"## Batch {report['options']['batch']}", '',
             summary(report['at_batch'])]
    if 'at_largest' in report:
        lines += ['', f"## Batch {report['timed_batch']} (7/8 of the largest that fits one "
                  f"SdAE step, {report['largest_batch']})", '']
        if report['released_left_out']:
            lines += ['The released code did not fit at this batch; its row is left out.', '']
        lines.append(summary(report['at_largest']))
    return '\n'.join(lines)
