"""Scalars from MMEngine's json logs (``<work_dir>/<timestamp>/vis_data/scalars.json``).

MMEngine's ``LocalVisBackend`` writes one json object per logged iteration (training: the logged
scalars plus ``epoch``, ``iter`` (the global iteration, from 1) and ``step``; validation and
other per-evaluation scalars: the metrics plus ``step``, the iteration). Each
``--resume`` starts a new ``<timestamp>`` folder in the same work directory.
"""
import json
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np


def find_scalar_logs(path: str) -> List[Path]:
    """The json logs of a work directory (one per run, oldest first), or ``[path]`` for a file."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f'{path}: no such log file or work directory')
    logs = sorted(path.glob('*/vis_data/scalars.json')) or sorted(path.glob('vis_data/scalars.json'))
    if not logs:
        raise FileNotFoundError(f'{path} holds no */vis_data/scalars.json (is it an MMEngine '
                                'work directory with LocalVisBackend on?)')
    return logs


def read_scalars(path: str) -> List[Dict]:
    """Every json row of a log file, or of all runs of a work directory.

    Rows of a work directory's runs are concatenated oldest first; where a resumed run logs a
    training step again, its row replaces the earlier one. Malformed lines (a run killed while
    writing) are skipped.
    """
    rows: List[Dict] = []
    for log in find_scalar_logs(path):
        for line in log.read_text().splitlines():
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict):
                rows.append(row)
    # A resumed run repeats the steps after its checkpoint: keep the latest row per training step.
    train = {row['iter']: row for row in rows if 'iter' in row}
    return [train[i] for i in sorted(train)] + [row for row in rows if 'iter' not in row]


def series(rows: Sequence[Dict], key: str) -> Tuple[np.ndarray, np.ndarray]:
    """``(iterations, values)`` of one scalar over the rows that have it, by iteration.

    Training rows are placed at their ``iter``; rows logged once per evaluation (MMEngine's
    validation metrics, ``KNNMonitorHook``'s ``knn/top1_*``) at their ``step``, the iteration
    they were measured at. Where a later run logged the same iteration again, its value wins.
    """
    points = {}
    for row in rows:
        step = row.get('iter', row.get('step'))
        if key in row and step is not None and isinstance(row[key], (int, float)):
            points[step] = float(row[key])
    if not points:
        return np.zeros(0), np.zeros(0)
    steps = sorted(points)
    return np.asarray(steps), np.asarray([points[step] for step in steps])
