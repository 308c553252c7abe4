# ADE20K UperNet with an SdAE ViT-B/16 backbone (paper A.1 and Table 3: 48.6 mIoU after 300-epoch
# pretraining), the CAE recipe the paper follows: blocks 4/6/8/12 -> MMSegmentation's
# Feature2Pyramid (x4, x2, x1, x1/2) -> UPerHead + auxiliary FCNHead; 512 x 512 crops,
# 16 images per step, AdamW lr 4e-4, weight decay 0.05, layer decay 0.65, 160k iterations
# (1500 warm-up, then linear decay), single-scale sliding-window test, mIoU.
#   mim train mmseg configs/ade20k_upernet_sdae.py --launcher pytorch --gpus 8 \
#       --cfg-options model.backbone.init_cfg.checkpoint=checkpoints/sdae_vit-b-p16_300e_backbone.pth
_base_ = [
    'mmseg::_base_/models/upernet_mae.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_160k.py',
]
custom_imports = dict(imports=['sdae_plugin'], allow_failed_imports=False)

pretrained = 'checkpoints/sdae_vit-b-p16_300e_backbone.pth'  # tools/extract_backbone.py output
crop_size = (512, 512)
embed_dims = 768
norm_cfg = dict(type='SyncBN', requires_grad=True)  # BN when not distributed (MMEngine)

data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(
        _delete_=True,
        type='mmpretrain.VisionTransformer',
        arch='base',
        img_size=crop_size,  # pretrained 14 x 14 position table resized to 32 x 32 at load
        patch_size=16,
        out_indices=(3, 5, 7, 11),  # blocks 4, 6, 8, 12
        out_type='featmap',
        final_norm=False,
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(type='Feature2Pyramid', embed_dim=embed_dims, rescales=[4, 2, 1, 0.5],
              norm_cfg=norm_cfg),
    decode_head=dict(in_channels=[embed_dims] * 4, channels=embed_dims, num_classes=150,
                     norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=embed_dims, num_classes=150, norm_cfg=norm_cfg),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)))

train_dataloader = dict(batch_size=2,  # x 8 GPUs = 16
                        collate_fn=dict(type='pseudo_collate'))
val_dataloader = dict(batch_size=1, collate_fn=dict(type='pseudo_collate'))
test_dataloader = val_dataloader

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',  # add --amp for mixed precision
    optimizer=dict(type='AdamW', lr=4e-4, betas=(0.9, 0.999), weight_decay=0.05, fused=True),
    # lr * 0.65 ** (13 - depth) in the ViT; neck and heads 1; no decay for norms/biases/pos
    constructor='mmpretrain.ViTLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.65))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=160000, by_epoch=False)
]

default_hooks = dict(
    # checkpoints that torch.load(weights_only=True) reads: resume and `mim test` work
    weights_only_checkpoint=dict(type='mmpretrain.WeightsOnlyCheckpointHook'))

auto_scale_lr = dict(enable=False, base_batch_size=16)
