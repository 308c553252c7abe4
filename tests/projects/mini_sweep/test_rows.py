"""projects.mini_sweep.rows and configs/mini: every row has its config, the configs compare
like with like, and each ablation changes exactly the one thing it is named for."""
from pathlib import Path

import pytest
from mmengine.config import Config

from sdae_plugin.package_configs import package_config

from projects.mini_sweep import CLAIMS, MAIN_ROWS, ROWS, config_changes, resolve_config
from projects.mini_sweep.rows import FT_CONFIG, KNN_CONFIG, LINEAR_CONFIG, MAIN_ROW

ROOT = Path(__file__).resolve().parents[3]
MINI = ROOT / 'configs/mini'


def cfg(name):
    return Config.fromfile(str(MINI / name)).to_dict()


def test_every_row_claim_and_eval_config_exists():
    for name, row in ROWS.items():
        assert row.name == name and row.label
        assert Path(package_config(row.config)).is_file(), name
        assert row.baseline is None or row.baseline in ROWS, name
    assert not ROWS['random'].pretrained and ROWS['random'].config == ROWS[MAIN_ROW].config
    assert set(MAIN_ROWS) <= set(ROWS)
    for claim in CLAIMS:
        assert {claim.better, claim.worse} <= set(ROWS), claim
    for path in (KNN_CONFIG, LINEAR_CONFIG, FT_CONFIG):
        assert Path(package_config(path)).is_file()


def test_sdae_and_mae_share_vit_data_schedule_and_optimizer():
    sdae, mae = cfg('sdae_vit-mini_fashion-mnist.py'), cfg('mae_vit-mini_fashion-mnist.py')
    for key in ('train_dataloader', 'optim_wrapper', 'param_scheduler', 'train_cfg',
                'data_preprocessor', 'randomness', 'default_hooks'):
        assert sdae[key] == mae[key], key
    for key in ('arch', 'img_size', 'patch_size', 'patch_cfg'):
        assert sdae['model']['backbone'][key] == mae['model']['backbone'][key], key
    assert mae['model']['type'] == 'MAE' and mae['model']['head']['norm_pix'] is True
    assert sdae['model']['backbone']['arch']['num_layers'] == 6
    # the same decoder size
    for key in ('decoder_embed_dim', 'decoder_depth', 'decoder_num_heads'):
        assert sdae['model']['neck'][key] == mae['model']['neck'][key], key


EMA = 'custom_hooks.1.'


@pytest.mark.parametrize('row,changed', [
    ('teacher-full-image', {'model.mask_generator.mode': 'full_image'}),
    ('teacher-only-masked', {'model.mask_generator.mode': 'only_masked'}),
    ('teacher-crop', {'model.mask_generator.mode': 'teacher_crop',
                      'model.mask_generator.crop_ratio': 1 / 3}),
    ('no-target-norm', {'model.head.normalize_target': False}),
    ('teacher-init-student', {'model.teacher_init': 'student'}),
    ('loss-features', {'model.head.loss_axis': 'features'}),
    ('decoder-8', {'model.neck.decoder_depth': 8}),
    ('mae-decoder-8', {'model.neck.decoder_depth': 8}),
    ('ema-paper-count', {EMA + 'interval': 'iter'}),  # 0.96 -> 0.99 as the main row
    ('ema-per-iter', {EMA + 'interval': 'iter', EMA + 'base_momentum': 0.999,
                      EMA + 'final_momentum': 0.9999}),
])
def test_each_ablation_changes_one_thing_of_its_baseline(row, changed):
    base = resolve_config(ROWS[ROWS[row].baseline].config).to_dict()
    other = resolve_config(ROWS[row].config).to_dict()
    diff = config_changes(base, other)
    assert {k: new for k, (_, new) in diff.items()} == changed


def test_eval_configs_load_backbones_and_follow_the_protocols():
    linear = cfg('eval/linear_vit-mini_fashion-mnist.py')
    backbone = linear['model']['backbone']
    assert backbone['frozen_stages'] == 6 and backbone['out_type'] == 'cls_token'
    assert linear['model']['neck']['type'] == 'ClsBatchNormNeck'
    assert linear['model']['head']['type'] == 'LinearClsHead'
    assert backbone['init_cfg']['prefix'] == 'backbone.'
    ft = cfg('eval/ft_vit-mini_fashion-mnist.py')
    assert ft['optim_wrapper']['constructor'] == 'ViTLayerDecayOptimWrapperConstructor'
    assert ft['model']['backbone']['out_type'] == 'avg_featmap'
    for c in (linear, ft):  # the test split is used once, at the end, never to choose anything
        assert c['train_cfg']['val_interval'] > 100
        assert c['val_dataloader']['dataset']['test_mode'] is True
        assert c['train_dataloader']['dataset']['split'] == 'train'
