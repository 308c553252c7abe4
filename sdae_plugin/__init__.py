"""sdae-plugin: SdAE (Self-distillated Masked Autoencoder) for MMPretrain.

Importing the package registers every module in MMPretrain's registries (``MODELS``, ``HOOKS``,
``DATASETS``, ``OPTIM_WRAPPERS``, ``OPTIM_WRAPPER_CONSTRUCTORS``) and, in MMEngine's ``FUNCTIONS``,
``epoch_seeded_worker_init_fn`` and ``collate_image_batch``.
Configs import it with ``custom_imports = dict(imports=['sdae_plugin'], allow_failed_imports=False)``.
Importing it also lets configs inherit the shipped ones as ``_base_ = 'sdae_plugin::NAME'``
(``package_configs``).

Subpackages: ``models`` (the algorithm, its ViT, decoder, loss head, masking, data preprocessor),
``hooks`` (SdAE's own: teacher EMA, collapse watch, kNN monitor), ``runtime`` (what makes runs
safe and fast: checkpoints, exact resume, NaN guard, CPU autocast, ``tools/train.py``'s switches),
``engine`` (optimizer constructors), ``datasets``, ``checkpoints`` (reading and writing weights,
foreign formats), ``evaluation`` (kNN), ``visualization`` (pictures and plots).
"""
from .version import __version__
from . import datasets, engine, hooks, models, runtime  # noqa: F401  (registration)
from . import package_configs  # noqa: F401  (sdae_plugin:: in _base_)

__all__ = ['__version__']
