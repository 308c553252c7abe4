"""Exact resume: a run interrupted after epoch/iteration k and resumed ends bit-identical to a
run that was never interrupted (student, teacher, decoder, optimizer state, LR, EMA momentum).

Equality is exact (``torch.equal``, tolerance 0): on CPU with the same thread count the resumed
run executes the same floating-point operations in the same order on the same inputs, so any
difference at all means some state (weights, optimizer moments, scheduler step, RNG) was not
restored. A tolerance would hide a diverging RNG stream for a few iterations.
"""
import random
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.runner import Runner
from mmpretrain.structures import DataSample

from sdae_plugin.runtime import derive_seed


class AugmentedImages(torch.utils.data.Dataset):
    """Random 1x32x32 images with a random flip (numpy), noise (torch) and shift (random), so
    that the data pipeline draws from all three global generators, as real augmentations do."""

    def __init__(self, length: int = 8) -> None:
        self.images = torch.randint(0, 256, (length, 1, 32, 32),
                                    generator=torch.Generator().manual_seed(0)).float()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, idx: int) -> dict:
        img = self.images[idx]
        if np.random.rand() < 0.5:
            img = img.flip(-1)
        img = img.roll(random.randint(0, 3), dims=-2) + 8 * torch.rand(img.shape)
        return dict(inputs=img, data_samples=DataSample())


def runner(work_dir: Path, tiny_cfg: dict, ema_interval: str = 'epoch', loop: str = 'epoch',
           exact: bool = True, ckpt_by_epoch: bool = True, num_workers: int = 0,
           persistent_workers: bool = False, worker_init_fn=None, **kwargs):
    hooks = dict(
        checkpoint=dict(type='AtomicCheckpointHook', interval=1 if ckpt_by_epoch else 3,
                        by_epoch=ckpt_by_epoch),
        weights_only_checkpoint=dict(type='WeightsOnlyCheckpointHook'),
        logger=dict(type='LoggerHook', interval=1))
    if exact:
        hooks['exact_resume'] = dict(type='ExactResumeHook')
    if loop == 'epoch':
        train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=3)
        by_epoch, warm = True, 1
    else:
        train_cfg = dict(type='IterBasedTrainLoop', max_iters=6)
        by_epoch, warm = False, 2
    loader = dict(dataset=AugmentedImages(), batch_size=4, num_workers=num_workers,
                  persistent_workers=persistent_workers,
                  sampler=dict(type='DefaultSampler', shuffle=True),
                  collate_fn=dict(type='default_collate'))
    if worker_init_fn:
        loader['worker_init_fn'] = dict(type=worker_init_fn)
    return Runner(
        model=tiny_cfg,
        work_dir=str(work_dir),
        train_dataloader=loader,
        optim_wrapper=dict(constructor='SdAEOptimWrapperConstructor',
                           optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05)),
        param_scheduler=[
            dict(type='LinearLR', start_factor=0.1, by_epoch=by_epoch, begin=0, end=warm,
                 convert_to_iter_based=by_epoch),
            dict(type='CosineAnnealingLR', by_epoch=by_epoch, begin=warm, eta_min=1e-5,
                 convert_to_iter_based=by_epoch)],
        train_cfg=train_cfg,
        custom_hooks=[dict(type='TeacherEMAHook', interval=ema_interval)],
        default_hooks=hooks,
        default_scope='mmpretrain',
        randomness=dict(seed=0, diff_rank_seed=True),
        experiment_name=f'{work_dir.name}-{uuid.uuid4().hex[:8]}',
        **kwargs)


def final_state(r: Runner) -> dict:
    return dict(model=r.model.state_dict(), optimizer=r.optim_wrapper.state_dict(),
                lr=[g['lr'] for g in r.optim_wrapper.param_groups],
                schedulers=[s.state_dict() for s in r.param_schedulers],
                momentum=r.message_hub.get_scalar('train/momentum').current(), epoch=r.epoch, iter=r.iter)




def straight_and_resumed(tmp_path, sdae_cfg, checkpoint: str, **options):
    straight = runner(tmp_path / 'straight', sdae_cfg(), **options)
    straight.train()
    resumed = runner(tmp_path / 'resumed', sdae_cfg(), resume=True,
                     load_from=str(tmp_path / 'straight' / checkpoint), **options)
    resumed.train()
    return final_state(straight), final_state(resumed)


@pytest.mark.parametrize('ema_interval', ['epoch', 'iter'])
def test_resume_after_epoch_1_is_bit_identical(tmp_path, sdae_cfg, ema_interval, identical):
    a, b = straight_and_resumed(tmp_path, sdae_cfg, 'epoch_1.pth', ema_interval=ema_interval)
    assert (a['epoch'], a['iter']) == (3, 6)
    assert any(k.startswith('teacher.') for k in a['model'])
    assert a['optimizer']['state']  # AdamW moments exist and are compared
    identical(a, b)


def test_resume_with_workers_seeded_per_epoch_is_bit_identical(tmp_path, sdae_cfg, identical):
    """The configs' loader: 2 workers, not persistent, epoch_seeded_worker_init_fn."""
    a, b = straight_and_resumed(tmp_path, sdae_cfg, 'epoch_2.pth', num_workers=2,
                                worker_init_fn='epoch_seeded_worker_init_fn')
    identical(a, b)


def test_epoch_seeded_workers_draw_new_streams_each_epoch():
    from sdae_plugin.runtime import epoch_seeded_worker_init_fn
    draws = []
    for base_seed in (11, 11, 12):  # what PyTorch gives worker 0 in epochs with these seeds
        torch.manual_seed(base_seed)
        epoch_seeded_worker_init_fn(0, num_workers=2, rank=0, seed=0)
        draws.append((np.random.rand(), random.random()))
    assert draws[0] == draws[1] and draws[0][0] != draws[2][0] and draws[0][1] != draws[2][1]


def test_resume_without_the_hook_diverges(tmp_path, sdae_cfg):
    """Why ExactResumeHook exists: MMEngine does not restore the RNG streams."""
    a, b = straight_and_resumed(tmp_path, sdae_cfg, 'epoch_1.pth', exact=False)
    assert a['lr'] == b['lr'] and a['momentum'] == b['momentum']  # schedules are restored...
    assert any(not torch.equal(a['model'][k], b['model'][k]) for k in a['model'])  # ...RNG not


@pytest.mark.parametrize('num_workers', [0, 2])
def test_resume_mid_run_under_iteration_loop_is_bit_identical(tmp_path, sdae_cfg, num_workers, identical):
    """IterBasedTrainLoop skips the batches already seen, so iter_3.pth (inside the second pass
    over the 2-batch data) resumes exactly: in the main process (0 workers) the hook re-seeds
    before every fetch; workers (not persistent) are re-seeded at every pass."""
    a, b = straight_and_resumed(tmp_path, sdae_cfg, 'iter_3.pth', ema_interval='iter',
                                loop='iter', ckpt_by_epoch=False, num_workers=num_workers)
    assert a['iter'] == 6
    identical(a, b)


def test_mid_epoch_checkpoint_under_epoch_loop_is_refused(tmp_path, sdae_cfg):
    straight = runner(tmp_path / 'straight', sdae_cfg(), ckpt_by_epoch=False)
    straight.train()
    resumed = runner(tmp_path / 'resumed', sdae_cfg(), ckpt_by_epoch=False, resume=True,
                     load_from=str(tmp_path / 'straight' / 'iter_3.pth'))
    with pytest.raises(RuntimeError, match=r'saved at iteration 3, which is batch 1 of 2 in '
                       r'epoch 2.*Resume from an epoch checkpoint'):
        resumed.train()


def test_seeds_depend_on_seed_stream_and_step_only():
    assert derive_seed(0, 'iter', 5) == derive_seed(0, 'iter', 5)
    seeds = {derive_seed(s, stream, step) for s in (0, 1) for stream in ('epoch', 'iter')
             for step in range(4)}
    assert len(seeds) == 16


def test_persistent_workers_get_a_warning(tmp_path, sdae_cfg, monkeypatch):
    from sdae_plugin.runtime import ExactResumeHook, exact_resume
    messages = []
    monkeypatch.setattr(exact_resume, 'print_log', lambda msg, **kw: messages.append(msg))
    r = runner(tmp_path, sdae_cfg())
    ExactResumeHook().before_train(r)  # num_workers=0: nothing to say
    assert messages == []
    r = runner(tmp_path, sdae_cfg(), num_workers=1, persistent_workers=True)
    ExactResumeHook().before_train(r)
    assert len(messages) == 1 and 'persistent_workers=False' in messages[0]
