# Table 5: teacher features used as targets without per-patch normalization (Eq. 3 off).
_base_ = './sdae_vit-mini_fashion-mnist.py'
model = dict(head=dict(normalize_target=False))
