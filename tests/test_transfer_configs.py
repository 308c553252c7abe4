"""The downstream configs carry the paper's recipes (A.1) and the released/CAE details."""
from pathlib import Path

import pytest
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[1]
FT_B = 'configs/benchmarks/sdae_vit-b-p16_ft-8xb256-coslr-100e_in1k.py'
FT_L = 'configs/benchmarks/sdae_vit-l-p16_ft-8xb256-coslr-50e_in1k.py'
LINEAR = 'configs/benchmarks/sdae_vit-b-p16_linear-8xb2048-coslr-90e_in1k.py'
COCO = 'configs/coco_maskrcnn_sdae.py'
ADE = 'configs/ade20k_upernet_sdae.py'
GPUS = 8


def load(path: str) -> Config:
    return Config.fromfile(str(ROOT / path))


def pretrained_backbone(cfg: Config) -> None:
    init = cfg.model.backbone.init_cfg
    assert init.type == 'Pretrained' and init.prefix == 'backbone.'
    assert init.checkpoint.endswith('_backbone.pth')
    assert cfg.custom_imports == dict(imports=['sdae_plugin'], allow_failed_imports=False)


def test_scopes_and_registry_prefixes():
    assert load(FT_B).default_scope == load(LINEAR).default_scope == 'mmpretrain'
    coco, ade = load(COCO), load(ADE)
    assert (coco.default_scope, ade.default_scope) == ('mmdet', 'mmseg')
    for cfg in (coco, ade):
        assert cfg.model.backbone.type == 'mmpretrain.VisionTransformer'
        assert cfg.optim_wrapper.constructor == 'mmpretrain.ViTLayerDecayOptimWrapperConstructor'
        assert cfg.default_hooks.weights_only_checkpoint.type == \
            'mmpretrain.WeightsOnlyCheckpointHook'
        for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
            assert loader.collate_fn.type == 'pseudo_collate'


@pytest.mark.parametrize('path, epochs, warmup, base_lr, decay, drop_path, arch, width', [
    (FT_B, 100, 10, 5e-4, 0.65, 0.1, 'base', 768),
    (FT_L, 50, 5, 1e-3, 0.75, 0.2, 'large', 1024),
])
def test_finetune_recipe(path, epochs, warmup, base_lr, decay, drop_path, arch, width):
    cfg = load(path)
    pretrained_backbone(cfg)
    batch = cfg.train_dataloader.batch_size * GPUS
    assert batch == cfg.auto_scale_lr.base_batch_size == 2048
    opt = cfg.optim_wrapper.optimizer
    assert opt.type == 'AdamW' and opt.lr == pytest.approx(base_lr * batch / 256)
    assert opt.weight_decay == 0.05 and opt.betas == (0.9, 0.999)
    assert cfg.optim_wrapper.constructor == 'ViTLayerDecayOptimWrapperConstructor'
    assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == decay
    backbone = cfg.model.backbone
    assert (backbone.arch, backbone.drop_path_rate) == (arch, drop_path)
    assert (backbone.out_type, backbone.final_norm) == ('avg_featmap', False)  # global pool
    assert cfg.model.head.in_channels == width
    assert cfg.model.head.loss == dict(type='LabelSmoothLoss', label_smooth_val=0.1,
                                       mode='original')
    assert cfg.model.train_cfg.augments == [dict(type='Mixup', alpha=0.8),
                                            dict(type='CutMix', alpha=1.0)]
    steps = {t.type: t for t in cfg.train_dataloader.dataset.pipeline}
    assert steps['RandAugment'].magnitude_level == 9 and steps['RandAugment'].num_policies == 2
    assert steps['RandomErasing'].erase_prob == 0.25
    warm, cosine = cfg.param_scheduler
    assert (warm.type, warm.end, cosine.type, cosine.end) == ('LinearLR', warmup,
                                                              'CosineAnnealingLR', epochs)
    assert cfg.train_cfg.max_epochs == epochs


def test_linear_probe_recipe():
    cfg = load(LINEAR)
    pretrained_backbone(cfg)
    batch = cfg.train_dataloader.batch_size * GPUS
    assert batch == cfg.auto_scale_lr.base_batch_size == 16384
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.weight_decay, opt.momentum) == ('LARS', 0.0, 0.9)
    assert opt.lr == pytest.approx(0.1 * batch / 256)
    backbone = cfg.model.backbone
    assert (backbone.frozen_stages, backbone.out_type, backbone.final_norm) == (
        12, 'cls_token', True)
    assert cfg.model.neck.type == 'ClsBatchNormNeck'
    assert cfg.train_cfg.max_epochs == 90 and cfg.param_scheduler[0].end == 10


def test_coco_recipe():
    cfg = load(COCO)
    pretrained_backbone(cfg)
    backbone = cfg.model.backbone
    assert (backbone.arch, backbone.patch_size, backbone.out_indices) == ('base', 16,
                                                                          (3, 5, 7, 11))
    adapter, fpn = cfg.model.neck
    assert adapter.type == 'mmpretrain.ViTPyramidAdapter' and adapter.scales == (4, 2, 1, 0.5)
    assert fpn.type == 'FPN' and fpn.in_channels == [768] * 4
    assert cfg.model.roi_head.bbox_head.type == 'Shared4Conv1FCBBoxHead'
    # multi-scale: short side 480..800, long side <= 1333
    choice = [t for t in cfg.train_dataloader.dataset.pipeline if t.type == 'RandomChoice'][0]
    scales = choice.transforms[0][0].scales
    assert [s for s, _ in scales] == list(range(480, 801, 32)) and {m for _, m in scales} == {
        1333}
    test_resize = [t for t in cfg.test_dataloader.dataset.pipeline if t.type == 'Resize'][0]
    assert test_resize.scale == (1333, 800)  # single scale
    assert cfg.train_dataloader.batch_size * GPUS == cfg.auto_scale_lr.base_batch_size == 32
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.weight_decay) == ('AdamW', 3e-4, 0.05)
    assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.75
    assert cfg.train_cfg.max_epochs == 12
    assert cfg.param_scheduler[1].milestones == [9, 11]
    assert cfg.val_evaluator.metric == ['bbox', 'segm']


def test_ade20k_recipe():
    cfg = load(ADE)
    pretrained_backbone(cfg)
    assert cfg.model.backbone.out_indices == (3, 5, 7, 11)
    assert cfg.model.neck.type == 'Feature2Pyramid'  # MMSegmentation's own
    assert cfg.crop_size == (512, 512) and cfg.model.data_preprocessor.size == (512, 512)
    assert cfg.train_dataloader.batch_size * GPUS == cfg.auto_scale_lr.base_batch_size == 16
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.weight_decay) == ('AdamW', 4e-4, 0.05)
    assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.65
    assert cfg.train_cfg.max_iters == 160000
    assert cfg.model.decode_head.num_classes == 150
    assert cfg.model.test_cfg.mode == 'slide'  # single scale, sliding window
    assert cfg.val_evaluator.iou_metrics == ['mIoU']
