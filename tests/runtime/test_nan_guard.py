"""NaNGuardHook: stops at the first non-finite loss with the iteration and the last finite
stats, and no checkpoint with NaN weights is ever written."""
import pytest
import torch
from mmengine.hooks import Hook


class PoisonHook(Hook):
    """Test helper: fills the student's cls token with `value` at 0-based iteration `at`."""

    def __init__(self, at: int, stage: str = 'before', value: float = float('nan')) -> None:
        self.at, self.stage, self.value = at, stage, value
        self.priority = 'LOWEST'

    def _poison(self, runner):
        if runner.iter == self.at:
            with torch.no_grad():
                runner.model.backbone.cls_token.fill_(self.value)

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if self.stage == 'before':
            self._poison(runner)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if self.stage == 'after':
            self._poison(runner)


def hooks(guard: bool, by_epoch: bool = False) -> dict:
    hooks = dict(checkpoint=dict(type='AtomicCheckpointHook', interval=1, by_epoch=by_epoch),
                 weights_only_checkpoint=dict(type='WeightsOnlyCheckpointHook'),
                 logger=dict(type='LoggerHook', interval=1))
    if guard:
        hooks['nan_guard'] = dict(type='NaNGuardHook')
    return hooks


@pytest.mark.parametrize('value', [float('nan'), float('inf')])
def test_stops_with_iteration_and_last_finite_stats(make_runner, tmp_path, value):
    runner = make_runner(tmp_path, max_epochs=3, default_hooks=hooks(True),
                         hooks=[dict(type='TeacherEMAHook'), PoisonHook(at=2, value=value)])
    with pytest.raises(FloatingPointError,
                       match=r'at iteration 3 \(epoch 2, batch 1\): loss=nan.*Last finite '
                       r'stats: iteration 2: loss=[0-9.]+, target_std=[0-9.]+, cosine=-?[0-9.]+'):
        runner.train()
    # iteration checkpoints 1 and 2 exist and are finite; none was written for iteration 3
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['iter_1.pth', 'iter_2.pth']
    assert (tmp_path / 'last_checkpoint').read_text().endswith('iter_2.pth')
    state = torch.load(tmp_path / 'iter_2.pth', weights_only=True)['state_dict']
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


def test_without_the_guard_nan_weights_are_checkpointed(make_runner, tmp_path):
    """The control: MMEngine trains on and saves NaN weights."""
    runner = make_runner(tmp_path, max_epochs=2, default_hooks=hooks(False),
                         hooks=[dict(type='TeacherEMAHook'), PoisonHook(at=2)])
    runner.train()
    state = torch.load(tmp_path / 'iter_4.pth', weights_only=True)['state_dict']
    assert torch.isnan(state['backbone.cls_token']).all()


def test_nan_weights_with_finite_loss_are_never_saved(make_runner, tmp_path):
    # NaN appears after the last iteration of epoch 1 was checked: the loss was finite, the
    # weights saved at the end of the epoch would not be.
    runner = make_runner(tmp_path, max_epochs=2, default_hooks=hooks(True, by_epoch=True),
                         hooks=[dict(type='TeacherEMAHook'), PoisonHook(at=1, stage='after')])
    with pytest.raises(FloatingPointError, match=r'Refusing to save the checkpoint of iteration '
                       r"2 \(epoch 1\): \d+ tensors hold NaN/inf, e.g. \['backbone.cls_token'"):
        runner.train()
    assert list(tmp_path.glob('*.pth')) == [] and not list(tmp_path.glob('.*tmp*'))
