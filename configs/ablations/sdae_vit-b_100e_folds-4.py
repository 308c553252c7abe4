# Fig. 4(b): 4 folds x 36; 147 % 4 = 3 masked patches per image get no target (drop_remainder).
_base_ = '../sdae_vit-b_100e.py'
model = dict(mask_generator=dict(num_folds=4, drop_remainder=True))
