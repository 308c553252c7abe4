"""The built wheel, installed (not editable) into a fresh virtual environment, used from a
directory outside the repository: the package carries its configs, tools and model index
(sdae_plugin/.mim), `_base_ = 'sdae_plugin::...'` inherits them, and `mim train / test / run /
search sdae_plugin` work. The environment sees this one's packages through a .pth file (no
network, no reinstall of torch); the checkout itself is not on its path."""
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parents[2]
# What a source tree needs to build the package (setup.py reads requirements/ and README.md).
SOURCES = ['setup.py', 'MANIFEST.in', 'README.md', 'model-index.yml', 'requirements',
           'sdae_plugin', 'configs', 'tools']
LINEAR = 'linear_vit-mini_fashion-mnist.py'


def clone_only_tools() -> list:
    """``CLONE_ONLY_TOOLS`` of setup.py: the tools/ files the wheel leaves out."""
    namespace = {}
    source = (ROOT / 'setup.py').read_text()
    start = source.index('CLONE_ONLY_TOOLS = ')
    exec(source[start:source.index(']', start) + 1], namespace)
    return namespace['CLONE_ONLY_TOOLS']

pytestmark = pytest.mark.slow


class Installed:
    """A virtual environment with the wheel installed; runs commands in ``cwd``."""

    def __init__(self, venv: Path, wheel: Path) -> None:
        self.python = venv / 'bin' / 'python'
        self.wheel = wheel
        purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
        self.site = Path(self.run(['-c', purelib], cwd=venv).strip())

    def run(self, args: list, cwd: Path) -> str:
        """``python ARGS`` in ``cwd`` without PYTHONPATH; its stdout and stderr."""
        env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
        result = subprocess.run([str(self.python), *args], cwd=cwd, env=env, capture_output=True,
                                text=True, timeout=900)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result.stdout + result.stderr

    def mim(self, *args: str, cwd: Path) -> str:
        return self.run(['-m', 'mim', *args], cwd=cwd)


@pytest.fixture(scope='module')
def installed(tmp_path_factory) -> Installed:
    tmp = tmp_path_factory.mktemp('wheel')
    source = tmp / 'source'
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, symlinks=True,
                            ignore=shutil.ignore_patterns('__pycache__'))
        else:
            shutil.copy2(ROOT / name, source / name)
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation',
                    '--no-index', '-q', '-w', str(tmp / 'dist'), str(source)],
                   check=True, capture_output=True, timeout=600)
    wheel, = (tmp / 'dist').glob('sdae_plugin-*.whl')

    venv = tmp / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(venv)], check=True)
    env = Installed(venv, wheel)
    (env.site / 'outer_environment.pth').write_text(sysconfig.get_paths()['purelib'] + '\n')
    env.run(['-m', 'pip', 'install', '--no-deps', '--no-index', '-q', str(wheel)], cwd=tmp)
    return env


def test_wheel_carries_configs_tools_and_model_index(installed):
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    expected = {f'configs/{p.relative_to(ROOT / "configs")}' for p in (ROOT / 'configs').rglob('*')
                if p.suffix in ('.py', '.yml')}
    expected |= {f'tools/{p.name}' for p in (ROOT / 'tools').iterdir()
                 if p.suffix in ('.py', '.sh') and p.name not in clone_only_tools()}
    expected.add('model-index.yml')
    mim = {name[len('sdae_plugin/.mim/'):] for name in names
           if name.startswith('sdae_plugin/.mim/')}
    assert mim == expected
    for name in expected:  # copies of the originals, not links
        installed_file = installed.site / 'sdae_plugin' / '.mim' / name
        assert not installed_file.is_symlink()
        assert installed_file.read_bytes() == (ROOT / name).read_bytes(), name


def test_every_shipped_module_and_tool_works_from_the_wheel(installed, tmp_path):
    """Every module of the package imports (nothing reaches for the clone), the wheel holds no
    lab code, and every shipped Python tool answers --help; the clone-only tools import the lab."""
    names = zipfile.ZipFile(installed.wheel).namelist()
    assert not [name for name in names if name.startswith('projects/')]
    out = installed.run(['-c', '\n'.join([
        'import importlib, pkgutil, sdae_plugin',
        "names = [m.name for m in pkgutil.walk_packages(sdae_plugin.__path__, 'sdae_plugin.')]",
        'for name in names: importlib.import_module(name)',
        "print('imported', len(names))",
    ])], cwd=tmp_path)
    assert int(out.split('imported ')[1].split()[0]) > 40
    tools = installed.site / 'sdae_plugin' / '.mim' / 'tools'
    for tool in sorted(tools.glob('*.py')):
        assert 'usage:' in installed.run([str(tool), '--help'], cwd=tmp_path), tool.name
    lab = [name for name in clone_only_tools() if name.endswith('.py')]
    assert lab and all('projects.' in (ROOT / 'tools' / name).read_text() for name in lab)


def test_package_comes_from_the_wheel(installed, tmp_path):
    out = installed.run(['-c', 'import sdae_plugin; from mim.utils import get_installed_path; '
                         "print('module', sdae_plugin.__file__); "
                         "print('root', get_installed_path('sdae_plugin'))"], cwd=tmp_path)
    found = dict(line.split(' ', 1) for line in out.splitlines()
                 if line.startswith(('module ', 'root ')))
    module, package_root = found['module'], found['root']
    assert Path(module) == installed.site / 'sdae_plugin' / '__init__.py'
    assert Path(package_root) == installed.site / 'sdae_plugin'


def test_inherit_demo_by_package_and_mim_train_then_mim_run(installed, tmp_path, demo_data):
    options = demo_data(tmp_path / 'fashion_mnist')
    (tmp_path / 'my_sdae.py').write_text(
        "_base_ = 'sdae_plugin::sdae_vit-tiny_fashion-mnist_demo.py'\n"
        'model = dict(mask_generator=dict(num_folds=2))\n')
    out = installed.mim('train', 'sdae_plugin', 'my_sdae.py', '--work-dir', 'work',
                        '--cfg-options', *options, 'train_dataloader.batch_size=16',
                        'train_dataloader.num_workers=0', 'train_cfg.max_epochs=1',
                        cwd=tmp_path)
    assert str(installed.site / 'sdae_plugin/.mim/tools/train.py') in out
    assert 'Epoch(train) [1][3/3]' in out
    dumped = (tmp_path / 'work/my_sdae.py').read_text()
    assert "type='SdAE'" in dumped and 'num_folds=2' in dumped

    # mim run: a tool from the package on the checkpoint just written
    out = installed.mim('run', 'sdae_plugin', 'extract_backbone', 'work/epoch_1.pth',
                        'backbone.pth', cwd=tmp_path)
    assert str(installed.site / 'sdae_plugin/.mim/tools/extract_backbone.py') in out
    checkpoint = torch.load(tmp_path / 'work/epoch_1.pth', weights_only=True)['state_dict']
    backbone = torch.load(tmp_path / 'backbone.pth', weights_only=True)['state_dict']
    key = 'backbone.patch_embed.projection.weight'
    assert torch.equal(backbone[key], checkpoint[key])


def test_mim_train_and_test_find_a_config_by_name(installed, tmp_path, fashion_idx):
    fashion_idx(tmp_path / 'fashion_mnist')
    data = [f'{split}_dataloader.dataset.data_root={tmp_path / "fashion_mnist"}'
            for split in ('train', 'val', 'test')]
    common = ['model.backbone.init_cfg=None', *data]
    out = installed.mim('train', 'sdae_plugin', LINEAR, '--work-dir', 'work', '--cfg-options',
                        *common, 'train_dataloader.batch_size=16', 'train_dataloader.num_workers=0',
                        'train_cfg.max_epochs=1', cwd=tmp_path)
    found = installed.site / 'sdae_plugin/.mim/configs/mini/eval' / LINEAR
    assert f'we find the config file in codebase sdae_plugin, will use {found}' in out
    validated = [line for line in out.splitlines() if 'Epoch(val)' in line][-1]

    installed.mim('test', 'sdae_plugin', LINEAR, '--checkpoint', 'work/epoch_1.pth',
                  '--cfg-options', *common, '--out', 'metrics.json', '--out-item', 'metrics',
                  cwd=tmp_path)
    # the test split is the validation split of this config: the same checkpoint scores the same
    top1 = json.loads((tmp_path / 'metrics.json').read_text())['accuracy/top1']
    assert f'accuracy/top1: {top1:.4f}' in validated


def test_inherit_coco_config_by_package_builds(installed, tmp_path):
    (tmp_path / 'my_coco.py').write_text("_base_ = 'sdae_plugin::coco_maskrcnn_sdae.py'\n"
                                         'model = dict(backbone=dict(drop_path_rate=0.1))\n')
    out = installed.run(['-c', '\n'.join([
        'import sdae_plugin',
        'from mmengine.config import Config',
        'from mmengine.registry import init_default_scope',
        "cfg = Config.fromfile('my_coco.py')",
        'init_default_scope(cfg.default_scope)',
        'from mmdet.registry import MODELS',
        'model = MODELS.build(cfg.model)',
        "print('built', cfg.default_scope, type(model).__name__, type(model.backbone).__name__,",
        "      *[type(neck).__name__ for neck in model.neck], cfg.model.backbone.drop_path_rate)",
    ])], cwd=tmp_path)
    built = [line for line in out.splitlines() if line.startswith('built ')]
    assert built == ['built mmdet MaskRCNN VisionTransformer ViTPyramidAdapter FPN 0.1']


def test_mim_search_lists_every_model(installed, tmp_path):
    out = installed.mim('search', 'sdae_plugin', cwd=tmp_path)
    index = yaml.safe_load((ROOT / 'model-index.yml').read_text())
    names = [model['Name'] for path in index['Import']
             for model in yaml.safe_load((ROOT / path).read_text())['Models']]
    listed = {line.split('config id:')[1].strip() for line in out.splitlines()
              if 'config id:' in line}
    assert listed == set(names)
