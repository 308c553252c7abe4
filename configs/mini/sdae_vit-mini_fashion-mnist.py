# SdAE in miniature (the main row): multi-fold teacher feeding (3 folds of 16 masked patches),
# normalized targets, per-epoch EMA, teacher from its own random init, cosine over tokens,
# decoder depth 2. Ablation rows change one thing each (configs/mini/sdae_vit-mini_*.py).
_base_ = './_base_/mini_pretrain.py'

model = dict(
    type='SdAE',
    backbone=dict(
        type='SdAEViT',
        arch={{_base_.vit_arch}},
        img_size={{_base_.img_size}},
        patch_size={{_base_.patch_size}},
        patch_cfg=dict(in_channels=1),
        drop_path_rate=0.1),  # the student's; the teacher has none
    neck=dict(
        type='SdAENeck',
        num_patches={{_base_.num_patches}},
        embed_dim={{_base_.embed_dims}},
        decoder_embed_dim=128,
        decoder_depth=2,
        decoder_num_heads=4),
    head=dict(type='SdAEHead', loss_axis='tokens', normalize_target=True),
    mask_generator=dict(type='MultiFoldMaskGenerator', mask_ratio=0.75, mode='multi_fold',
                        num_folds=3),
    teacher_init='random',
    init_cfg=[
        dict(type='Xavier', layer='Linear', distribution='uniform'),
        dict(type='Constant', layer='LayerNorm', val=1.0, bias=0.0)
    ])

custom_hooks = [
    {{_base_.knn_monitor}},
    dict(type='TeacherEMAHook', base_momentum=0.96, final_momentum=0.99, interval='epoch'),
    dict(type='CollapseWatchHook', std_threshold=0.05, interval=10)
]
