# Table 1: the teacher sees only the 48 masked patches, as one sequence.
_base_ = './sdae_vit-mini_fashion-mnist.py'
model = dict(mask_generator=dict(mode='only_masked'))
