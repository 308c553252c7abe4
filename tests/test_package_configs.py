"""``_base_ = 'sdae_plugin::NAME'``: a config shipped in the package, inherited by name."""
from pathlib import Path

import pytest
from mmengine.config import Config

from sdae_plugin import package_configs

ROOT = Path(__file__).resolve().parents[1]


def inherit(folder: Path, base: str) -> Config:
    """A user config in ``folder`` whose only line is ``_base_ = base``, loaded."""
    path = folder / 'user_config.py'
    path.write_text(f'_base_ = {base!r}\n')
    return Config.fromfile(str(path))


@pytest.mark.parametrize('name', [
    'sdae_vit-tiny_fashion-mnist_demo.py',
    'sdae_vit-b_300e.py',
    'mini/sdae_vit-mini_fashion-mnist.py',
    'coco_maskrcnn_sdae.py',
    'ade20k_upernet_sdae.py',
])
def test_inherits_what_the_file_path_inherits(tmp_path, name):
    # The reference is MMEngine's plain path inheritance of the repository file: same values,
    # same scopes (no `_scope_='sdae_plugin'` added to the inherited dicts).
    by_name = inherit(tmp_path, f'sdae_plugin::{name}').to_dict()
    by_path = inherit(tmp_path, str(ROOT / 'configs' / name)).to_dict()
    assert by_name == by_path


def test_resolves_under_the_package_mim_configs():
    path = Path(package_configs.package_config('sdae_vit-b_300e.py'))
    assert path.parent == package_configs.CONFIG_ROOT
    assert path.read_bytes() == (ROOT / 'configs/sdae_vit-b_300e.py').read_bytes()


def test_inherited_collate_fn_stays_buildable(tmp_path):
    # MMEngine's package lookup would add `_scope_` to every dict with a type, and the Runner
    # passes a collate_fn dict's keys to the function: default_collate(_scope_=...) fails.
    cfg = inherit(tmp_path, 'sdae_plugin::sdae_vit-tiny_fashion-mnist_demo.py')
    assert dict(cfg.train_dataloader.collate_fn) == {'type': 'default_collate'}
    assert cfg.default_scope == 'mmpretrain'


def test_other_packages_are_left_to_mmengine(tmp_path):
    cfg = inherit(tmp_path, 'mmpretrain::_base_/default_runtime.py')
    assert cfg.default_hooks.checkpoint._scope_ == 'mmpretrain'


def test_unknown_name_says_what_names_are(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"sdae_plugin::sdae_vit-b_300.py.*configs/"):
        inherit(tmp_path, 'sdae_plugin::sdae_vit-b_300.py')
