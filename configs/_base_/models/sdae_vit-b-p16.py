# SdAE with a ViT-B/16 student and teacher at 224x224 (the paper's Sec. 2 and A.1).
model = dict(
    type='SdAE',
    backbone=dict(
        type='SdAEViT', arch='b', img_size=224, patch_size=16,
        drop_path_rate=0.25),  # student only: the teacher is built with drop path 0
    neck=dict(
        type='SdAENeck',
        num_patches=196,
        embed_dim=768,
        decoder_embed_dim=512,
        decoder_depth=8,
        decoder_num_heads=16,
        mlp_ratio=4),
    head=dict(type='SdAEHead', loss_axis='tokens', normalize_target=True),
    mask_generator=dict(
        type='MultiFoldMaskGenerator', mask_ratio=0.75, mode='multi_fold',
        num_folds=3),  # 49 visible, 3 folds x 49 for the teacher
    teacher_init='random',  # the released code; 'student' copies the student at start
    teacher_autocast=None,  # follow the student's precision; 'bf16': bf16 teacher, any student
    init_cfg=[
        dict(type='Xavier', layer='Linear', distribution='uniform'),
        dict(type='Constant', layer='LayerNorm', val=1.0, bias=0.0)
    ])
