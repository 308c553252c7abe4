# Fig. 6 (A.4): a 2-block decoder instead of 8 ("SdAE-lite"; the paper: -0.07 % top-1).
_base_ = '../sdae_vit-b_100e.py'
model = dict(neck=dict(decoder_depth=2))
