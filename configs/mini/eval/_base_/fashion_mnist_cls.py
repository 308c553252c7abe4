# Fashion-MNIST classification data shared by the mini linear-probe and fine-tune configs:
# 1-channel 32x32 inputs, the first `train_subset` training images, the 10k test split.
# Children set `train_dataloader = dict(batch_size=...)`.
_base_ = 'mmpretrain::_base_/default_runtime.py'

img_size = 32
data_root = 'data/fashion_mnist'
batch_size = 128
train_subset = 8192

data_preprocessor = dict(type='ClsDataPreprocessor', num_classes=10, mean=[72.94], std=[90.02],
                         to_rgb=False)
train_pipeline = [
    dict(type='RandomResizedCrop', scale=img_size, crop_ratio_range=(0.6, 1.0),
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs')
]
test_pipeline = [
    dict(type='Resize', scale=img_size, interpolation='bicubic'),
    dict(type='PackInputs')
]
train_dataloader = dict(
    batch_size=batch_size,
    num_workers=2,
    persistent_workers=False,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='FashionMNIST', data_root=data_root, split='train', download=False,
                 indices=train_subset, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=256,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='FashionMNIST', data_root=data_root, split='test', test_mode=True,
                 download=False, indices=None, pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
