"""The sweep's resumable results: ``WORK_DIR/results.json`` and the metrics read from run dirs.

``results.json`` maps a stage key (``'pretrain/sdae/s0'``, ``'knn/pixels'``, ``'extract/mae/s1'``,
``'linear/sdae/s0'``, ``'ft/random/s0'``) to what the stage produced (its wall time ``wall_s`` and
``epochs``/``checkpoint``, ``backbone``, kNN ``rows`` or ``top1``), plus ``'_settings'``: the
options it was made with. It is rewritten atomically after every stage, so an interrupted sweep
continues where it stopped; results of other settings are refused.
"""
import json
import threading
from pathlib import Path
from typing import Dict, Optional

from sdae_plugin.visualization.logs import read_scalars

from .settings import SweepInputError


class SettingsMismatch(SweepInputError):
    """A work dir holds results of other sweep settings."""


class ResultStore:
    """Stage results of one work dir, saved as soon as each is recorded.

    Args:
        path: the ``results.json`` file.
        settings: the options of this sweep (:meth:`SweepSettings.resume_key`).
        load: read an existing file (False: start empty, e.g. for a dry run).
    """

    def __init__(self, path: Path, settings: dict, load: bool = True) -> None:
        self.path = Path(path)
        self.data: Dict[str, dict] = {}
        if load and self.path.exists():
            self.data = json.loads(self.path.read_text())
            if self.data.get('_settings', settings) != settings:
                raise SettingsMismatch(
                    f'{self.path} holds results of other settings ({self.data["_settings"]}); '
                    'use another --work-dir or delete it.')
        self.data['_settings'] = settings
        self._lock = threading.Lock()  # stages of a sweep with jobs > 1 finish concurrently

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str) -> Optional[dict]:
        return self.data.get(key)

    def put(self, key: str, value: dict) -> None:
        """Record a finished stage and rewrite the file (temp file + rename)."""
        with self._lock:
            self.data[key] = value
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix('.tmp')
            tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True))
            tmp.replace(self.path)


def stage_seconds(results: Dict[str, dict]) -> Dict[str, float]:
    """Wall time per kind of stage (``pretrain``, ``knn``, ...), in order of first appearance."""
    spent: Dict[str, float] = {}
    for key, value in results.items():
        if isinstance(value, dict) and value.get('wall_s') is not None:
            stage = key.split('/')[0]
            spent[stage] = spent.get(stage, 0.0) + value['wall_s']
    return spent


def last_metric(run_dir: Path, key: str) -> float:
    """The last logged value of ``key`` in an MMEngine work dir's json logs, to 2 decimals."""
    values = [float(row[key]) for row in read_scalars(str(run_dir)) if key in row]
    if not values:
        raise RuntimeError(f'no {key!r} in {run_dir}/*/vis_data/scalars.json')
    return round(values[-1], 2)
