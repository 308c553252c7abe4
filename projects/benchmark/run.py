"""The benchmark: every row built and warmed up, then timed round-robin; a report and a table.

In one process, on the same synthetic in-memory batch, every model is built and warmed up, then
the timed steps of forward + backward + AdamW step (the same optimizer settings for every model)
go round-robin over the models, so that the machine's drift hits them alike (all models stay in
memory: ViT-B needs about 2.5 GB per row on the CPU). The report holds, per row: the step times,
peak memory, analytic FLOPs per step and achieved FLOP/s; FLOP/s as a fraction of a plain GEMM
measured in the same run; the cost of one teacher EMA update (once per epoch in SdAE, so not
part of the step); the graphs compiled during the timed steps (0 when nothing recompiles); on
CUDA, whether a step made the host wait for the device; and, when the released code's row runs,
every row's time divided by the released step's time of the same round (median, min and max over
the rounds).
"""
import logging
import statistics
from dataclasses import asdict, dataclass, field
from typing import Callable, List, Optional, Tuple

import torch
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from torch._dynamo.utils import counters

from .flops import ViTShape, train_step_flops
from .measure import (PeakRSS, gemm_flops_per_s, host_sync_in, is_cuda, machine,
                      release_memory, time_calls)
from .released import ReleasedCode, load_released_code, released_loss, released_shape
from .rows import FUSED_ROWS, build, default_rows, shape_of
from .step import benchmark_adamw, make_step, profile_parts

# Rows whose parts --profile times (eager modules; each with its own optimizer)
PROFILED_ROWS = ('sdae_multi_fold', 'sdae_multi_fold_fused')


@dataclass
class BenchmarkOptions:
    """What to measure.

    Attributes:
        arch (str): ``'tiny'``, ``'small'``, ``'base'`` or ``'large'``.
        batch (int): images per step.
        img_size (int): input side (patch 16).
        device (str): ``'cpu'`` or ``'cuda'``.
        amp (str): ``'none'``, ``'bf16'`` or ``'fp16'``.
        compile (bool): ``torch.compile`` every row's loss (SdAE: ``compile_loss=True``).
        steps (int): timed steps per row.
        warmup (int): untimed steps per row (at least 1).
        fused_adamw (bool): ``torch.optim.AdamW(fused=True)`` for every row of ours (the
            ``*_fused*`` rows always use it; the released row always uses the AdamW its
            ``main_pretrain.py`` builds, torch's default implementation).
        rows (list[str], optional): defaults to :func:`~.rows.default_rows` of ``amp``.
        profile (bool): also time the parts of one ``sdae_multi_fold`` step (and of one
            ``sdae_multi_fold_fused`` step: the same but for the optimizer).
        released_code (str, optional): a checkout of the released code; adds its row.
        released_timm (str, optional): a directory holding timm 0.3.2 for it.
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
    released_code: Optional[str] = None
    released_timm: Optional[str] = None

    def __post_init__(self) -> None:
        if self.rows is None:
            self.rows = default_rows(self.amp, released=self.released_code is not None)
        if 'released' in self.rows and self.released_code is None:
            raise ValueError("The 'released' row needs the released code: pass released_code "
                             '(--released-code PATH, a checkout of AbrahamYabo/SdAE).')


@dataclass
class _Prepared:
    row: str
    model: torch.nn.Module  # for the released row, a ModuleDict of its student and teacher
    optimizer: torch.optim.Optimizer
    step: Callable[[], None]
    peak_mem_bytes: int
    shape: Tuple[ViTShape, int, int, int]  # what the FLOP model needs
    times: List[float] = field(default_factory=list)


def _build_step(row: str, opts: BenchmarkOptions, images: torch.Tensor,
                released: Optional[ReleasedCode]) -> tuple:
    """``(model, optimizer, step, shape)`` of a row, its model on the device in training mode."""
    if row == 'released':
        student, teacher = released.build(opts.arch, opts.img_size)
        model = torch.nn.ModuleDict(dict(student=student, teacher=teacher)).to(opts.device)
        model.train()
        optimizer = benchmark_adamw(student, fused=False)
        step = make_step(lambda: released_loss(student, teacher, images), optimizer,
                         opts.device, opts.amp)
        return model, optimizer, step, released_shape(student)
    model = build(row, opts.arch, opts.img_size, compile=opts.compile).to(opts.device)
    model.train()
    optimizer = benchmark_adamw(model, fused=opts.fused_adamw or row in FUSED_ROWS)
    loss = model.loss
    if opts.compile and not hasattr(model, 'masked_loss'):  # MAE: no compile_loss switch
        loss = torch.compile(loss)
    step = make_step(lambda: loss(images, None)['loss'], optimizer, opts.device, opts.amp)
    return model, optimizer, step, shape_of(model)


def _prepare(row: str, opts: BenchmarkOptions, images: torch.Tensor,
             released: Optional[ReleasedCode]) -> _Prepared:
    """Build a row's model and optimizer, run its warm-up steps, measure the memory it adds."""
    release_memory(opts.device)
    cuda = is_cuda(opts.device)
    before = torch.cuda.memory_allocated() if cuda else PeakRSS.now()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    with PeakRSS() as rss:
        model, optimizer, step, shape = _build_step(row, opts, images, released)
        time_calls(step, max(opts.warmup, 1), opts.device)
    peak = (torch.cuda.max_memory_allocated() if cuda else rss.peak) - before
    return _Prepared(row, model, optimizer, step, peak, shape)


def _result(prepared: _Prepared, opts: BenchmarkOptions, images: torch.Tensor) -> dict:
    """A row's numbers from its timed steps, plus its EMA update and (optionally) its parts."""
    model, times = prepared.model, prepared.times
    flops = train_step_flops(prepared.shape[0], opts.batch, *prepared.shape[1:])
    median = statistics.median(times)
    result = dict(row=prepared.row, median_s=median, min_s=min(times), max_s=max(times),
                  times_s=times, peak_mem_bytes=prepared.peak_mem_bytes, flops=flops,
                  flops_per_s=flops / median)
    if is_cuda(opts.device):
        result['host_sync'] = host_sync_in(prepared.step, opts.device)
    if hasattr(model, 'update_teacher'):
        result['ema_update_s'] = statistics.median(
            time_calls(lambda: model.update_teacher(0.99), 3, opts.device))
    if opts.profile and prepared.row in PROFILED_ROWS:
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
        (what the memory numbers mean), ``compiled_graphs_while_timed`` (graphs dynamo compiled
        during the timed steps: 0 unless something recompiles) and ``results`` (one dict per
        row, in ``opts.rows`` order; with the released row, each has ``vs_released``; on CUDA
        each has ``host_sync``, None or the error of the first synchronization in a step).
    """
    init_default_scope('mmpretrain')
    MMLogger.get_current_instance().setLevel(logging.WARNING)  # no per-parameter init log
    released = (load_released_code(opts.released_code, opts.released_timm)
                if 'released' in opts.rows else None)
    torch.manual_seed(0)
    images = torch.randn(opts.batch, 3, opts.img_size, opts.img_size, device=opts.device)
    gemm = gemm_flops_per_s(opts.device, opts.amp)
    # A throw-away step first, so that one-time costs (thread pools, kernel caches) are not
    # counted in the first row's memory. Then every row is built (its memory measured while it
    # alone runs its warm-up steps) and the timed steps go round-robin over the rows.
    del _prepare(opts.rows[0], opts, images, released).model
    prepared = []
    for row in opts.rows:
        prepared.append(_prepare(row, opts, images, released))
        progress(f'{row}: built, +{prepared[-1].peak_mem_bytes / 2**30:.2f} GiB')
    graphs_before = counters['stats']['unique_graphs']
    for _ in range(opts.steps):
        for p in prepared:
            p.times += time_calls(p.step, 1, opts.device)
    recompiled = counters['stats']['unique_graphs'] - graphs_before
    results = [_result(p, opts, images) for p in prepared]
    add_released_ratios(results)
    return dict(machine=machine(opts.device), torch=torch.__version__, args=asdict(opts),
                gemm_flops_per_s=gemm, memory=memory_note(opts.device),
                compiled_graphs_while_timed=recompiled, results=results)


def add_released_ratios(results: List[dict]) -> None:
    """Give every row ``vs_released``: its step time over the released row's, round by round.

    Round ``i`` is the ``i``-th pass over all rows, so the two steps of a ratio ran seconds
    apart; the median over the rounds is the number to read. Nothing is added without a
    ``'released'`` row.
    """
    released = next((r for r in results if r['row'] == 'released'), None)
    if released is None:
        return
    for r in results:
        ratios = [ours / theirs for ours, theirs in zip(r['times_s'], released['times_s'])]
        r['vs_released'] = dict(median=statistics.median(ratios), min=min(ratios),
                                max=max(ratios), per_round=ratios)


def table(report: dict) -> str:
    """The report's rows as a Markdown table, with ratios to the MAE row when there is one and
    to the released code's step (median over rounds, and its range) when that row ran."""
    results, gemm = report['results'], report['gemm_flops_per_s']
    mae = next((r for r in results if r['row'] == 'mae'), None)
    peer = any('vs_released' in r for r in results)
    lines = ['| model | step median (s) | min–max (s) | peak mem (GiB) | GFLOP/step | '
             'achieved TFLOP/s | of GEMM | step / MAE | mem / MAE | EMA update (s) |'
             + (' ours / released (per round: median, min–max) |' if peer else ''),
             '|---|---|---|---|---|---|---|---|---|---|' + ('---|' if peer else '')]
    for r in results:
        ratio = f"{r['median_s'] / mae['median_s']:.3f}" if mae else '—'
        mem = f"{r['peak_mem_bytes'] / mae['peak_mem_bytes']:.3f}" if mae else '—'
        ema = f"{r['ema_update_s']:.3f}" if 'ema_update_s' in r else '—'
        line = (f"| {r['row']} | {r['median_s']:.3f} | {r['min_s']:.3f}–{r['max_s']:.3f} | "
                f"{r['peak_mem_bytes'] / 2**30:.2f} | {r['flops'] / 1e9:.1f} | "
                f"{r['flops_per_s'] / 1e12:.3f} | {r['flops_per_s'] / gemm:.0%} | {ratio} | "
                f'{mem} | {ema} |')
        if peer:
            v = r['vs_released']
            line += f" {v['median']:.3f} ({v['min']:.3f}–{v['max']:.3f}) |"
        lines.append(line)
    return '\n'.join(lines)


def summary(report: dict) -> str:
    """The report as a user reads it: the set-up, the table, and the parts of a step."""
    a = report['args']
    lines = [f"{report['machine']}, torch {report['torch']}, arch {a['arch']}, batch "
             f"{a['batch']}, {a['img_size']}², amp {a['amp']}, compile {a['compile']}, fused "
             f"AdamW {a['fused_adamw']}, {a['steps']} timed steps after {a['warmup']} warm-up",
             f"plain GEMM: {report['gemm_flops_per_s'] / 1e12:.3f} TFLOP/s; memory: "
             f"{report['memory']}", '', table(report)]
    syncs = {r['row']: r['host_sync'] for r in report['results'] if 'host_sync' in r}
    if syncs:
        waits = {row: msg for row, msg in syncs.items() if msg}
        lines += ['', 'Host synchronizations inside a step (CUDA sync debug mode): '
                  + ('; '.join(f'{row}: {msg}' for row, msg in waits.items()) if waits
                     else 'none')]
    for r in report['results']:
        if 'parts_s' in r:
            lines += ['', f"Parts of one {r['row']} step (each timed alone, median):"]
            lines += [f'| {k} | {v:.3f} s |' for k, v in r['parts_s'].items()]
    return '\n'.join(lines)
