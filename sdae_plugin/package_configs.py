"""``sdae_plugin::NAME`` in a config's ``_base_``: inherit a config shipped with the package.

MMEngine resolves ``package::path`` only for the OpenMMLab packages in its own table
(``mmengine.config.utils.MODULE2PACKAGE``) and only for paths with a folder
(``mmdet::faster_rcnn/x.py``). Importing ``sdae_plugin`` extends ``Config``'s lookup so that
``_base_ = 'sdae_plugin::sdae_vit-b_300e.py'`` (or ``'sdae_plugin::mini/...'``) reads
``configs/NAME`` as installed with the package under ``sdae_plugin/.mim/configs`` (a symbolic
link to ``configs/`` in a clone, a copy in wheels and sdists). Any other ``_base_`` is left to
MMEngine.

The inherited config keeps its own registry scope: the plugin's modules live in MMPretrain's
registries, and every shipped config names its scope through its MMPretrain, MMDetection or
MMSegmentation base (``default_scope``). So ``sdae_plugin::NAME`` builds exactly what inheriting
``/path/to/configs/NAME`` builds; no ``_scope_ = 'sdae_plugin'`` is attached to the inherited
dicts (MMEngine does that for ``mmdet::``-style bases; there is no ``sdae_plugin`` registry).

The entry point must import ``sdae_plugin`` before it reads the config: ``tools/train.py``,
``tools/test.py`` and ``mim train/test sdae_plugin`` do; MMPretrain's or MMDetection's own
``train.py`` do not (``custom_imports`` is applied only after the ``_base_`` files are read).
"""
from pathlib import Path
from typing import Optional, Tuple

from mmengine.config import Config

PREFIX = 'sdae_plugin::'
CONFIG_ROOT = Path(__file__).resolve().parent / '.mim' / 'configs'

_mmengine_cfg_path = Config._get_cfg_path


def package_config(name: str) -> str:
    """The file of ``sdae_plugin::name``: ``name`` relative to the package's ``.mim/configs``.

    Args:
        name (str): A config path relative to ``configs/``, e.g. ``'sdae_vit-b_300e.py'`` or
            ``'mini/sdae_vit-mini_fashion-mnist.py'``.

    Returns:
        str: The absolute path of the config file.

    Raises:
        FileNotFoundError: If the package has no such config.
    """
    path = CONFIG_ROOT / name
    if not path.is_file():
        raise FileNotFoundError(
            f"'{PREFIX}{name}': no config {name} in {CONFIG_ROOT}. Names are paths under the "
            f"repository's configs/, e.g. '{PREFIX}sdae_vit-b_300e.py' or "
            f"'{PREFIX}mini/sdae_vit-mini_fashion-mnist.py'; `mim search sdae_plugin` lists "
            'the models and their configs.')
    return str(path)


def _get_cfg_path(cfg_path: str, filename: str) -> Tuple[str, Optional[str]]:
    """``Config._get_cfg_path`` that also knows ``sdae_plugin::`` (scope: the config's own)."""
    if cfg_path.startswith(PREFIX):
        return package_config(cfg_path[len(PREFIX):]), None
    return _mmengine_cfg_path(cfg_path, filename)


Config._get_cfg_path = staticmethod(_get_cfg_path)
