"""Weighted kNN top-1 of encoders on a data config: the whole of ``tools/knn_eval.py``.

The data config's ``train_dataloader`` is the memory bank, its ``test_dataloader`` the queries,
its ``data_preprocessor`` normalizes the images; ``knn = dict(k=..., temperature=...)`` in it sets
the protocol (default DINO's k=20, T=0.07). Images are decoded and normalized once and reused for
every source. A source is an encoder (read lazily, one at a time: :func:`knn_sources`) or the
normalized pixels themselves (the no-network reference).
"""
import time
from typing import Callable, List, NamedTuple, Optional, Sequence, Tuple

from ..checkpoints import EncoderWeights, build_vit, random_encoder, read_encoder
from ..runtime.precision import autocast_dtype
from .features import PRECISIONS, Batches, extract_features, load_labelled, pixel_features
from .knn import knn_top1


class KnnSource(NamedTuple):
    """One row of results: a name, the branch it reports, and how to get its encoder."""
    name: str
    branch: str
    encoder: Optional[Callable[[], EncoderWeights]]  # None: the normalized pixels (no network)


def knn_sources(checkpoints: Sequence[str] = (), random_init: Optional[str] = None,
                seed: int = 0, pixels: bool = False, teacher: bool = False,
                num_heads: Optional[int] = None, unsafe: bool = False) -> List[KnnSource]:
    """The sources of ``tools/knn_eval.py``, in its order: pixels, random init, checkpoints.

    Args:
        checkpoints (list[str]): any files :func:`~sdae_plugin.checkpoints.read_encoder` reads.
        random_init (str, optional): a pretraining config whose encoder at initialization
            (seed ``seed``) is evaluated too (the floor).
        seed (int): seed of ``random_init``. Defaults to 0.
        pixels (bool): also evaluate the normalized pixels.
        teacher (bool): the EMA teacher of each checkpoint instead of the student.
        num_heads (int, optional): the explicit head count of the checkpoints.
        unsafe (bool): ``torch.load(weights_only=False)``.
    """
    branch = 'teacher' if teacher else 'student'
    sources = []
    if pixels:
        sources.append(KnnSource('pixels', branch, None))
    if random_init:
        from mmengine.config import Config
        model_cfg = Config.fromfile(random_init).model
        sources.append(KnnSource(f'random-init:{random_init}', branch,
                                 lambda: random_encoder(model_cfg, seed=seed)))
    for path in checkpoints:
        sources.append(KnnSource(path, branch, lambda p=path: read_encoder(
            p, teacher=teacher, num_heads=num_heads, unsafe=unsafe)))
    return sources


def labelled_splits(data_cfg) -> Tuple[Batches, Batches]:
    """``(train_batches, test_batches)`` of a data config, decoded and normalized once.

    Images are ``(B, C, H, W)`` as the config's data preprocessor outputs them, labels ``(B,)``.
    """
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    from mmpretrain.registry import MODELS
    init_default_scope(data_cfg.get('default_scope', 'mmpretrain'))
    preprocessor = MODELS.build(data_cfg.data_preprocessor)
    return tuple(load_labelled(Runner.build_dataloader(data_cfg[split], seed=0), preprocessor,
                               split) for split in ('train_dataloader', 'test_dataloader'))


def format_row(row: dict) -> str:
    """One line of a result row, as ``tools/knn_eval.py`` prints it."""
    scores = '  '.join(f'{key[len("top1_"):]} {value:.2f}' for key, value in row.items()
                       if key.startswith('top1_'))
    return (f'kNN top-1 (k={row["k"]}, T={row["temperature"]}, {row["num_train"]} train -> '
            f'{row["num_test"]} test): {scores}  [{row["checkpoint"]}]')


def evaluate_knn(data_cfg, sources: Sequence[KnnSource], k: Optional[int] = None,
                 temperature: Optional[float] = None, amp: str = 'fp32',
                 on_row: Optional[Callable[[dict], None]] = None) -> List[dict]:
    """kNN top-1 of every source, one row each.

    Args:
        data_cfg (Config): the data config (see the module docstring).
        sources (list[KnnSource]): see :func:`knn_sources`.
        k (int, optional): neighbours; default the config's ``knn.k`` or 20.
        temperature (float, optional): vote temperature; default ``knn.temperature`` or 0.07.
        amp (str): ``'fp32'`` or ``'bf16'`` (CPU autocast) feature extraction.
        on_row (callable, optional): called with each row as soon as it is done.

    Returns:
        list[dict]: per source ``checkpoint`` (its name), ``k``, ``temperature``, ``amp``,
        ``branch``, ``num_train``, ``num_test``, ``top1_<kind>`` in percent (``cls`` and
        ``mean`` for encoders, ``pixels`` for the pixels) and ``seconds``.
    """
    knn_cfg = dict(data_cfg.get('knn', {}))
    k = k or knn_cfg.get('k', 20)
    temperature = temperature or knn_cfg.get('temperature', 0.07)
    dtype = autocast_dtype(amp, allowed=PRECISIONS, what='amp')
    train_batches, test_batches = labelled_splits(data_cfg)
    rows = []
    for source in sources:
        start = time.time()
        if source.encoder is None:
            train_feats, train_labels = pixel_features(train_batches)
            test_feats, test_labels = pixel_features(test_batches)
        else:
            encoder = build_vit(source.encoder())
            train_feats, train_labels = extract_features(encoder, train_batches, dtype)
            test_feats, test_labels = extract_features(encoder, test_batches, dtype)
            del encoder
        num_classes = int(max(train_labels.max(), test_labels.max())) + 1
        row = dict(checkpoint=source.name, k=k, temperature=temperature, amp=amp,
                   branch=source.branch, num_train=len(train_labels), num_test=len(test_labels))
        for kind in train_feats:
            row[f'top1_{kind}'] = round(knn_top1(train_feats[kind], train_labels,
                                                 test_feats[kind], test_labels,
                                                 num_classes=num_classes, k=k,
                                                 temperature=temperature), 2)
        row['seconds'] = round(time.time() - start, 1)
        if on_row is not None:
            on_row(row)
        rows.append(row)
    return rows
