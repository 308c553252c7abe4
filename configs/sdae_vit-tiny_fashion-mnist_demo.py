# The embedded default: SdAE pretraining of a small ViT on Fashion-MNIST, on 2 CPU cores.
# 28x28 grey images are resized to 32x32, patch 4 -> 64 patches: 16 visible, 3 folds of 16.
# Data: data/fashion_mnist (tools/fetch_fashion_mnist.sh puts it there; `make demo` does it all).
_base_ = 'mmpretrain::_base_/default_runtime.py'
custom_imports = dict(imports=['sdae_plugin'], allow_failed_imports=False)

img_size = 32
patch_size = 4
num_patches = (img_size // patch_size)**2
embed_dims = 192
max_epochs = 4
train_subset = 8192  # the first N training images; None for all 60k

model = dict(
    type='SdAE',
    backbone=dict(
        type='SdAEViT',
        arch=dict(embed_dims=embed_dims, num_layers=6, num_heads=3,
                  feedforward_channels=4 * embed_dims),
        img_size=img_size,
        patch_size=patch_size,
        patch_cfg=dict(in_channels=1),
        drop_path_rate=0.1),
    neck=dict(
        type='SdAENeck',
        num_patches=num_patches,
        embed_dim=embed_dims,
        decoder_embed_dim=128,
        decoder_depth=2,
        decoder_num_heads=4),
    head=dict(type='SdAEHead', loss_axis='tokens', normalize_target=True),
    mask_generator=dict(type='MultiFoldMaskGenerator', mask_ratio=0.75, num_folds=3),
    teacher_init='random',
    init_cfg=[
        dict(type='Xavier', layer='Linear', distribution='uniform'),
        dict(type='Constant', layer='LayerNorm', val=1.0, bias=0.0)
    ])

# Fashion-MNIST pixel statistics (0-255 scale), one grey channel.
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
    # Workers restart every epoch, seeded per epoch and rank: --resume is then bit-exact.
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

optim_wrapper = dict(
    type='OptimWrapper',
    constructor='SdAEOptimWrapperConstructor',
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

custom_hooks = [
    dict(type='TeacherEMAHook', base_momentum=0.96, final_momentum=0.99, interval='epoch'),
    dict(type='CollapseWatchHook', std_threshold=0.05, interval=10)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    # crash-safe: temp file + fsync + rename; old checkpoints deleted only after the new one
    checkpoint=dict(type='AtomicCheckpointHook', interval=1, max_keep_ckpts=2),
    weights_only_checkpoint=dict(type='WeightsOnlyCheckpointHook'),
    # re-seeds per epoch/iteration so that --resume is bit-exact
    exact_resume=dict(type='ExactResumeHook'),
    # stops at the first NaN/inf loss, never saves NaN weights
    nan_guard=dict(type='NaNGuardHook'))

env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0, diff_rank_seed=True)
auto_scale_lr = dict(base_batch_size=128)
