# Table 1 / Table 5: the teacher sees all 147 masked patches as one sequence.
_base_ = '../sdae_vit-b_100e.py'
model = dict(mask_generator=dict(mode='only_masked'))
