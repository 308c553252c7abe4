# The cosine runs over each token's channels (per-token cosine), not over the tokens (Eq. 4).
_base_ = './sdae_vit-mini_fashion-mnist.py'
model = dict(head=dict(loss_axis='features'))
