# Shared by every mini pretraining config (SdAE, MAE and the ablation rows): the same small ViT,
# data, epochs, batch, optimizer, schedule and hooks, so that only the method differs.
# Data, optimizer and hooks: configs/_base_/fashion_mnist_pretrain.py (as the demo).
# Change the length of a run with tools/reproduce_mini.py --epochs (it also moves the schedule),
# or by hand: --cfg-options train_cfg.max_epochs=E param_scheduler.1.T_max=E-1
#   param_scheduler.1.end=E
_base_ = '../../_base_/fashion_mnist_pretrain.py'
custom_imports = dict(imports=['sdae_plugin'], allow_failed_imports=False)

embed_dims = 128  # img_size 32, patch_size 4, num_patches 64: from the base
vit_arch = dict(embed_dims=embed_dims, num_layers=6, num_heads=4,
                feedforward_channels=4 * embed_dims)

max_epochs = 6
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 1, eta_min=0., by_epoch=True, begin=1,
         end=max_epochs, convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)

default_hooks = dict(
    logger=dict(interval=20),
    # every epoch is kept: tools/reproduce_mini.py evaluates them for the kNN-vs-epoch plot
    checkpoint=dict(max_keep_ckpts=-1))
