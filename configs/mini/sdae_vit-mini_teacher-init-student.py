# The teacher starts as a copy of the student instead of its own random initialization.
_base_ = './sdae_vit-mini_fashion-mnist.py'
model = dict(teacher_init='student')
