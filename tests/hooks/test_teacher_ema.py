"""TeacherEMAHook: schedule, closed form after k updates, timing, logging, and its errors."""
import math

import pytest
import torch

from sdae_plugin.hooks import TeacherEMAHook, cosine_momentum


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_cosine_schedule_endpoints_and_midpoint():
    assert cosine_momentum(0, 300, 0.96, 0.99) == pytest.approx(0.96)
    assert cosine_momentum(150, 300, 0.96, 0.99) == pytest.approx(0.975)
    assert cosine_momentum(299, 300, 0.96, 0.99) == pytest.approx(
        0.99 + 0.5 * (0.96 - 0.99) * (1 + math.cos(math.pi * 299 / 300)))


@pytest.mark.parametrize('interval,epochs,iters_per_epoch', [('epoch', 3, 2), ('iter', 2, 2)])
def test_teacher_after_k_updates_matches_closed_form(make_runner, tmp_path, interval, epochs,
                                                     iters_per_epoch):
    """With lr=0 the student is fixed, so teacher_k = P * teacher_0 + (1 - P) * student."""
    runner = make_runner(tmp_path, max_epochs=epochs, lr=0.0,
                         hooks=[dict(type='TeacherEMAHook', interval=interval)])
    model = runner.model
    model.init_weights()  # what runner.train() would do first (it then skips it)
    t0, s0 = snapshot(model.teacher), snapshot(model.backbone)
    assert any(not torch.equal(t0[k], s0[k]) for k in t0)  # 'random' teacher init
    runner.train()
    steps = epochs if interval == 'epoch' else epochs * iters_per_epoch
    keep = math.prod(cosine_momentum(i, steps, 0.96, 0.99) for i in range(steps))
    s_now = snapshot(model.backbone)
    for key, value in model.teacher.state_dict().items():
        torch.testing.assert_close(s_now[key], s0[key])  # the student did not move
        torch.testing.assert_close(value, keep * t0[key] + (1 - keep) * s0[key])


def test_epoch_update_runs_before_the_checkpoint_is_written(make_runner, tmp_path):
    runner = make_runner(tmp_path, max_epochs=1)
    runner.train()
    saved = torch.load(tmp_path / 'epoch_1.pth', weights_only=True)['state_dict']
    for key, value in runner.model.teacher.state_dict().items():
        torch.testing.assert_close(saved[f'teacher.{key}'], value)


def test_momentum_is_logged_without_loss_in_its_name(make_runner, tmp_path):
    runner = make_runner(tmp_path, max_epochs=1)
    runner.train()
    scalars = runner.message_hub.log_scalars
    assert scalars['train/momentum'].current() == pytest.approx(0.96)
    assert 'train/target_std' in scalars and 'train/cosine' in scalars


@pytest.mark.parametrize('interval,expected', [
    ('epoch', [0.96] * 2 + [0.975] * 2),  # m_e of the update after epoch e, 2 epochs of 2 iters
    ('iter', [cosine_momentum(i, 4, 0.96, 0.99) for i in range(4)]),
])
def test_logged_momentum_is_the_one_the_next_update_uses(make_runner, tmp_path, interval,
                                                          expected):
    runner = make_runner(tmp_path, max_epochs=2, hooks=[dict(type='TeacherEMAHook',
                                                             interval=interval)])
    runner.train()
    logged = runner.message_hub.log_scalars['train/momentum'].data[0]
    assert list(logged) == pytest.approx(expected)


def test_the_model_is_not_told_the_momentum(make_runner, tmp_path):
    """The momentum reaches the log through the message hub only, not the model's outputs."""
    runner = make_runner(tmp_path, max_epochs=1)
    runner.train()
    assert not hasattr(runner.model, 'momentum')
    outputs = runner.model.loss(torch.zeros(2, 1, 32, 32))
    assert set(outputs) == {'loss', 'target_std', 'cosine'}


@pytest.mark.parametrize('kwargs,message', [
    (dict(base_momentum=1.0), r'base_momentum=1.0 must be in \[0, 1\)'),
    (dict(final_momentum=-0.1), r'final_momentum=-0.1 must be in \[0, 1\)'),
    (dict(interval='step'), "Unknown interval 'step'"),
])
def test_bad_settings_are_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TeacherEMAHook(**kwargs)


def test_per_epoch_under_iteration_loop_is_an_error(make_runner, tmp_path):
    runner = make_runner(tmp_path, train_cfg=dict(by_epoch=False, max_iters=2))
    with pytest.raises(RuntimeError, match='needs an epoch-based train loop'):
        runner.train()


def test_model_without_teacher_is_an_error(make_runner, tmp_path):
    mae = dict(type='MAE',
               backbone=dict(type='MAEViT', arch='deit-tiny', img_size=32, patch_size=4,
                             patch_cfg=dict(in_channels=1)),
               neck=dict(type='MAEPretrainDecoder', num_patches=64, patch_size=4, in_chans=1,
                         embed_dim=192, decoder_embed_dim=32, decoder_depth=1,
                         decoder_num_heads=2),
               head=dict(type='MAEPretrainHead', patch_size=4,
                         loss=dict(type='PixelReconstructionLoss', criterion='L2')),
               data_preprocessor=dict(type='SelfSupDataPreprocessor', mean=[0.], std=[1.],
                                      to_rgb=False))
    runner = make_runner(tmp_path, model=mae)
    with pytest.raises(RuntimeError, match='needs a model with a `teacher` submodule and an'):
        runner.train()
