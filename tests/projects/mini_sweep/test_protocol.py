"""projects.mini_sweep.protocol: the setup text is read from the resolved configs (the values
below are those of configs/mini and the sweep's default options) and follows them."""
import dataclasses

from projects.mini_sweep import ROWS, config_changes, describe, resolve_config
from projects.mini_sweep.protocol import flatten, images_text
from projects.mini_sweep.rows import FT_CONFIG, KNN_CONFIG


def test_flatten_and_config_changes():
    base = dict(model=dict(neck=dict(depth=2), mean=[1.0]), hooks=[dict(type='A', m=0.9)])
    other = dict(model=dict(neck=dict(depth=8), mean=[1.0], extra=True),
                 hooks=[dict(type='A', m=0.99)])
    assert flatten(base) == {'model.neck.depth': 2, 'model.mean': [1.0], 'hooks.0.type': 'A',
                             'hooks.0.m': 0.9}
    assert config_changes(base, other) == {'hooks.0.m': (0.9, 0.99), 'model.extra': (None, True),
                                           'model.neck.depth': (2, 8)}
    assert config_changes(base, base) == {}


def test_images_text():
    assert images_text(dict(split='train', indices=8192)) == 'the first 8192 training images'
    assert images_text(dict(split='test', indices=None)) == 'all test images'
    assert images_text(dict(split='train', indices=list(range(50000, 55000)))) == \
        '5000 training images (indices 50000-54999)'


def test_default_setup_states_the_config_values(mini_protocol):
    text = '\n'.join(describe(mini_protocol()))
    for expected in (
            '`SdAEViT`, 6 blocks of width 128 (4 heads, MLP 512), on 32x32 images with 1 '
            'channel, patch 4 (64 patches), drop path 0.1; mask ratio 0.75',
            '**Pretraining**: 6 epochs on the first 8192 training images, batch 128; AdamW (lr '
            '0.0015, betas (0.9, 0.95), weight decay 0.05, fused True); LinearLR (start factor 0.001) over '
            'epochs 0-1, then CosineAnnealingLR (eta min 0) over epochs 1-6; precision fp32.',
            '**kNN**: weighted kNN (k=20, T=0.07) of the cls token and of the mean-pooled patch '
            'tokens; memory bank: the first 10000 training images, '
            'queries: the first 5000 test images; features in bf16',
            '**Linear probe**: 3 epochs on the first 8192 training images, batch 256; SGD (lr '
            '0.1, momentum 0.9, weight decay 0); CosineAnnealingLR (eta min 0) over epochs 0-3; '
            'precision bf16; encoder frozen (6 of 6 blocks), feature `cls_token`, neck '
            '`ClsBatchNormNeck`, head `LinearClsHead`; evaluated on the test split once, after '
            'the last epoch.',
            '**Fine-tuning**: 2 epochs on the first 8192 training images, batch 128; AdamW (lr '
            '0.001, weight decay 0.05, betas (0.9, 0.999), fused True, layer decay 0.75); LinearLR (start '
            'factor 0.001) over epochs 0-1, then CosineAnnealingLR (eta min 1e-06) over epochs '
            '1-2; precision fp32; feature `avg_featmap`, drop path 0.1, loss `LabelSmoothLoss` '
            '(label smoothing 0.1)'):
        assert expected in text, expected


def test_setup_follows_the_sweep_options(mini_protocol):
    text = '\n'.join(describe(mini_protocol(epochs=9, subset=0, batch_size=64, amp='bf16',
                                            eval_amp='fp32', knn_test=0, ft_epochs=3,
                                            linear_epochs=1)))
    assert '**Pretraining**: 9 epochs on all training images, batch 64;' in text
    assert 'over epochs 1-9; precision bf16.' in text
    assert 'queries: all test images; features in fp32' in text
    assert '**Linear probe**: 1 epoch on' in text
    assert 'CosineAnnealingLR (eta min 0) over epochs 0-1; precision fp32;' in text  # linear
    assert '**Fine-tuning**: 3 epochs' in text and 'over epochs 1-3; precision bf16;' in text


def test_setup_follows_config_values(mini_protocol):
    base = mini_protocol()
    protocol = dataclasses.replace(
        base,
        pretrain=resolve_config(ROWS['sdae'].config, [
            'optim_wrapper.optimizer.lr=0.003', 'optim_wrapper.optimizer.betas=[0.9,0.99]',
            'param_scheduler.0.end=2']),
        knn=resolve_config(KNN_CONFIG, ['knn.k=10']),
        ft=resolve_config(FT_CONFIG, ['optim_wrapper.paramwise_cfg.layer_decay_rate=0.65']))
    before, after = describe(base), describe(protocol)
    changed = {(old, new) for old, new in zip(before, after) if old != new}
    assert len(changed) == 3  # pretraining, kNN and fine-tuning lines
    for old, new in (('lr 0.0015, betas (0.9, 0.95)', 'lr 0.003, betas (0.9, 0.99)'),
                     ('over epochs 0-1, then CosineAnnealingLR (eta min 0) over epochs 1-6',
                      'over epochs 0-2, then CosineAnnealingLR (eta min 0) over epochs 1-6'),
                     ('k=20,', 'k=10,'), ('layer decay 0.75', 'layer decay 0.65')):
        line, = [pair for pair in changed if old in pair[0]]
        assert new in line[1] and old not in line[1], (old, new)
