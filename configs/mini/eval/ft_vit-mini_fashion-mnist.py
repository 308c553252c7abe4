# End-to-end fine-tuning of a mini ViT encoder on Fashion-MNIST, MAE/SdAE's recipe in miniature:
# layer-wise lr decay (0.75 over 6 blocks), AdamW, drop path 0.1, global average pooling (no final
# LayerNorm of the encoder; a LayerNorm after pooling), label smoothing 0.1, warm-up + cosine.
# No mixup/cutmix/RandAugment at this size and length. Evaluated once on the 10k test split at the
# end (never during training).
# Backbone: a file from tools/extract_backbone.py:
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = '_base_/fashion_mnist_cls.py'
custom_imports = dict(imports=['sdae_plugin'], allow_failed_imports=False)

pretrained = 'checkpoints/vit-mini_backbone.pth'
img_size = 32
embed_dims = 128
batch_size = 128
base_lr = 1e-3  # per 128 images
max_epochs = 2
train_subset = 8192

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='VisionTransformer',
        arch=dict(embed_dims=embed_dims, num_layers=6, num_heads=4,
                  feedforward_channels=4 * embed_dims),
        img_size=img_size,
        patch_size=4,
        in_channels=1,
        drop_path_rate=0.1,
        out_type='avg_featmap',
        final_norm=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=embed_dims,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=[dict(type='TruncNormal', layer='Linear', std=2e-5)]))
train_dataloader = dict(batch_size=batch_size,
                        dataset=dict(indices=train_subset))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=base_lr * batch_size / 128, weight_decay=0.05,
                   betas=(0.9, 0.999), fused=True),
    constructor='ViTLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.75))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 1, eta_min=1e-6, by_epoch=True, begin=1,
         end=max_epochs, convert_to_iter_based=True)
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1000)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', interval=1000, save_last=True, max_keep_ckpts=1),
    weights_only_checkpoint=dict(type='WeightsOnlyCheckpointHook'))
randomness = dict(seed=0, diff_rank_seed=True)
