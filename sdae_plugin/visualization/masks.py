"""Which patch goes where in one SdAE step, for drawing (the paper's Fig. 3d).

Everything comes from :class:`~sdae_plugin.models.utils.MultiFoldMaskGenerator` itself, built from
a config's ``model.mask_generator`` exactly as :class:`~sdae_plugin.models.SdAE` builds it: there
is no second mask implementation here, only a reading of its :class:`MaskPlan`.
"""
import torch
from mmpretrain.registry import MODELS

import sdae_plugin.models  # noqa: F401  (registers MultiFoldMaskGenerator)
from sdae_plugin.models.utils import MaskPlan, MultiFoldMaskGenerator

VISIBLE = -1  # label of a patch the student sees
NO_TARGET = -2  # a masked patch that gets no teacher target (drop_remainder / teacher_crop)


def build_mask_generator(model_cfg: dict, num_patches: int) -> MultiFoldMaskGenerator:
    """The mask generator of an SdAE model config, with ``num_patches`` from its backbone.

    Args:
        model_cfg (dict): the config's ``model`` (``SdAE``); its ``mask_generator`` entry is used
            (SdAE's default ``dict(type='MultiFoldMaskGenerator')`` when absent).
        num_patches (int): the backbone's ``num_patches``.
    """
    cfg = dict(model_cfg.get('mask_generator') or dict(type='MultiFoldMaskGenerator'))
    if cfg.setdefault('num_patches', num_patches) != num_patches:
        raise ValueError(f'mask_generator.num_patches={cfg["num_patches"]} but the backbone has '
                         f'{num_patches} patches')
    return MODELS.build(cfg)


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
