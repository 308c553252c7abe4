# The embedded default: SdAE pretraining of a small ViT on Fashion-MNIST, on 2 CPU cores.
# 28x28 grey images are resized to 32x32, patch 4 -> 64 patches: 16 visible, 3 folds of 16.
# Data: data/fashion_mnist (tools/fetch_fashion_mnist.sh puts it there; `make demo` does it all).
# Data, optimizer, 4-epoch schedule and hooks: configs/_base_/fashion_mnist_pretrain.py.
_base_ = './_base_/fashion_mnist_pretrain.py'
custom_imports = dict(imports=['sdae_plugin'], allow_failed_imports=False)

img_size = 32
patch_size = 4
num_patches = (img_size // patch_size)**2
embed_dims = 192

model = dict(
    type='SdAE',
    backbone=dict(
        type='SdAEViT',
        arch=dict(embed_dims=embed_dims, num_layers=6, num_heads=3,
                  feedforward_channels=4 * embed_dims),
        img_size=img_size,
        patch_size=patch_size,
        patch_cfg=dict(in_channels=1),
        drop_path_rate=0.1),
    neck=dict(
        type='SdAENeck',
        num_patches=num_patches,
        embed_dim=embed_dims,
        decoder_embed_dim=128,
        decoder_depth=2,
        decoder_num_heads=4),
    head=dict(type='SdAEHead', loss_axis='tokens', normalize_target=True),
    mask_generator=dict(type='MultiFoldMaskGenerator', mask_ratio=0.75, num_folds=3),
    teacher_init='random',
    init_cfg=[
        dict(type='Xavier', layer='Linear', distribution='uniform'),
        dict(type='Constant', layer='LayerNorm', val=1.0, bias=0.0)
    ])

# kNN monitor: held-out labelled images, resized like the training crops, no augmentation.
# Memory bank: the LAST knn_bank training images (never pretrained on: pretraining reads the
# first train_subset); queries: the first knn_queries test images. It evaluates before training
# (the random-initialization floor), after every second epoch, and prints the result at the end.
knn_bank, knn_queries = 1500, 1000  # ~10 % of the training time (README, Two commands)
knn_pipeline = [dict(type='Resize', scale=img_size, interpolation='bicubic'),
                dict(type='PackInputs')]
custom_hooks = [
    dict(type='TeacherEMAHook', base_momentum=0.96, final_momentum=0.99, interval='epoch'),
    dict(type='CollapseWatchHook', std_threshold=0.05, interval=10),
    dict(type='KNNMonitorHook', interval=2, pixels=True,
         bank_dataloader=dict(dataset=dict(type='FashionMNIST', data_root='data/fashion_mnist',
                                           split='train', download=False, indices=-knn_bank,
                                           pipeline=knn_pipeline)),
         query_dataloader=dict(dataset=dict(type='FashionMNIST', data_root='data/fashion_mnist',
                                            split='test', test_mode=True, download=False,
                                            indices=knn_queries, pipeline=knn_pipeline)))
]
auto_scale_lr = dict(base_batch_size=128)
