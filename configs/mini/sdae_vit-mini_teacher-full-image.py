# Table 1: the teacher sees the whole image (all 64 patches, one sequence); loss on the 48 masked.
_base_ = './sdae_vit-mini_fashion-mnist.py'
model = dict(mask_generator=dict(mode='full_image'))
