"""Which patch goes where in one SdAE step, for drawing (the paper's Fig. 3d).

Everything comes from :class:`~sdae_plugin.models.utils.MultiFoldMaskGenerator` itself, built by
:class:`~sdae_plugin.models.SdAE`'s own constructor from a config (:func:`build_sdae_skeleton`):
there is no second mask implementation here, only a reading of its :class:`MaskPlan`.
"""
import copy

import torch
from torch import nn

import sdae_plugin.models  # noqa: F401  (registers MultiFoldMaskGenerator)
from sdae_plugin.models.utils import MaskPlan, MultiFoldMaskGenerator

VISIBLE = -1  # label of a patch the student sees
NO_TARGET = -2  # a masked patch that gets no teacher target (drop_remainder / teacher_crop)


def build_sdae_skeleton(cfg) -> nn.Module:
    """The config's SdAE model, built by the same constructor as for training, on the meta device.

    ``model.mask_generator`` is then the generator training uses (``SdAE`` fills its
    ``num_patches`` from the backbone and checks the config), and ``model.backbone`` gives the
    patch grid; the meta device allocates no weights, so a ViT-L config costs nothing here.

    Args:
        cfg (Config): a whole config; its ``model`` must be an ``SdAE``.

    Raises:
        ValueError: for a model without a mask generator (e.g. MAE).
    """
    from mmengine.registry import MODELS, DefaultScope
    model_cfg = copy.deepcopy(cfg.model)
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmpretrain')), \
            torch.device('meta'):
        model = MODELS.build(model_cfg)
    if not isinstance(getattr(model, 'mask_generator', None), MultiFoldMaskGenerator):
        raise ValueError(f'model.type={model_cfg.get("type")!r} has no MultiFoldMaskGenerator: '
                         'give an SdAE pretraining config')
    return model


def draw_plan(generator: MultiFoldMaskGenerator, seed: int, batch_size: int = 1) -> MaskPlan:
    """One plan drawn with torch's generator seeded by ``seed``; the global RNG state is kept."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return generator(batch_size, torch.device('cpu'))


def patch_labels(plan: MaskPlan, sample: int = 0) -> torch.Tensor:
    """``(N,)`` role of every patch of one sample, in row-major grid order.

    :data:`VISIBLE` (-1) for the student's visible patches, ``v`` for a masked patch whose teacher
    target comes from view (fold) ``v``, :data:`NO_TARGET` (-2) for a masked patch without a target.
    """
    num_patches = plan.ids_restore.shape[1]
    labels = torch.full((num_patches, ), NO_TARGET, dtype=torch.long)
    labels[plan.ids_keep[sample]] = VISIBLE
    for view, ids in enumerate(plan.target_ids[sample]):
        labels[ids] = view
    return labels
