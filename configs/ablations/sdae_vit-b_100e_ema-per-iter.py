# Fig. 4(a): the teacher follows the student after every iteration instead of every epoch.
# Per-iteration EMA needs a momentum much closer to 1 (the paper: very sensitive to it).
_base_ = '../sdae_vit-b_100e.py'
custom_hooks = [
    dict(type='TeacherEMAHook', base_momentum=0.999, final_momentum=0.9999, interval='iter')
]
