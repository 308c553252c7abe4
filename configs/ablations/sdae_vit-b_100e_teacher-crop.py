# Table 1: teacher crop, one random third of the masked patches (49 of 147) as one sequence.
_base_ = '../sdae_vit-b_100e.py'
model = dict(mask_generator=dict(mode='teacher_crop', crop_ratio=1 / 3))
