# Shared by every mini pretraining config (SdAE, MAE and the ablation rows): the same small ViT,
# data, epochs, batch, optimizer, schedule and hooks, so that only the method differs.
# Fashion-MNIST 28x28 grey images resized/cropped to 32x32, patch 4 -> 64 patches.
# Change the length of a run with tools/reproduce_mini.py --epochs (it also moves the schedule),
# or by hand: --cfg-options train_cfg.max_epochs=E param_scheduler.1.T_max=E-1
#   param_scheduler.1.end=E
_base_ = 'mmpretrain::_base_/default_runtime.py'
custom_imports = dict(imports=['sdae_plugin'], allow_failed_imports=False)

img_size = 32
patch_size = 4
num_patches = (img_size // patch_size)**2
embed_dims = 128
vit_arch = dict(embed_dims=embed_dims, num_layers=6, num_heads=4,
                feedforward_channels=4 * embed_dims)
max_epochs = 6
train_subset = 8192  # the first N training images (None: all 60k)

data_preprocessor = dict(type='SelfSupDataPreprocessor', mean=[72.94], std=[90.02], to_rgb=False)
train_pipeline = [
    dict(type='RandomResizedCrop', scale=img_size, crop_ratio_range=(0.4, 1.0),
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs')
]
train_dataloader = dict(
    batch_size=128,
    num_workers=2,
    persistent_workers=False,
    worker_init_fn=dict(type='epoch_seeded_worker_init_fn'),
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='FashionMNIST',
        data_root='data/fashion_mnist',
        split='train',
        download=False,
        indices=train_subset,
        pipeline=train_pipeline))

# fp32 by default. bf16 autocast on a CPU with AMX (tools/reproduce_mini.py --amp bf16 does it):
#   --cfg-options optim_wrapper.type=CPUAutocastOptimWrapper optim_wrapper.dtype=bfloat16
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='SdAEOptimWrapperConstructor',  # leaves frozen tensors (teacher, sin-cos) out
    optimizer=dict(type='AdamW', lr=1.5e-3, betas=(0.9, 0.95), weight_decay=0.05),
    paramwise_cfg=dict(
        custom_keys={
            'ln': dict(decay_mult=0.0),
            'bias': dict(decay_mult=0.0),
            'pos_embed': dict(decay_mult=0.),
            'mask_token': dict(decay_mult=0.),
            'cls_token': dict(decay_mult=0.)
        }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 1, eta_min=0., by_epoch=True, begin=1,
         end=max_epochs, convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    # every epoch is kept: tools/reproduce_mini.py evaluates them for the kNN-vs-epoch plot
    checkpoint=dict(type='AtomicCheckpointHook', interval=1, max_keep_ckpts=-1),
    weights_only_checkpoint=dict(type='WeightsOnlyCheckpointHook'),
    exact_resume=dict(type='ExactResumeHook'),
    nan_guard=dict(type='NaNGuardHook'))

env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0, diff_rank_seed=True)
