"""Every config in configs/ loads, carries custom_imports and builds its model."""
from pathlib import Path

import pytest
from mmengine.config import Config

from mmpretrain.registry import MODELS

ROOT = Path(__file__).resolve().parents[1]
DOWNSTREAM_SCOPES = {'coco_maskrcnn_sdae.py': 'mmdet', 'ade20k_upernet_sdae.py': 'mmseg'}
CONFIGS = sorted(p for p in (ROOT / 'configs').rglob('*.py') if '_base_' not in p.parts)


def test_there_are_configs():
    names = {p.relative_to(ROOT / 'configs').as_posix() for p in CONFIGS}
    assert {'sdae_vit-b_300e.py', 'sdae_vit-b_100e.py', 'sdae_vit-b_800e.py',
            'sdae_vit-l_300e.py', 'sdae_vit-tiny_fashion-mnist_demo.py'} <= names
    assert len([n for n in names if n.startswith('ablations/')]) >= 8


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: p.relative_to(ROOT / 'configs').as_posix())
def test_config_loads_and_builds(path):
    cfg = Config.fromfile(str(path))
    assert cfg.custom_imports == dict(imports=['sdae_plugin'], allow_failed_imports=False)
    assert cfg.default_scope == DOWNSTREAM_SCOPES.get(path.name, 'mmpretrain')
    if 'model' in cfg and cfg.model.type == 'SdAE':
        assert any(h.type == 'TeacherEMAHook' for h in cfg.custom_hooks)
        assert cfg.optim_wrapper.constructor == 'SdAEOptimWrapperConstructor'
        assert cfg.default_hooks.weights_only_checkpoint.type == 'WeightsOnlyCheckpointHook'
        model = MODELS.build(cfg.model)
        assert model.teacher.state_dict().keys() == model.backbone.state_dict().keys()


def test_every_adamw_config_asks_for_the_fused_step():
    """Issue 15: torch's one-kernel AdamW wherever it runs (CUDA; CPU with torch >= 2.4)."""
    adamw = []
    for path in CONFIGS:
        optimizer = Config.fromfile(str(path)).get('optim_wrapper', {}).get('optimizer', {})
        if optimizer.get('type') == 'AdamW':
            adamw.append(path.name)
            assert optimizer.get('fused') is True, path
    assert {'sdae_vit-b_300e.py', 'sdae_vit-tiny_fashion-mnist_demo.py',
            'coco_maskrcnn_sdae.py'} <= set(adamw)


def test_vit_b_300e_follows_the_paper():
    cfg = Config.fromfile(str(ROOT / 'configs/sdae_vit-b_300e.py'))
    assert cfg.train_dataloader.batch_size * 8 == cfg.auto_scale_lr.base_batch_size == 768
    assert cfg.optim_wrapper.optimizer.lr == 8e-4
    assert cfg.optim_wrapper.optimizer.betas == (0.9, 0.95)
    assert cfg.optim_wrapper.optimizer.weight_decay == 0.05
    assert cfg.model.backbone.drop_path_rate == 0.25
    assert cfg.model.mask_generator.mask_ratio == 0.75 and cfg.model.mask_generator.num_folds == 3
    assert cfg.model.teacher_init == 'random'
    assert cfg.train_cfg.max_epochs == 300
    assert cfg.param_scheduler[0].end == 60
    ema, = [h for h in cfg.custom_hooks if h.type == 'TeacherEMAHook']
    assert (ema.base_momentum, ema.final_momentum, ema.interval) == (0.96, 0.99, 'epoch')
    assert cfg.default_hooks.checkpoint.interval == 10
    assert cfg.default_hooks.checkpoint.max_keep_ckpts == 3


def test_vit_b_model_shapes():
    cfg = Config.fromfile(str(ROOT / 'configs/sdae_vit-b_300e.py'))
    model = MODELS.build(cfg.model)
    gen = model.mask_generator
    assert (gen.num_visible, gen.num_views, gen.view_len) == (49, 3, 49)
    assert model.neck.decoder_pred.out_features == 768
    assert len(model.neck.decoder_blocks) == 8


def test_demo_monitor_uses_held_out_images():
    """The kNN bank is the last training images, outside the pretraining subset (the first
    train_subset); the queries come from the test split; the monitor's dataloader index in
    custom_hooks is the one tests/conftest.py's demo_data points at tiny data."""
    cfg = Config.fromfile(str(ROOT / 'configs/sdae_vit-tiny_fashion-mnist_demo.py'))
    assert cfg.custom_hooks[2].type == 'KNNMonitorHook'
    bank = cfg.custom_hooks[2].bank_dataloader.dataset
    queries = cfg.custom_hooks[2].query_dataloader.dataset
    pretrain = cfg.train_dataloader.dataset
    assert bank.split == pretrain.split == 'train' and queries.split == 'test'
    assert bank.indices < 0 and pretrain.indices - bank.indices <= 60000  # the last -indices
