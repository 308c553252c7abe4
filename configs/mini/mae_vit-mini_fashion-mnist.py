# MMPretrain's MAE in miniature: the same ViT (6 x 128, 32x32, patch 4, 1 channel), mask ratio
# 0.75, a decoder of the same size as SdAE's (2 blocks of width 128), pixel targets normalized
# per patch (norm_pix), and the same data, epochs, batch, optimizer and schedule (_base_).
# MAE pretrains without drop path (the MAE paper); SdAE's student uses 0.1 (the SdAE paper).
_base_ = './_base_/mini_pretrain.py'

model = dict(
    type='MAE',
    backbone=dict(
        type='MAEViT',
        arch={{_base_.vit_arch}},
        img_size={{_base_.img_size}},
        patch_size={{_base_.patch_size}},
        patch_cfg=dict(in_channels=1),
        mask_ratio=0.75),
    neck=dict(
        type='MAEPretrainDecoder',
        num_patches={{_base_.num_patches}},
        patch_size={{_base_.patch_size}},
        in_chans=1,
        embed_dim={{_base_.embed_dims}},
        decoder_embed_dim=128,
        decoder_depth=2,
        decoder_num_heads=4,
        mlp_ratio=4.),
    head=dict(
        type='MAEPretrainHead',
        norm_pix=True,
        patch_size={{_base_.patch_size}},
        in_channels=1,
        loss=dict(type='PixelReconstructionLoss', criterion='L2')),
    init_cfg=[
        dict(type='Xavier', layer='Linear', distribution='uniform'),
        dict(type='Constant', layer='LayerNorm', val=1.0, bias=0.0)
    ])

custom_hooks = [{{_base_.knn_monitor}}]
