# Table 5: raw teacher features as targets (no per-patch normalization, Eq. (3) off).
_base_ = '../sdae_vit-b_100e.py'
model = dict(head=dict(normalize_target=False))
