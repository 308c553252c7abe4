"""The sweep's Markdown report: a pure function of the runs, the stage results, the resolved
configs (:class:`~.protocol.Protocol`) and a few facts about the invocation
(:class:`ReportContext`).

A run is a dict: ``row``, ``seed``, ``label``, ``epochs``, ``wall_s`` (pretraining seconds),
``lr`` (its pretraining learning rate if the sweep chose it, else None), ``curve`` (the kNN
monitor's ``[(epoch, kNN cls, kNN mean), ...]`` on validation images) and, where measured,
``val`` (the validation score learning rates are chosen by), ``knn_cls``, ``knn_mean``,
``linear``, ``ft`` (top-1 % on the test split).
"""
import datetime
import os
import platform
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from .protocol import Protocol, config_changes, describe, resize_scale, value_text
from .results import stage_seconds
from .rows import CLAIMS, MAIN_ROW, METRICS, ROWS
from .stages import config_file


@dataclass
class ReportContext:
    """What the report says about the invocation rather than the experiment.

    Args:
        written: when the report was written.
        wall_s: the sweep's wall time in this invocation (seconds).
        work_dir: the work dir, as the report names it.
        machine: :func:`machine_summary` of the machine that ran it.
        invocation: the command line of the sweep.
        commands: every stage command, in order.
        plot: the kNN-vs-epoch PNG relative to the report, if written.
        reading: ``(file name, text)`` of the hand-written reading, if there is one.
        pixels: kNN top-1 on the raw pixels, if measured.
        jobs: stages that ran at a time.
    """
    written: datetime.datetime
    wall_s: float
    work_dir: str
    machine: str
    invocation: str
    commands: List[str] = field(default_factory=list)
    plot: Optional[str] = None
    reading: Optional[Tuple[str, str]] = None
    pixels: Optional[float] = None
    jobs: int = 1


def machine_summary() -> str:
    """CPU model, cores, AMX, GPU (if any), OS, Python, torch and its threads of this machine."""
    import torch
    cpu = platform.processor() or platform.machine()
    try:
        cpuinfo = Path('/proc/cpuinfo').read_text()
        cpu = next((line.split(':', 1)[1].strip() for line in cpuinfo.splitlines()
                    if line.startswith('model name')), cpu)
        amx = 'amx_bf16' in cpuinfo
    except OSError:
        amx = False
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    gpu = f'; GPU: {torch.cuda.get_device_name()}' if torch.cuda.is_available() else ''
    return (f'{cpu}, {cores} cores available, AMX-bf16: {"yes" if amx else "no"}{gpu}; '
            f'{platform.system()} {platform.release()}, Python {platform.python_version()}, '
            f'torch {torch.__version__} ({torch.get_num_threads()} threads)')


def summarize(runs: Sequence[dict], row: str, metric: str):
    """``(mean, half the range or None for one value, count)`` of a row's metric over seeds."""
    values = [r[metric] for r in runs if r['row'] == row and r.get(metric) is not None]
    if not values:
        return None, None, 0
    spread = (max(values) - min(values)) / 2 if len(values) > 1 else None
    return statistics.mean(values), spread, len(values)


def _fmt(value, digits: int = 2) -> str:
    return '—' if value is None else f'{value:.{digits}f}'


def _seeds_line(runs: Sequence[dict]) -> str:
    seeds: Dict[str, Tuple[int, ...]] = {}
    for run in runs:
        seeds[run['row']] = seeds.get(run['row'], ()) + (run['seed'],)
    common, _ = Counter(seeds.values()).most_common(1)[0]
    groups: Dict[Tuple[int, ...], List[str]] = {}
    for row, row_seeds in seeds.items():
        if row_seeds != common:
            groups.setdefault(row_seeds, []).append(f'`{row}`')
    parts = [f'{", ".join(map(str, s))} for {", ".join(rows)}' for s, rows in groups.items()]
    parts.append(f'{", ".join(map(str, common))} for the others' if parts else
                 f'{", ".join(map(str, common))} for every row')
    return (f'**Seeds:** {"; ".join(parts)} (the seed of pretraining and of its '
            'evaluations).')


def _rows_section(runs: Sequence[dict], protocol: Protocol) -> List[str]:
    lines = ['## Rows', '', 'What the config of each row changes against that of its baseline '
             'row, read from the configs.', '', '| row | config | paper | changes |',
             '|---|---|---|---|']
    for name in dict.fromkeys(r['row'] for r in runs):
        row = ROWS[name]
        if not row.pretrained:
            changes = f'the `{row.baseline}` encoder at its initialization, not pretrained'
        elif row.baseline is None:
            changes = '(a main row)'
        else:
            diff = config_changes(protocol.rows[row.baseline].to_dict(),
                                  protocol.rows[name].to_dict())
            changes = '; '.join(f'`{key}`: {value_text(a)} → {value_text(b)}'
                                for key, (a, b) in diff.items()) or 'nothing'
            changes = f'against `{row.baseline}`: {changes}'
        lines.append(f'| `{name}` | `{config_file(row.config)}` | {row.reference} | '
                     f'{changes} |')
    return lines + ['']


def _claims_section(runs: Sequence[dict]) -> List[str]:
    """The paper's orderings, each judged against the seed spread of the two rows it compares
    (the larger half-range; the ``MAIN_ROW``'s where both ran one seed)."""
    lines = ['## The paper\'s orderings at this scale', '',
             'Computed from the tables (means over the seeds that ran). "within noise": the '
             'difference is not larger than the seed spread (half the range over seeds) of the '
             'two rows compared, the larger of the two; where both ran one seed, that of the '
             f'`{MAIN_ROW}` row. Such a difference cannot be told from the seed.', '',
             '| claim | paper | metric | seeds | better row | worse row | difference | spread '
             '| verdict |', '|---|---|---|---|---|---|---|---|---|']
    single = False
    for claim in CLAIMS:
        for metric, name in METRICS:
            hi, hi_spread, hi_n = summarize(runs, claim.better, metric)
            lo, lo_spread, lo_n = summarize(runs, claim.worse, metric)
            if hi is None or lo is None:
                continue
            spreads = [v for v in (hi_spread, lo_spread) if v is not None]
            spread = max(spreads) if spreads else summarize(runs, MAIN_ROW, metric)[1]
            single = single or min(hi_n, lo_n) == 1
            diff = hi - lo
            if spread is not None and abs(diff) <= spread:
                verdict = 'within noise'
            else:
                verdict = 'holds' if diff > 0 else 'does not hold'
            lines.append(f'| {claim.text} | {claim.reference} | {name} | {hi_n} / {lo_n} | '
                         f'`{claim.better}` {hi:.2f} | `{claim.worse}` {lo:.2f} | {diff:+.2f} | '
                         f'{_fmt(spread)} | {verdict} |')
    if single:
        lines += ['', 'Rows with one seed: read their differences of about a point or less as '
                  'noise unless the seeds of the other rows agree closely.']
    return lines + ['']


def _tuning_section(results: Dict[str, dict]) -> List[str]:
    """The learning-rate choice of every tuned row, from the ``tune/<row>`` results."""
    tuned = {key.split('/', 1)[1]: value for key, value in results.items()
             if key.startswith('tune/')}
    if not tuned:
        return []
    lrs = sorted({lr for value in tuned.values() for lr in value['scores']}, key=float)
    lines = ['## Learning rate, chosen on validation images', '',
             'Each tuned row was pretrained on the first seed with every learning rate below; '
             'the score is the kNN monitor\'s last evaluation on the validation images (the '
             'better of its cls and mean-pool top-1). The best (bold) is the row\'s learning '
             'rate for every seed; the test split played no part.', '',
             '| row | ' + ' | '.join(f'lr {lr}' for lr in lrs) + ' |',
             '|---|' + '---|' * len(lrs)]
    for row, value in tuned.items():
        cells = []
        for lr in lrs:
            score = value['scores'].get(lr)
            text = _fmt(score)
            cells.append(f'**{text}**' if float(lr) == value['lr'] else text)
        lines.append(f'| `{row}` | ' + ' | '.join(cells) + ' |')
    return lines + ['', 'Rows that were not tuned use their baseline row\'s learning rate.', '']


def _header(runs: Sequence[dict], protocol: Protocol, context: ReportContext) -> List[str]:
    """The title, the invocation, the machine, the setup (from the configs) and the seeds."""
    dataset = protocol.linear.test_dataloader.dataset.type
    return [f'# SdAE vs MAE in miniature: {dataset} evidence', '',
            f'Written by `tools/reproduce_mini.py` on {context.written:%Y-%m-%d %H:%M} '
            f'(sweep wall time of this invocation: {context.wall_s / 60:.1f} min; stages '
            f'already done in `{context.work_dir}/results.json` were not rerun).', '',
            f'**Machine:** {context.machine}', '',
            f'**Setup** (read from the resolved configs of the `{MAIN_ROW}` row\'s stages; the '
            'other rows differ as listed under Rows):', '', *describe(protocol), '',
            'Every number is top-1 (%) on the kNN queries and evaluation splits above; no '
            'setting was chosen on them (choices were made on the kNN monitor\'s validation '
            'images).', '',
            _seeds_line(runs), '']


def _runs_section(runs: Sequence[dict]) -> List[str]:
    """Every run (row and seed) with its learning rate, time and scores."""
    lines = ['## Every run', '',
             '| method | row | seed | epochs | lr | wall time (min) | val kNN | kNN top-1 cls | '
             'kNN top-1 mean-pool | linear top-1 | fine-tune top-1 |',
             '|---|---|---|---|---|---|---|---|---|---|---|']
    for r in runs:
        wall = None if r.get('wall_s') is None else r['wall_s'] / 60
        lr = 'config' if r.get('lr') is None else f'{r["lr"]:g}'
        lines.append(f'| {r["label"]} | `{r["row"]}` | {r["seed"]} | {r["epochs"]} | {lr} | '
                     f'{_fmt(wall)} | {_fmt(r.get("val"))} | {_fmt(r.get("knn_cls"))} | '
                     f'{_fmt(r.get("knn_mean"))} | {_fmt(r.get("linear"))} | '
                     f'{_fmt(r.get("ft"))} |')
    return lines + ['', '— : not run for this row (see the options below). val kNN: the '
                    'monitor\'s last evaluation on validation images (the better readout); the '
                    'other columns are on the test split.', '']


def _pixels_section(protocol: Protocol, pixels: Optional[float]) -> List[str]:
    """The no-network reference: kNN on the raw pixels, if measured."""
    if pixels is None:
        return []
    size = resize_scale(protocol.knn.test_dataloader.dataset)
    return [f'No-network reference: weighted kNN on the normalized {size}x{size} pixels, '
            f'the same memory bank and queries: **{pixels:.2f}**.', '']


def _means_section(runs: Sequence[dict]) -> List[str]:
    """Mean and half-range over seeds of every row that ran more than one seed."""
    multi = [row for row in dict.fromkeys(r['row'] for r in runs)
             if sum(1 for r in runs if r['row'] == row) > 1]
    if not multi:
        return []
    lines = ['## Mean over seeds (± half the range)', '',
             '| row | seeds | ' + ' | '.join(name for _, name in METRICS) + ' |',
             '|---|---|' + '---|' * len(METRICS)]
    for row in multi:
        cells = []
        for metric, _ in METRICS:
            mean, spread, _ = summarize(runs, row, metric)
            cells.append('—' if mean is None else
                         f'{mean:.2f}' + ('' if spread is None else f' ± {spread:.2f}'))
        n = sum(1 for r in runs if r['row'] == row)
        lines.append(f'| `{row}` | {n} | ' + ' | '.join(cells) + ' |')
    return lines + ['']


def _time_section(results: Dict[str, dict], jobs: int) -> List[str]:
    """Minutes per kind of stage over the work dir, and a note when stages shared the machine."""
    spent = stage_seconds(results)
    lines = ['## Where the time went (all runs in the work dir, minutes)', '',
             '| ' + ' | '.join(spent) + ' | total |', '|' + '---|' * (len(spent) + 1),
             '| ' + ' | '.join(f'{v / 60:.1f}' for v in spent.values())
             + f' | {sum(spent.values()) / 60:.1f} |', '']
    if jobs > 1:
        lines += [f'Stages ran {jobs} at a time (`--jobs`): each stage\'s time includes '
                  'sharing the machine with the others, and their sum exceeds the wall time.',
                  '']
    return lines


def _plot_section(plot: Optional[str]) -> List[str]:
    if plot is None:
        return []
    return ['## kNN top-1 vs. pretraining epoch (validation images)', '',
            f'![kNN vs epoch]({plot})', '',
            'The kNN monitor of every seed: solid, the cls token; dotted, the mean-pooled '
            'patch tokens; lines are means over seeds, bands their range; epoch 0 is each '
            'run\'s encoder at initialization; dash-dotted: kNN on the raw pixels of the '
            'same images.', '']


def _reading_section(reading: Optional[Tuple[str, str]]) -> List[str]:
    if reading is None:
        return []
    name, text = reading
    return ['## Reading', '', f'Hand-written, kept in `{name}`; it reads the numbers '
            'above as they were when it was written.', '', text.strip(), '']


def _commands_section(context: ReportContext) -> List[str]:
    return ['## Commands', '',
            'From the repository root, in this order (`tools/reproduce_mini.py` runs them as '
            'subprocesses with exactly these arguments; it writes the random-init encoder '
            'in its own process). The sweep itself:', '', '```', context.invocation, '```', '',
            '```', *context.commands, '```', '']


def render_report(runs: Sequence[dict], results: Dict[str, dict], protocol: Protocol,
                  context: ReportContext) -> str:
    """The Markdown report of a sweep.

    Args:
        runs: one dict per row and seed (see the module docstring).
        results: the work dir's stage results (``results.json``), for the time per stage.
        protocol: the resolved configs; every statement about the setup is read from them.
        context: facts about this invocation.
    """
    return '\n'.join([
        *_header(runs, protocol, context), *_rows_section(runs, protocol),
        *_tuning_section(results), *_runs_section(runs), *_pixels_section(protocol, context.pixels),
        *_means_section(runs), *_claims_section(runs), *_time_section(results, context.jobs),
        *_plot_section(context.plot), *_reading_section(context.reading),
        *_commands_section(context)])
