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

# Online kNN monitor (KNNMonitorHook), first in every row's custom_hooks (the sweep sets its
# interval with custom_hooks.0.interval): weighted kNN on VALIDATION images only: memory bank =
# the first 2,000 training images, queries = training images 50,000-50,999 (outside every
# pretraining subset of <= 50,000 images; the test split is never looked at during pretraining).
# One evaluation costs ~8 s on 2 cores (fp32; bf16 autocast only where the run uses it).
# It evaluates before training (the random-init floor), every `interval` epochs and after the
# last; its history (and the kNN on the raw pixels of the same images) goes to knn_history.json
# in the work dir: the sweep's curves.
knn_pipeline = [dict(type='Resize', scale={{_base_.img_size}}, interpolation='bicubic'),
                dict(type='PackInputs')]
knn_monitor = dict(
    type='KNNMonitorHook', interval=10, pixels=True, curve=None,
    bank_dataloader=dict(dataset=dict(type='FashionMNIST', data_root='data/fashion_mnist',
                                      split='train', download=False, indices=2000,
                                      pipeline=knn_pipeline)),
    query_dataloader=dict(dataset=dict(type='FashionMNIST', data_root='data/fashion_mnist',
                                       split='train', download=False,
                                       indices=list(range(50000, 51000)),
                                       pipeline=knn_pipeline)))

default_hooks = dict(
    logger=dict(interval=20),
    # the last epoch is kept (tools/reproduce_mini.py evaluates it; curves: the kNN monitor)
    checkpoint=dict(max_keep_ckpts=1))
