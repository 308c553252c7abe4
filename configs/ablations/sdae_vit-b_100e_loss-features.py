# Loss axis: per-token cosine over the 768 channels instead of Eq. (4)'s cosine over tokens.
_base_ = '../sdae_vit-b_100e.py'
model = dict(head=dict(loss_axis='features'))
