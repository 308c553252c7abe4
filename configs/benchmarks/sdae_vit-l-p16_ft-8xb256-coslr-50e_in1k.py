# ImageNet-1k fine-tuning of an SdAE ViT-L/16 (paper A.1; Table 6: 85.7 % top-1 after 300-epoch
# pretraining): 50 epochs, base lr 1e-3 per 256 images at 2048 images per step (lr 8e-3),
# layer decay 0.75, drop path 0.2, 5 warm-up epochs; the rest as the ViT-B recipe.
_base_ = './sdae_vit-b-p16_ft-8xb256-coslr-100e_in1k.py'

pretrained = 'checkpoints/sdae_vit-l-p16_300e_backbone.pth'
batch_size = 256
base_lr = 1e-3
max_epochs = 50
warmup_epochs = 5

model = dict(
    backbone=dict(arch='large', drop_path_rate=0.2,
                  init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    head=dict(in_channels=1024))

train_dataloader = dict(batch_size=batch_size)

optim_wrapper = dict(
    optimizer=dict(lr=base_lr * batch_size * 8 / 256),
    paramwise_cfg=dict(layer_decay_rate=0.75))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=1e-6,
         by_epoch=True, begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True)
]

train_cfg = dict(max_epochs=max_epochs)
