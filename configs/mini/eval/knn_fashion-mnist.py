# Data for tools/knn_eval.py on Fashion-MNIST: the training split is the kNN memory bank, the
# test split the queries; both resized 28 -> 32 without augmentation and normalized like the
# mini pretraining. Subsets: --cfg-options train_dataloader.dataset.indices=N (first N images).
_base_ = 'mmpretrain::_base_/default_runtime.py'
custom_imports = dict(imports=['sdae_plugin'], allow_failed_imports=False)

img_size = 32
data_root = 'data/fashion_mnist'
data_preprocessor = dict(type='ClsDataPreprocessor', num_classes=10, mean=[72.94], std=[90.02],
                         to_rgb=False)
eval_pipeline = [
    dict(type='Resize', scale=img_size, interpolation='bicubic'),
    dict(type='PackInputs')
]
train_dataloader = dict(
    batch_size=256,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='FashionMNIST', data_root=data_root, split='train', download=False,
                 indices=None, pipeline=eval_pipeline))
test_dataloader = dict(
    batch_size=256,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='FashionMNIST', data_root=data_root, split='test', test_mode=True,
                 download=False, indices=None, pipeline=eval_pipeline))
# DINO's weighted kNN
knn = dict(k=20, temperature=0.07)
