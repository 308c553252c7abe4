"""Pretraining needs no compiled mmcv op. The `pretrain` install profile (mmcv-lite: mmcv
without its compiled `mmcv._ext`; no MMDetection, no MMSegmentation) is simulated in a
subprocess where those modules are not found, and every lookup of `mmcv.ops`, `mmcv._ext`,
`mmdet` or `mmseg` from outside them is logged with the file that made it. The demo trains
through tools/train.py there, every module of the package and every tool imports there, and
only the lookups that the libraries also make (and handle) under mmcv-lite are allowed."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / 'configs/sdae_vit-tiny_fashion-mnist_demo.py'

# Installed first thing in the subprocess (sitecustomize on PYTHONPATH).
BLOCKER = '''
import importlib
import os
import pkgutil
import sys

HIDDEN = ('mmcv._ext', 'mmdet', 'mmseg')  # not there in the pretrain profile
WATCHED = {'mmcv.ops': 'mmcv/ops/', 'mmcv._ext': 'mmcv/utils/ext_loader.py',
           'mmdet': 'mmdet/', 'mmseg': 'mmseg/'}  # name: its own files (not logged)
MACHINERY = (os.path.dirname(importlib.__file__), pkgutil.__file__, __file__)


def under(name, prefixes):
    return next((p for p in prefixes if name == p or name.startswith(p + '.')), None)


def importer():
    """The file that asked (first frame outside the import machinery and this file)."""
    frame = sys._getframe(1)
    while frame.f_code.co_filename.startswith('<frozen') or \\
            frame.f_code.co_filename.startswith(MACHINERY):
        frame = frame.f_back
    return frame.f_code.co_filename


class Watch:
    def find_spec(self, name, path=None, target=None):
        watched = under(name, WATCHED)
        if watched and WATCHED[watched] not in importer():
            with open(os.environ['BLOCKED_IMPORTS_LOG'], 'a') as log:
                log.write(f'{watched}\\t{importer()}\\n')
        return None


class PretrainProfile:
    """A meta-path finder that does not find the hidden modules (as if not installed)."""

    def __init__(self, finder):
        self.finder = finder

    def find_spec(self, name, path=None, target=None):
        return None if under(name, HIDDEN) else self.finder.find_spec(name, path, target)

    def __getattr__(self, attr):
        return getattr(self.finder, attr)


sys.meta_path[:] = [Watch()] + [PretrainProfile(finder) for finder in sys.meta_path]
'''

# Lookups that the libraries make, and handle, under mmcv-lite as well: mmcv's transformer
# bricks try MultiScaleDeformableAttention, MMEngine's mmcv_full_available() asks for
# mmcv._ext (and answers no), MMPretrain tries an optional MMDetection layer.
ALLOWED = {
    ('mmcv.ops', 'mmcv/cnn/bricks/transformer.py'),
    ('mmcv._ext', 'mmengine/utils/dl_utils/misc.py'),
    ('mmdet', 'mmpretrain/models/utils/res_layer_extra_norm.py'),
}

# Imports every module of the package, then runs every tool's --help as `python TOOL --help`.
IMPORT_ALL = '''
import importlib, pkgutil, runpy, sys
import sdae_plugin
for module in pkgutil.walk_packages(sdae_plugin.__path__, 'sdae_plugin.'):
    importlib.import_module(module.name)
for tool in sys.argv[1:]:
    sys.argv = [tool, '--help']
    try:
        runpy.run_path(tool, run_name='__main__')
    except SystemExit as done:
        assert done.code in (0, None), (tool, done.code)
'''


def run_blocked(tmp_path: Path, *args: str) -> tuple:
    """Run ``python ARGS`` with the blocker; returns (result, [(module, importing file)])."""
    (tmp_path / 'blocker').mkdir(exist_ok=True)
    (tmp_path / 'blocker' / 'sitecustomize.py').write_text(BLOCKER)
    log = tmp_path / 'blocked_imports.tsv'
    log.unlink(missing_ok=True)
    path = os.pathsep.join(filter(None, [str(tmp_path / 'blocker'), os.environ.get('PYTHONPATH')]))
    env = dict(os.environ, PYTHONPATH=path, BLOCKED_IMPORTS_LOG=str(log))
    result = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=900)
    lines = log.read_text().splitlines() if log.exists() else []
    return result, [tuple(line.split('\t')) for line in lines]


def disallowed(attempts: list) -> list:
    return sorted({(name, where) for name, where in attempts
                   if not any(name == n and where.endswith(w) for n, w in ALLOWED)})


def test_blocker_stops_and_logs_compiled_ops(tmp_path):
    result, attempts = run_blocked(tmp_path, '-c', 'import mmcv.ops')
    assert result.returncode != 0 and "No module named 'mmcv._ext'" in result.stderr
    assert disallowed(attempts) == [('mmcv.ops', '<string>')]


@pytest.mark.slow
def test_demo_pretrains_without_compiled_ops(tmp_path, demo_data):
    options = demo_data(tmp_path / 'fashion_mnist')
    work_dir = tmp_path / 'work'
    result, attempts = run_blocked(
        tmp_path, str(ROOT / 'tools/train.py'), str(DEMO), '--work-dir', str(work_dir),
        '--cfg-options', *options, 'train_dataloader.batch_size=16',
        'train_dataloader.num_workers=0', 'train_cfg.max_epochs=1')
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (work_dir / 'epoch_1.pth').is_file()
    assert disallowed(attempts) == []


@pytest.mark.slow
def test_package_and_tools_import_without_compiled_ops(tmp_path):
    tools = sorted(str(p) for p in (ROOT / 'tools').glob('*.py'))
    result, attempts = run_blocked(tmp_path, '-c', IMPORT_ALL, *tools)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert disallowed(attempts) == []
