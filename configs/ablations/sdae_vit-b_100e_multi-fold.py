# Table 1 / Table 5: multi-fold masking, 3 folds x 49 (SdAE's default, named for the table).
_base_ = '../sdae_vit-b_100e.py'
model = dict(mask_generator=dict(mode='multi_fold', num_folds=3))
