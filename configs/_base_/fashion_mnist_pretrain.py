# Shared by the demo (configs/sdae_vit-tiny_fashion-mnist_demo.py) and the mini pretraining runs
# (configs/mini/_base_/mini_pretrain.py): Fashion-MNIST data, optimizer, schedule and the
# reliability hooks for pretraining a small ViT on 2 CPU cores. The model comes from the child.
# 28x28 grey images are resized/cropped to 32x32, patch 4 -> 64 patches.
# A child that changes max_epochs restates param_scheduler and train_cfg (MMEngine evaluates
# them here, with this file's max_epochs).
_base_ = 'mmpretrain::_base_/default_runtime.py'
custom_imports = dict(imports=['sdae_plugin'], allow_failed_imports=False)

img_size = 32
patch_size = 4
num_patches = (img_size // patch_size)**2
max_epochs = 4
train_subset = 8192  # the first N training images; None for all 60k

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

# fp32 by default. bf16 autocast on a CPU with AMX (tools/reproduce_mini.py --amp bf16 does it):
#   --cfg-options optim_wrapper.type=CPUAutocastOptimWrapper optim_wrapper.dtype=bfloat16
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='SdAEOptimWrapperConstructor',  # leaves frozen tensors (teacher, sin-cos) out
    # fused=True: torch's one-kernel AdamW step (fused=None: torch's default implementation)
    optimizer=dict(type='AdamW', lr=1.5e-3, betas=(0.9, 0.95), weight_decay=0.05, fused=True),
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
