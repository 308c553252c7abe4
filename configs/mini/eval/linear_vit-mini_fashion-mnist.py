# Linear probe of a mini ViT encoder on Fashion-MNIST, MAE's protocol in miniature: frozen
# encoder (all 6 blocks, patch embedding, cls token, final LayerNorm), cls-token feature,
# BatchNorm without affine parameters, linear head. Evaluated once on the 10k test split at the
# end (never during training: nothing is chosen on the test split).
# Deviation from MAE: SGD (momentum 0.9) instead of LARS. LARS moves each weight by about
# lr * 0.001 of its norm per step, which needs MAE's thousands of steps; these runs have hundreds.
# Backbone: a file from tools/extract_backbone.py:
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = '_base_/fashion_mnist_cls.py'
custom_imports = dict(imports=['sdae_plugin'], allow_failed_imports=False)

pretrained = 'checkpoints/vit-mini_backbone.pth'
img_size = 32
embed_dims = 128
batch_size = 256
max_epochs = 3
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
        frozen_stages=6,
        out_type='cls_token',
        final_norm=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(type='ClsBatchNormNeck', input_features=embed_dims),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=embed_dims,
        loss=dict(type='CrossEntropyLoss'),
        init_cfg=[dict(type='TruncNormal', layer='Linear', std=0.01)]))
train_dataloader = dict(batch_size=batch_size,
                        dataset=dict(indices=train_subset))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1 * batch_size / 256, momentum=0.9, weight_decay=0.0))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0.0, by_epoch=True, begin=0,
         end=max_epochs, convert_to_iter_based=True)
]
# val_interval > max_epochs: the test split is evaluated once, after the last epoch
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1000)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', interval=1000, save_last=True, max_keep_ckpts=1),
    weights_only_checkpoint=dict(type='WeightsOnlyCheckpointHook'))
randomness = dict(seed=0, diff_rank_seed=True)
