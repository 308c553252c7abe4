# SdAE ViT-L/16, 300 epochs (the paper's A.2); decoder as for ViT-B, predicting 1024-d features.
_base_ = 'sdae_vit-b_300e.py'

model = dict(
    backbone=dict(arch='l'),
    neck=dict(embed_dim=1024))
