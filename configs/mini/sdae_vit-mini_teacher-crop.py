# Table 1: teacher crop, a random third of the masked patches (16 of 48) as one sequence.
_base_ = './sdae_vit-mini_fashion-mnist.py'
model = dict(mask_generator=dict(mode='teacher_crop', crop_ratio=1 / 3))
