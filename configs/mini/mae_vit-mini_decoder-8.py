# MAE with decoder depth 8 instead of 2 (same width 128): the partner of
# sdae_vit-mini_decoder-8.py, so that SdAE and MAE are also compared at the depth of the papers'
# ViT-B decoders (8 blocks).
_base_ = './mae_vit-mini_fashion-mnist.py'
model = dict(neck=dict(decoder_depth=8))
