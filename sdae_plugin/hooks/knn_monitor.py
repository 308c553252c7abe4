"""Online kNN monitor: how well the encoder's features separate labelled images, while it trains."""
import copy
import json
import logging
import os.path as osp
import random
import time
from contextlib import contextmanager
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from mmengine import dist
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import DATASETS
from mmengine.runner import Runner
from mmpretrain.registry import HOOKS
from torch import nn

from ..evaluation.features import (PRECISIONS, Batches, batch_labels, check_encoder,
                                   encoder_input_shape, extract_features, gather_shards,
                                   load_labelled, pixel_features)
from ..evaluation.knn import knn_top1
from ..runtime.cpu_amp import CPUAutocastOptimWrapper
from ..runtime.precision import autocast_dtype

ENCODERS = {'student': 'backbone', 'teacher': 'teacher'}
HISTORY_KEY = 'knn_monitor_history'  # message-hub runtime info, saved in checkpoints
LOADER_DEFAULTS = dict(batch_size=256, num_workers=0,
                       sampler=dict(type='DefaultSampler', shuffle=False),
                       collate_fn=dict(type='default_collate'))


@contextmanager
def preserved_rng():
    """Leave the torch, numpy and ``random`` generators as they were: training is unchanged."""
    np_state, py_state = np.random.get_state(), random.getstate()
    with torch.random.fork_rng(devices=[]):
        try:
            yield
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)


@contextmanager
def eval_mode(module: nn.Module):
    """``module.eval()`` inside, every submodule's own mode restored after."""
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


def _loader_cfg(cfg: dict, name: str) -> dict:
    loader = copy.deepcopy(LOADER_DEFAULTS)
    loader.update(copy.deepcopy(dict(cfg)))
    sampler = dict(loader['sampler'])
    if sampler.get('type') not in ('DefaultSampler', 'mmengine.DefaultSampler') or \
            sampler.get('shuffle', True):
        raise ValueError(f'KNNMonitorHook {name}: the sampler must be dict(type="DefaultSampler", '
                         f'shuffle=False) (the order DDP shards are gathered in), got {sampler}.')
    if 'dataset' not in loader:
        raise ValueError(f'KNNMonitorHook {name} has no dataset.')
    return loader


@HOOKS.register_module()
class KNNMonitorHook(Hook):
    """Weighted kNN top-1 (DINO) of the encoder being pretrained, before and during training.

    Once before training (the random-initialization floor) and after every ``interval``-th
    epoch (and the last), the labelled images of ``bank_dataloader`` (the memory bank) and
    ``query_dataloader`` are encoded whole, without masking, by the student (``model.backbone``)
    or the EMA teacher (``model.teacher``); their cls tokens and their mean-pooled patch tokens,
    both after the final norm (:mod:`sdae_plugin.evaluation.encode`), are classified by the
    project's weighted kNN (:func:`~sdae_plugin.evaluation.knn.knn_top1`). Each evaluation
    prints one line and logs ``knn/top1_cls`` and ``knn/top1_mean`` (percent) through the
    runner's visualizer at the current iteration (the json log that ``tools/plot_log.py --keys
    knn/top1_cls`` reads, and TensorBoard). After training it prints the last values beside the
    floor (and the raw pixels with ``pixels=True``), the hook's own time as a share of the
    training time, where the last checkpoint is, draws ``curve`` and writes ``history_file``
    in the work directory (JSON, for scripts: ``evaluations``: ``[{"epoch", "iter", "top1":
    {"cls", "mean"}}, ...]``, ``pixels`` (or null), ``bank``, ``queries``, ``k``, ``encoder``).

    Cost: both sets are read, normalized and kept in memory once at ``before_train`` (so bad
    input fails there, before the first epoch); each evaluation is then one forward pass over
    them, in eval mode, under CPU autocast in bf16 when the run's optimizer wrapper uses it.
    The random generators are restored after each evaluation, so training is the same with and
    without the hook. Under DDP each rank encodes its shard and the features are gathered.
    The history is kept in the message hub, so a resumed run continues it.

    Args:
        bank_dataloader (dict): MMEngine dataloader config of the labelled memory bank. Defaults
            filled in: ``batch_size=256, num_workers=0``, ``DefaultSampler(shuffle=False)`` (the
            only sampler allowed), ``default_collate``.
        query_dataloader (dict): the labelled queries, same form.
        interval (int): evaluate after every ``interval`` epochs. Defaults to 1.
        k (int): neighbours; the bank must hold at least ``k`` images. Defaults to 20.
        temperature (float): vote weight ``exp(similarity / temperature)``. Defaults to 0.07.
        encoder (str): ``'student'`` (default) or ``'teacher'``.
        dtype (str): ``'auto'`` (default: the autocast dtype of a ``CPUAutocastOptimWrapper``
            that is enabled, else fp32), ``'fp32'`` or ``'bf16'``.
        pixels (bool): also report the kNN on the normalized pixels (no network), measured
            once. Defaults to False.
        curve (str, optional): PNG file (in the work directory) of top-1 against the epoch,
            written after training; None for none. Defaults to ``'knn_curve.png'``.
        history_file (str, optional): JSON file (in the work directory) of every evaluation,
            written after training; None for none. Defaults to ``'knn_history.json'``.
    """

    priority = 'LOW'  # after TeacherEMAHook ('NORMAL'), before CheckpointHook ('VERY_LOW')

    def __init__(self, bank_dataloader: dict, query_dataloader: dict, interval: int = 1,
                 k: int = 20, temperature: float = 0.07, encoder: str = 'student',
                 dtype: str = 'auto', pixels: bool = False,
                 curve: Optional[str] = 'knn_curve.png',
                 history_file: Optional[str] = 'knn_history.json') -> None:
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f'interval must be an integer >= 1, got {interval!r}.')
        if not isinstance(k, int) or k < 1 or not temperature > 0:
            raise ValueError(f'k must be an integer >= 1 and temperature > 0, got k={k!r}, '
                             f'temperature={temperature!r}.')
        if encoder not in ENCODERS:
            raise ValueError(f'encoder must be one of {sorted(ENCODERS)}, got {encoder!r}.')
        if dtype != 'auto' and dtype not in PRECISIONS:
            raise ValueError(f'dtype must be "auto" or one of {PRECISIONS}, got {dtype!r}.')
        self.bank_cfg = _loader_cfg(bank_dataloader, 'bank_dataloader')
        self.query_cfg = _loader_cfg(query_dataloader, 'query_dataloader')
        self.interval, self.k, self.temperature = interval, k, temperature
        self.encoder, self.dtype, self.pixels, self.curve = encoder, dtype, pixels, curve
        self.history_file = history_file
        self.history: List[Dict] = []
        self.pixel_top1: Optional[float] = None
        self.seconds = 0.0  # the hook's own time in this run

    # -- set-up ---------------------------------------------------------------------------

    def _model(self, runner) -> nn.Module:
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def _encoder(self, model: nn.Module) -> nn.Module:
        encoder = getattr(model, ENCODERS[self.encoder], None)
        if not isinstance(encoder, nn.Module):
            raise ValueError(f'KNNMonitorHook(encoder={self.encoder!r}) needs '
                             f'model.{ENCODERS[self.encoder]}; {type(model).__name__} has none '
                             '(the teacher exists in SdAE only).')
        return encoder

    def _read(self, runner, cfg: dict, name: str, model: nn.Module,
              shape: Tuple[int, int, int]) -> Tuple[Batches, torch.Tensor]:
        """This rank's normalized batches and all ranks' labels, checked against the encoder."""
        cfg = copy.deepcopy(cfg)
        if isinstance(cfg['dataset'], dict):
            cfg['dataset'] = DATASETS.build(cfg['dataset'])
        total = len(cfg['dataset'])
        if total == 0:
            raise ValueError(f'KNNMonitorHook {name} holds no images: check its dataset '
                             '(data_root, split, indices).')
        loader = Runner.build_dataloader(cfg, seed=runner.seed)
        batches = load_labelled(loader, model.data_preprocessor, f'KNNMonitorHook {name}')
        for images, _ in batches[:1]:
            if tuple(images.shape[1:]) != shape:
                raise ValueError(
                    f'KNNMonitorHook {name}: its pipeline gives {tuple(images.shape[1:])} images '
                    f'(C, H, W) but model.{ENCODERS[self.encoder]} takes {shape}. Resize or '
                    f'crop to {shape[1]}x{shape[2]} in its pipeline, with {shape[0]} channel(s).')
        return batches, gather_shards(batch_labels(batches), total)

    def _autocast_dtype(self, runner) -> Optional[torch.dtype]:
        if self.dtype != 'auto':
            return autocast_dtype(self.dtype, allowed=PRECISIONS)
        wrapper = runner.optim_wrapper
        if isinstance(wrapper, CPUAutocastOptimWrapper) and wrapper.enabled:
            return wrapper.cast_dtype
        return None

    def before_train(self, runner) -> None:
        """Read and check both sets, measure the pixels, and the floor on a fresh start."""
        start = time.perf_counter()
        model = self._model(runner)
        encoder = self._encoder(model)
        check_encoder(encoder, f'model.{ENCODERS[self.encoder]}')
        shape = encoder_input_shape(encoder)
        with preserved_rng():
            self._bank, self._bank_labels = self._read(runner, self.bank_cfg, 'bank_dataloader',
                                                       model, shape)
            self._queries, self._query_labels = self._read(runner, self.query_cfg,
                                                           'query_dataloader', model, shape)
        if len(self._bank_labels) < self.k:
            raise ValueError(f'KNNMonitorHook: the memory bank holds {len(self._bank_labels)} '
                             f'images, fewer than k={self.k}: give bank_dataloader more images '
                             'or lower k.')
        self._num_classes = int(torch.cat([self._bank_labels, self._query_labels]).max()) + 1
        self._cast = self._autocast_dtype(runner)
        if self.pixels:
            bank = self._gather(pixel_features(self._bank)[0], self._bank_labels)
            queries = self._gather(pixel_features(self._queries)[0], self._query_labels)
            self.pixel_top1 = self._top1(bank, queries)['pixels']
        self.history = copy.deepcopy(runner.message_hub.get_info(HISTORY_KEY) or [])
        self.seconds = time.perf_counter() - start
        if runner.iter == 0:
            self._evaluate(runner, epoch=0)
        self._train_start, self._seconds_at_start = time.perf_counter(), self.seconds

    # -- evaluation -----------------------------------------------------------------------

    @staticmethod
    def _gather(features: Dict[str, torch.Tensor], labels: torch.Tensor) -> Dict:
        return {kind: gather_shards(value, len(labels)) for kind, value in features.items()}

    def _top1(self, bank: Dict[str, torch.Tensor], queries: Dict[str, torch.Tensor]) -> Dict:
        return {kind: knn_top1(bank[kind], self._bank_labels, queries[kind], self._query_labels,
                               num_classes=self._num_classes, k=self.k,
                               temperature=self.temperature) for kind in bank}

    def _evaluate(self, runner, epoch: int) -> None:
        start = time.perf_counter()
        encoder = self._encoder(self._model(runner))
        with preserved_rng(), eval_mode(encoder):
            bank = self._gather(extract_features(encoder, self._bank, self._cast)[0],
                                self._bank_labels)
            queries = self._gather(extract_features(encoder, self._queries, self._cast)[0],
                                   self._query_labels)
        top1 = self._top1(bank, queries)
        seconds = time.perf_counter() - start
        self.seconds += seconds
        self.history.append(dict(epoch=epoch, iter=runner.iter, top1=top1))
        runner.message_hub.update_info(HISTORY_KEY, copy.deepcopy(self.history), resumed=True)
        runner.visualizer.add_scalars({f'knn/top1_{kind}': value for kind, value in top1.items()},
                                      step=runner.iter)
        scores = ', '.join(f'{kind} {value:.2f} %' for kind, value in top1.items())
        print_log(f'kNN top-1 of the {self.encoder} at epoch {epoch}: {scores} '
                  f'({len(self._bank_labels)} bank -> {len(self._query_labels)} queries, '
                  f'k={self.k}; {seconds:.1f} s)', logger='current')

    def after_train_epoch(self, runner) -> None:
        if self.every_n_epochs(runner, self.interval) or self.is_last_train_epoch(runner):
            self._evaluate(runner, epoch=runner.epoch + 1)

    # -- summary --------------------------------------------------------------------------

    def summary(self, runner, train_seconds: float) -> str:
        """The lines printed after training: last top-1, the floor, pixels, cost, files."""
        def scores(top1: Dict[str, float]) -> str:
            return '   '.join(f'{kind} {value:6.2f} %' for kind, value in top1.items())

        lines = [f'kNN top-1 of the {self.encoder} encoder: {len(self._query_labels)} queries, '
                 f'memory bank of {len(self._bank_labels)} (k={self.k}, T={self.temperature}; '
                 'cls token, mean of the patch tokens)']
        if self.history:
            last = self.history[-1]
            lines.append(f'  after epoch {last["epoch"]:<4d}           {scores(last["top1"])}')
        floor = [row for row in self.history if row['epoch'] == 0]
        lines.append(f'  random initialization      {scores(floor[0]["top1"])}' if floor else
                     '  random initialization      (not measured in this work directory)')
        if self.pixel_top1 is not None:
            lines.append(f'  raw pixels                 {self.pixel_top1:6.2f} %')
        share = 100 * self.seconds / train_seconds if train_seconds > 0 else float('nan')
        lines.append(f'kNN monitor time: {self.seconds:.1f} s = {share:.1f} % of the '
                     f'{train_seconds:.1f} s of training')
        checkpoint = runner.message_hub.get_info('last_ckpt')
        if checkpoint:
            lines.append(f'Checkpoint: {checkpoint}')
        if self.curve and self.history:
            lines.append(f'kNN curve:  {osp.join(runner.work_dir, self.curve)}')
        return '\n'.join(lines)

    def after_train(self, runner) -> None:
        train_seconds = (time.perf_counter() - self._train_start
                         - (self.seconds - self._seconds_at_start))
        if not dist.is_main_process():
            return
        if self.curve and self.history:
            start = time.perf_counter()
            from ..visualization.knn_curve import draw_knn_curve
            draw_knn_curve(self.history, osp.join(runner.work_dir, self.curve),
                           pixels=self.pixel_top1,
                           title=f'kNN top-1 of the {self.encoder} (k={self.k})')
            self.seconds += time.perf_counter() - start
        if self.history_file and self.history:
            with open(osp.join(runner.work_dir, self.history_file), 'w') as f:
                json.dump(dict(evaluations=self.history, pixels=self.pixel_top1,
                               bank=len(self._bank_labels), queries=len(self._query_labels),
                               k=self.k, encoder=self.encoder), f, indent=1)
        print_log(self.summary(runner, train_seconds), logger='current', level=logging.INFO)
