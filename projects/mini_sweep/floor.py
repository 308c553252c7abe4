"""The floor row: a pretraining config's encoder at its initialization, written as a backbone.

The sweep's one in-process step (the other stages are tools run as subprocesses): there is no
tool that writes an initialized encoder, so :data:`COMMAND` is the equivalent shell line the
report lists.
"""
from pathlib import Path

from sdae_plugin.package_configs import package_config

from .stages import config_file, relative

COMMAND = ('python -c "from mmengine.config import Config; '
           'from sdae_plugin.checkpoints import random_encoder, save_backbone; '
           "save_backbone(random_encoder(Config.fromfile('{config}').model, {seed}), "
           "'{out}')\"")


def random_backbone_command(config: str, seed: int, out: Path) -> str:
    """The shell line equivalent to :func:`write_random_backbone` (run from the repository)."""
    return COMMAND.format(config=config_file(config), seed=seed, out=relative(out))


def write_random_backbone(config: str, seed: int, out: Path) -> None:
    """Write the student encoder of ``config`` (relative to ``configs/``) after
    ``torch.manual_seed(seed)`` and its own ``init_cfg``, as ``tools/extract_backbone.py``
    writes a trained one."""
    from mmengine.config import Config
    from sdae_plugin.checkpoints import random_encoder, save_backbone
    out.parent.mkdir(parents=True, exist_ok=True)
    save_backbone(random_encoder(Config.fromfile(package_config(config)).model, seed), str(out))
