# SdAE ViT-B/16, 100 epochs (the schedule of the paper's ablations, Sec. 4).
_base_ = 'sdae_vit-b_300e.py'

max_epochs = 100
warmup_epochs = 20  # our choice: the released code only documents 300 epochs (60 warm-up)

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=0., by_epoch=True,
         begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=max_epochs)
