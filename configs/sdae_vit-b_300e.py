# SdAE ViT-B/16, 300 epochs on ImageNet-1k: the paper's A.1 (84.1 % top-1 after fine-tuning).
# 8 GPUs x 96 = 768 images per step: tools/dist_train.sh configs/sdae_vit-b_300e.py 8
_base_ = [
    '_base_/models/sdae_vit-b-p16.py',
    '_base_/datasets/imagenet_bs96_sdae.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['sdae_plugin'], allow_failed_imports=False)

max_epochs = 300
warmup_epochs = 60

optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    constructor='SdAEOptimWrapperConstructor',  # leaves the EMA teacher out of the optimizer
    # The paper's weight decay; the released code ran with its default 0.04. fused=True: torch's
    # one-kernel AdamW step (CUDA, and CPU with torch >= 2.4; docs/benchmarks.md);
    # fused=None gives torch's default implementation.
    optimizer=dict(type='AdamW', lr=8e-4, betas=(0.9, 0.95), weight_decay=0.05, fused=True),
    paramwise_cfg=dict(
        custom_keys={
            'ln': dict(decay_mult=0.0),
            'bias': dict(decay_mult=0.0),
            'pos_embed': dict(decay_mult=0.),
            'mask_token': dict(decay_mult=0.),
            'cls_token': dict(decay_mult=0.)
        }))

# Linear warm-up, then a half-cycle cosine to 0, both updated every iteration.
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-4,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - warmup_epochs,
        eta_min=0.,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True)
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)

# The teacher follows the student once per epoch (the paper's interval; interval='iter' is the
# per-iteration alternative of its Fig. 4a), m = 0.96 -> 0.99 (cosine).
custom_hooks = [
    dict(type='TeacherEMAHook', base_momentum=0.96, final_momentum=0.99, interval='epoch'),
    # one warning if the teacher's targets collapse (mean target_std < 0.05)
    dict(type='CollapseWatchHook', std_threshold=0.05, interval=50)
]

default_hooks = dict(
    # crash-safe: temp file + fsync + rename; old checkpoints deleted only after the new one
    checkpoint=dict(type='AtomicCheckpointHook', interval=10, max_keep_ckpts=3),
    # checkpoints that torch.load(weights_only=True) reads: resume works under torch >= 2.6
    weights_only_checkpoint=dict(type='WeightsOnlyCheckpointHook'),
    # re-seeds per epoch/iteration so that --resume is bit-exact
    exact_resume=dict(type='ExactResumeHook'),
    # stops at the first NaN/inf loss, never saves NaN weights
    nan_guard=dict(type='NaNGuardHook'))

# Workers restart every epoch, seeded per epoch and rank, so that --resume is bit-exact.
train_dataloader = dict(
    persistent_workers=False, worker_init_fn=dict(type='epoch_seeded_worker_init_fn'))

randomness = dict(seed=0, diff_rank_seed=True)

# The learning rate above is for 768 images per step; --auto-scale-lr scales it linearly.
auto_scale_lr = dict(base_batch_size=768)
