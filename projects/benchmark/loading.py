"""Time a pretraining config's data loading per image (MMPretrain's pipeline in the dataloader)
against a batch at a time (:mod:`sdae_plugin.datasets`), side by side in one process.

One timed call is "next batch from the dataloader + the data preprocessor", which is all the
data work of a training step. The two ways alternate within every round (the order flips from
round to round), so that the machine's drift hits both alike.
"""
import copy
import statistics
import time
from typing import Dict, List, Optional

from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from sdae_plugin.datasets import BATCHED_FASHION_MNIST_OPTIONS

from .measure import sync

WAYS = ('per image', 'batched')


class _Feed:
    """A config's dataloader and data preprocessor; :meth:`step` makes one batch ready."""

    def __init__(self, cfg: Config, device: str) -> None:
        from mmpretrain.registry import MODELS
        self.loader = Runner.build_dataloader(copy.deepcopy(cfg.train_dataloader), seed=0)
        self.preprocessor = MODELS.build(copy.deepcopy(cfg.data_preprocessor)).to(device)
        self.iterator = iter(self.loader)

    def step(self) -> None:
        try:
            batch = next(self.iterator)
        except StopIteration:
            self.iterator = iter(self.loader)
            batch = next(self.iterator)
        self.preprocessor(batch, True)


def measure_loading(config: str, batch_size: int, batches: int = 10, rounds: int = 5,
                    device: str = 'cpu', num_workers: int = 0,
                    subset: Optional[int] = None) -> Dict:
    """Median seconds per batch of each way, and their ratio per round.

    Args:
        config: a pretraining config whose dataset is ``FashionMNIST``.
        batch_size, num_workers: the dataloader's.
        batches: timed batches per way and round (after one untimed warm-up batch).
        rounds: alternations of the two ways.
        device: where the data preprocessor (and the batched augmentations) run.
        subset: the first N training images (0: all; None: the config's).

    Returns:
        ``{'rows': [{'way', 'ms_per_batch', 'us_per_image', 'spread_ms'}], 'speedup':
        median over rounds of per-image time / batched time, 'speedups': per round, ...}``.
    """
    init_default_scope('mmpretrain')
    base = Config.fromfile(config)
    base.train_dataloader.update(batch_size=batch_size, num_workers=num_workers,
                                 persistent_workers=num_workers > 0)
    if subset is not None:
        base.train_dataloader.dataset.indices = subset or None  # 0: all
    batched = copy.deepcopy(base)
    batched.merge_from_dict(BATCHED_FASHION_MNIST_OPTIONS)
    feeds = {WAYS[0]: _Feed(base, device), WAYS[1]: _Feed(batched, device)}
    times: Dict[str, List[float]] = {way: [] for way in WAYS}
    for feed in feeds.values():
        feed.step()  # warm-up
    for round_ in range(rounds):
        for way in (WAYS if round_ % 2 == 0 else WAYS[::-1]):
            sync(device)
            start = time.perf_counter()
            for _ in range(batches):
                feeds[way].step()
            sync(device)
            times[way].append((time.perf_counter() - start) / batches)
    speedups = [a / b for a, b in zip(times[WAYS[0]], times[WAYS[1]])]
    rows = [dict(way=way, ms_per_batch=1e3 * statistics.median(t),
                 us_per_image=1e6 * statistics.median(t) / batch_size,
                 spread_ms=1e3 * (max(t) - min(t))) for way, t in times.items()]
    return dict(config=config, batch_size=batch_size, num_workers=num_workers, device=device,
                rounds=rounds, batches=batches, rows=rows, speedups=speedups,
                speedup=statistics.median(speedups))


def loading_table(result: Dict) -> str:
    """The result of :func:`measure_loading` as a Markdown table."""
    lines = [f'{result["config"]}: batch {result["batch_size"]}, {result["num_workers"]} '
             f'workers, preprocessor on {result["device"]}; {result["rounds"]} rounds of '
             f'{result["batches"]} batches per way, alternating', '',
             '| way | ms per batch (median) | us per image | spread over rounds (ms) |',
             '|---|---:|---:|---:|']
    lines += [f'| {r["way"]} | {r["ms_per_batch"]:.2f} | {r["us_per_image"]:.2f} | '
              f'{r["spread_ms"]:.2f} |' for r in result['rows']]
    lines += ['', f'per image / batched: **{result["speedup"]:.1f}x** (median of rounds; '
              f'{min(result["speedups"]):.1f}x-{max(result["speedups"]):.1f}x)']
    return '\n'.join(lines)
