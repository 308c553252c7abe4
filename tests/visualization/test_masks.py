"""Mask plans for drawing: the generator is SdAE's own, and the patch labels follow the plan."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from sdae_plugin.visualization import (NO_TARGET, VISIBLE, build_sdae_skeleton, draw_plan,
                                       patch_labels)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize('overrides', [
    dict(type='MultiFoldMaskGenerator', mask_ratio=0.75, num_folds=3),
    dict(type='MultiFoldMaskGenerator', mask_ratio=0.75, num_folds=5, drop_remainder=True),
    dict(type='MultiFoldMaskGenerator', mode='full_image'),
])
def test_patch_labels_follow_the_plan(make_sdae, overrides):
    generator = make_sdae(mask_generator=overrides).mask_generator  # 64 patches
    plan = draw_plan(generator, seed=3)
    labels = patch_labels(plan)
    assert set(labels[plan.ids_keep[0]].tolist()) == {VISIBLE}
    assert (labels == VISIBLE).sum() == generator.num_visible
    for v in range(generator.num_views):
        assert set(labels[plan.target_ids[0, v]].tolist()) == {v}
        assert (labels == v).sum() == generator.num_targets
    unused = generator.num_masked - generator.num_views * generator.num_targets
    assert (labels == NO_TARGET).sum() == unused  # 48 masked, 5 folds of 9: 3 without target
    torch.manual_seed(0)
    before = torch.rand(1)
    torch.manual_seed(0)
    again = draw_plan(generator, seed=3)  # reproducible, and the global RNG is left alone
    assert torch.equal(again.view_ids, plan.view_ids) and torch.equal(torch.rand(1), before)


def test_skeleton_draws_the_plans_of_the_training_model(make_sdae, sdae_cfg):
    """The generator of the meta-device skeleton is the one training builds: same draws."""
    cfg = Config(dict(model=sdae_cfg(mask_generator=dict(num_folds=4)), default_scope='mmpretrain'))
    skeleton = build_sdae_skeleton(cfg)
    trained = make_sdae(mask_generator=dict(num_folds=4)).mask_generator
    assert repr(skeleton.mask_generator) == repr(trained)
    ours, theirs = draw_plan(skeleton.mask_generator, 5), draw_plan(trained, 5)
    for name in ('ids_keep', 'ids_restore', 'view_ids'):
        assert torch.equal(getattr(ours, name), getattr(theirs, name)), name
    assert skeleton.backbone.pos_embed.is_meta  # no weights allocated


def test_skeleton_of_a_vit_b_config_and_bad_configs():
    cfg = Config.fromfile(str(ROOT / 'configs/sdae_vit-b_300e.py'))
    model = build_sdae_skeleton(cfg)  # ViT-B student, teacher and decoder: no memory
    assert model.mask_generator.num_patches == 196
    mae = Config.fromfile(str(ROOT / 'configs/mini/mae_vit-mini_fashion-mnist.py'))
    with pytest.raises(ValueError, match="model.type='MAE' has no MultiFoldMaskGenerator"):
        build_sdae_skeleton(mae)
    cfg.merge_from_dict({'model.mask_generator.num_patches': 100})
    with pytest.raises(ValueError, match='mask_generator.num_patches=100 but the backbone has '
                                         '196 patches'):
        build_sdae_skeleton(cfg)  # the model's own check runs
