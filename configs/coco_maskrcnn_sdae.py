# COCO Mask R-CNN 1x with an SdAE ViT-B/16 backbone (paper A.1 and Table 4: 48.9 AP^b, 43.0 AP^m
# after 300-epoch pretraining), the CAE recipe the paper follows: blocks 4/6/8/12 of the ViT ->
# ViTPyramidAdapter (x4 two deconvs, x2 one deconv, x1 identity, x1/2 max-pool) -> FPN;
# multi-scale training (short side 480-800, long side <= 1333, DETR-style crop augmentation),
# 32 images per step, AdamW lr 3e-4, weight decay 0.05, layer decay 0.75, 12 epochs with the lr
# divided by 10 after epochs 9 and 11, single-scale test (1333 x 800), bbox and segm COCO AP.
#   mim train mmdet configs/coco_maskrcnn_sdae.py --launcher pytorch --gpus 8 \
#       --cfg-options model.backbone.init_cfg.checkpoint=checkpoints/sdae_vit-b-p16_300e_backbone.pth
# (8 GPUs x 4 images; with another total batch add --auto-scale-lr.)
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
]
custom_imports = dict(imports=['sdae_plugin'], allow_failed_imports=False)

pretrained = 'checkpoints/sdae_vit-b-p16_300e_backbone.pth'  # tools/extract_backbone.py output
embed_dims = 768
norm_cfg = dict(type='SyncBN', requires_grad=True)  # BN when not distributed (MMEngine)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.VisionTransformer',
        arch='base',
        img_size=224,  # the pretraining grid; resized to each input's patch grid in forward
        patch_size=16,
        out_indices=(3, 5, 7, 11),  # blocks 4, 6, 8, 12
        out_type='featmap',
        final_norm=False,
        drop_path_rate=0.2,  # CAE's detection setting
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=[
        dict(type='mmpretrain.ViTPyramidAdapter', in_channels=embed_dims,
             scales=(4, 2, 1, 0.5), norm_cfg=norm_cfg),  # strides 4, 8, 16, 32
        dict(type='FPN', in_channels=[embed_dims] * 4, out_channels=256, num_outs=5),
    ],
    roi_head=dict(
        # CAE/BEiT: 4 convs + 1 fc box head with (Sync)BN, GIoU loss on decoded boxes
        bbox_head=dict(
            type='Shared4Conv1FCBBoxHead',
            conv_out_channels=256,
            norm_cfg=norm_cfg,
            reg_decoded_bbox=True,
            loss_bbox=dict(type='GIoULoss', loss_weight=10.0))))

# Multi-scale training: short side 480..800 (step 32), long side <= 1333, and with probability
# 1/2 a random crop of a 400/500/600 resize first (DETR's augmentation, as CAE).
multi_scales = [(s, 1333) for s in range(480, 801, 32)]
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='RandomChoice',
        transforms=[
            [dict(type='RandomChoiceResize', scales=multi_scales, keep_ratio=True)],
            [
                dict(type='RandomChoiceResize', scales=[(400, 1333), (500, 1333), (600, 1333)],
                     keep_ratio=True),
                dict(type='RandomCrop', crop_type='absolute_range', crop_size=(384, 600),
                     allow_negative_crop=True),
                dict(type='RandomChoiceResize', scales=multi_scales, keep_ratio=True),
            ],
        ]),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(
    batch_size=4,  # x 8 GPUs = 32
    collate_fn=dict(type='pseudo_collate'),  # images of different sizes: no stacking here
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(collate_fn=dict(type='pseudo_collate'))
test_dataloader = val_dataloader

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',  # add --amp for mixed precision (CAE trained with fp16)
    optimizer=dict(type='AdamW', lr=3e-4, betas=(0.9, 0.999), weight_decay=0.05, fused=True),
    # lr * 0.75 ** (13 - depth) in the ViT; neck and heads 1; no decay for norms/biases/pos
    constructor='mmpretrain.ViTLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.75))

max_epochs = 12
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[9, 11],
         gamma=0.1)
]

default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3),
    # checkpoints that torch.load(weights_only=True) reads: resume and `mim test` work
    weights_only_checkpoint=dict(type='mmpretrain.WeightsOnlyCheckpointHook'))

auto_scale_lr = dict(enable=False, base_batch_size=32)
