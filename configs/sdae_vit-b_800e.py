# SdAE ViT-B/16, 800 epochs (the paper's A.2 longer schedule).
_base_ = 'sdae_vit-b_300e.py'

max_epochs = 800
warmup_epochs = 60

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=0., by_epoch=True,
         begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=max_epochs)
