"""The benchmark: every row built and warmed up, then timed round-robin; a report and a table.

In one process, on the same synthetic in-memory batch, every model is built and warmed up, then
the timed steps of forward + backward + AdamW step (the same optimizer for every model) go
round-robin over the models, so that the machine's drift hits them alike (all models stay in
memory: ViT-B needs about 2.5 GB per row on the CPU). The report holds, per row: the step times,
peak memory, analytic FLOPs per step and achieved FLOP/s; FLOP/s as a fraction of a plain GEMM
measured in the same run; and the cost of one teacher EMA update (once per epoch in SdAE, so not
part of the step).
"""
import logging
import statistics
from dataclasses import asdict, dataclass, field
from typing import Callable, List, Optional

import torch
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope

from .flops import train_step_flops
from .measure import (PeakRSS, gemm_flops_per_s, is_cuda, machine, release_memory,
                      time_calls)
from .rows import build, default_rows, shape_of
from .step import make_step, profile_parts


@dataclass
class BenchmarkOptions:
    """What to measure.

    Attributes:
        arch (str): ``'tiny'``, ``'small'``, ``'base'`` or ``'large'``.
        batch (int): images per step.
        img_size (int): input side (patch 16).
        device (str): ``'cpu'`` or ``'cuda'``.
        amp (str): ``'none'``, ``'bf16'`` or ``'fp16'``.
        compile (bool): ``torch.compile`` the loss forward.
        steps (int): timed steps per row.
        warmup (int): untimed steps per row (at least 1).
        fused_adamw (bool): ``torch.optim.AdamW(fused=True)`` for every row.
        rows (list[str], optional): defaults to :func:`~.rows.default_rows` of ``amp``.
        profile (bool): also time the parts of one ``sdae_multi_fold`` step.
    """
    arch: str = 'base'
    batch: int = 4
    img_size: int = 224
    device: str = 'cpu'
    amp: str = 'none'
    compile: bool = False
    steps: int = 5
    warmup: int = 2
    fused_adamw: bool = False
    rows: Optional[List[str]] = None
    profile: bool = False

    def __post_init__(self) -> None:
        if self.rows is None:
            self.rows = default_rows(self.amp)


@dataclass
class _Prepared:
    row: str
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    step: Callable[[], None]
    peak_mem_bytes: int
    times: List[float] = field(default_factory=list)


def _prepare(row: str, opts: BenchmarkOptions, images: torch.Tensor) -> _Prepared:
    """Build a row's model and optimizer, run its warm-up steps, measure the memory it adds."""
    release_memory(opts.device)
    cuda = is_cuda(opts.device)
    before = torch.cuda.memory_allocated() if cuda else PeakRSS.now()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    with PeakRSS() as rss:
        model = build(row, opts.arch, opts.img_size).to(opts.device)
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.95), weight_decay=0.05,
                                      fused=opts.fused_adamw or None)
        step = make_step(model, optimizer, images, opts.device, opts.amp, opts.compile)
        time_calls(step, max(opts.warmup, 1), opts.device)
    peak = (torch.cuda.max_memory_allocated() if cuda else rss.peak) - before
    return _Prepared(row, model, optimizer, step, peak)


def _result(prepared: _Prepared, opts: BenchmarkOptions, images: torch.Tensor) -> dict:
    """A row's numbers from its timed steps, plus its EMA update and (optionally) its parts."""
    model, times = prepared.model, prepared.times
    shape, visible, views, view_len = shape_of(model)
    flops = train_step_flops(shape, opts.batch, visible, views, view_len)
    median = statistics.median(times)
    result = dict(row=prepared.row, median_s=median, min_s=min(times), max_s=max(times),
                  times_s=times, peak_mem_bytes=prepared.peak_mem_bytes, flops=flops,
                  flops_per_s=flops / median)
    if hasattr(model, 'update_teacher'):
        result['ema_update_s'] = statistics.median(
            time_calls(lambda: model.update_teacher(0.99), 3, opts.device))
    if opts.profile and prepared.row == 'sdae_multi_fold':
        result['parts_s'] = profile_parts(model, prepared.optimizer, images, opts.device,
                                          opts.amp, max(opts.steps, 3))
    return result


def memory_note(device: str) -> str:
    """What the memory column measures on ``device``."""
    if is_cuda(device):
        return ('GPU: peak torch.cuda memory allocated while the row built its model and ran its '
                'warm-up steps, minus the allocation before (weights, grads, optimizer state, '
                'activations)')
    return ('CPU: peak RSS (sampled every 1 ms) while the row built its model and ran its '
            'warm-up steps, minus the RSS before (weights, grads, optimizer state, activations)')


def run_benchmark(opts: BenchmarkOptions,
                  progress: Callable[[str], None] = lambda msg: None) -> dict:
    """Measure every row of ``opts`` side by side; returns the report (JSON-serializable).

    Args:
        opts (BenchmarkOptions): what to measure.
        progress (callable): called with a line after each row is built.

    Returns:
        dict: ``machine``, ``torch``, ``args`` (the options), ``gemm_flops_per_s``, ``memory``
        (what the memory numbers mean) and ``results`` (one dict per row, in ``opts.rows``
        order).
    """
    init_default_scope('mmpretrain')
    MMLogger.get_current_instance().setLevel(logging.WARNING)  # no per-parameter init log
    torch.manual_seed(0)
    images = torch.randn(opts.batch, 3, opts.img_size, opts.img_size, device=opts.device)
    gemm = gemm_flops_per_s(opts.device, opts.amp)
    # A throw-away step first, so that one-time costs (thread pools, kernel caches) are not
    # counted in the first row's memory. Then every row is built (its memory measured while it
    # alone runs its warm-up steps) and the timed steps go round-robin over the rows.
    del _prepare(opts.rows[0], opts, images).model
    prepared = []
    for row in opts.rows:
        prepared.append(_prepare(row, opts, images))
        progress(f'{row}: built, +{prepared[-1].peak_mem_bytes / 2**30:.2f} GiB')
    for _ in range(opts.steps):
        for p in prepared:
            p.times += time_calls(p.step, 1, opts.device)
    results = [_result(p, opts, images) for p in prepared]
    return dict(machine=machine(opts.device), torch=torch.__version__, args=asdict(opts),
                gemm_flops_per_s=gemm, memory=memory_note(opts.device), results=results)


def table(report: dict) -> str:
    """The report's rows as a Markdown table, with ratios to the MAE row when there is one."""
    results, gemm = report['results'], report['gemm_flops_per_s']
    mae = next((r for r in results if r['row'] == 'mae'), None)
    lines = ['| model | step median (s) | min–max (s) | peak mem (GiB) | GFLOP/step | '
             'achieved TFLOP/s | of GEMM | step / MAE | mem / MAE | EMA update (s) |',
             '|---|---|---|---|---|---|---|---|---|---|']
    for r in results:
        ratio = f"{r['median_s'] / mae['median_s']:.3f}" if mae else '—'
        mem = f"{r['peak_mem_bytes'] / mae['peak_mem_bytes']:.3f}" if mae else '—'
        ema = f"{r['ema_update_s']:.3f}" if 'ema_update_s' in r else '—'
        lines.append(
            f"| {r['row']} | {r['median_s']:.3f} | {r['min_s']:.3f}–{r['max_s']:.3f} | "
            f"{r['peak_mem_bytes'] / 2**30:.2f} | {r['flops'] / 1e9:.1f} | "
            f"{r['flops_per_s'] / 1e12:.3f} | {r['flops_per_s'] / gemm:.0%} | {ratio} | {mem} | "
            f'{ema} |')
    return '\n'.join(lines)


def summary(report: dict) -> str:
    """The report as a user reads it: the set-up, the table, and the parts of a step."""
    a = report['args']
    lines = [f"{report['machine']}, torch {report['torch']}, arch {a['arch']}, batch "
             f"{a['batch']}, {a['img_size']}², amp {a['amp']}, compile {a['compile']}, fused "
             f"AdamW {a['fused_adamw']}, {a['steps']} timed steps after {a['warmup']} warm-up",
             f"plain GEMM: {report['gemm_flops_per_s'] / 1e12:.3f} TFLOP/s; memory: "
             f"{report['memory']}", '', table(report)]
    for r in report['results']:
        if 'parts_s' in r:
            lines += ['', 'Parts of one sdae_multi_fold step (each timed alone, median):']
            lines += [f'| {k} | {v:.3f} s |' for k, v in r['parts_s'].items()]
    return '\n'.join(lines)
