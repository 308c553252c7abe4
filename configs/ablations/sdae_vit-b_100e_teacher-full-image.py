# Table 1 / Table 5: the teacher sees the whole image (196 patches); loss at the 147 masked ones.
_base_ = '../sdae_vit-b_100e.py'
model = dict(mask_generator=dict(mode='full_image'))
