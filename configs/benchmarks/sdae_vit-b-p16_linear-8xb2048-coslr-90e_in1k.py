# ImageNet-1k linear probing of an SdAE ViT-B/16 in MAE's recipe (paper Table 2: 64.9 % top-1):
# frozen encoder, cls-token feature after the encoder's final LayerNorm, BatchNorm without affine
# parameters before the linear head, LARS (base lr 0.1 per 256 images, 16384 images per step:
# lr 6.4, weight decay 0, momentum 0.9), 90 epochs with 10 warm-up, RandomResizedCrop + flip.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32_pil_resize.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['sdae_plugin'], allow_failed_imports=False)

pretrained = 'checkpoints/sdae_vit-b-p16_300e_backbone.pth'
batch_size = 2048  # per GPU; x 8 GPUs = 16384 (MAE)
base_lr = 0.1
max_epochs = 90
warmup_epochs = 10

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='VisionTransformer',
        arch='base',
        img_size=224,
        patch_size=16,
        frozen_stages=12,
        out_type='cls_token',
        final_norm=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(type='ClsBatchNormNeck', input_features=768),
    head=dict(
        type='VisionTransformerClsHead',
        num_classes=1000,
        in_channels=768,
        loss=dict(type='CrossEntropyLoss'),
        init_cfg=[dict(type='TruncNormal', layer='Linear', std=0.01)]))

train_dataloader = dict(batch_size=batch_size, drop_last=True)
val_dataloader = dict(batch_size=256, drop_last=False)
test_dataloader = val_dataloader

optim_wrapper = dict(
    type='OptimWrapper',  # add --amp for mixed precision
    optimizer=dict(type='LARS', lr=base_lr * batch_size * 8 / 256, weight_decay=0.0,
                   momentum=0.9))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=0.0,
         by_epoch=True, begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True)
]

train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3),
    logger=dict(type='LoggerHook', interval=10),
    weights_only_checkpoint=dict(type='WeightsOnlyCheckpointHook'))

randomness = dict(seed=0, diff_rank_seed=True)
auto_scale_lr = dict(base_batch_size=16384)
