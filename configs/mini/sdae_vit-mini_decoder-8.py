# Decoder depth 8 instead of 2 (same width 128).
_base_ = './sdae_vit-mini_fashion-mnist.py'
model = dict(neck=dict(decoder_depth=8))
