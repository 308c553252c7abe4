"""CollapseWatchHook: one warning, with the iteration and the stats, when target_std falls."""
import pytest
import torch

from sdae_plugin.hooks import CollapseWatchHook, collapse_watch


def run(make_runner, tmp_path, monkeypatch, std_after: int, max_epochs: int = 4):
    messages = []
    monkeypatch.setattr(collapse_watch, 'print_log', lambda msg, **kw: messages.append(msg))
    runner = make_runner(tmp_path, max_epochs=max_epochs,
                         hooks=[dict(type='TeacherEMAHook'),
                                dict(type='CollapseWatchHook', std_threshold=0.05, interval=2)])
    head = runner.model.head
    original = head.diagnostics
    calls = []

    def diagnostics(pred, target):  # a teacher that collapses from iteration `std_after` on
        out = original(pred, target)
        calls.append(1)
        if len(calls) > std_after:
            out['target_std'] = torch.tensor(0.001)
        return out

    monkeypatch.setattr(head, 'diagnostics', diagnostics)
    runner.train()
    return runner, messages


def test_warns_once_when_target_std_falls(make_runner, tmp_path, monkeypatch):
    runner, messages = run(make_runner, tmp_path, monkeypatch, std_after=2)
    assert len(messages) == 1  # iterations 3..8 are all collapsed; one warning
    assert 'Possible teacher collapse at iteration 4: mean target_std over the last 2 ' \
           'iterations is 0.001 < 0.05' in messages[0]
    assert 'normalize_target' in messages[0]
    # the values stay logged every iteration for the user to look at
    assert runner.message_hub.log_scalars['train/target_std'].current() == pytest.approx(0.001)
    assert 'train/cosine' in runner.message_hub.log_scalars


def test_healthy_run_gives_no_warning(make_runner, tmp_path, monkeypatch):
    _, messages = run(make_runner, tmp_path, monkeypatch, std_after=10**6, max_epochs=2)
    assert messages == []


@pytest.mark.parametrize('kwargs,message', [
    (dict(std_threshold=0), 'std_threshold must be > 0'),
    (dict(interval=0), 'interval must be an integer >= 1'),
])
def test_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CollapseWatchHook(**kwargs)
