"""Checkpoints load with torch.load(weights_only=True) and still resume the full runtime state."""
import pytest
import torch
from mmengine.logging import HistoryBuffer
from torch.serialization import get_unsafe_globals_in_checkpoint

from sdae_plugin.runtime import from_weights_only, to_weights_only


def test_round_trip_of_history_buffers_and_numpy_values():
    import numpy as np
    buffer = HistoryBuffer([1.0, 2.5], [1, 2], max_length=7)
    state = dict(log_scalars={'train/loss': buffer}, runtime_info={'x': np.float64(0.5)},
                 arr=np.arange(3))
    plain = to_weights_only(state)
    assert isinstance(plain['runtime_info']['x'], float)
    assert isinstance(plain['arr'], torch.Tensor)
    back = from_weights_only(plain)['log_scalars']['train/loss']
    assert isinstance(back, HistoryBuffer) and back.max_length == 7
    assert back.data[0].tolist() == [1.0, 2.5] and back.data[1].tolist() == [1, 2]


def test_runner_checkpoint_is_weights_only_and_resumes(make_runner, tmp_path):
    runner = make_runner(tmp_path / 'a', max_epochs=1)
    runner.train()
    path = tmp_path / 'a' / 'epoch_1.pth'
    assert get_unsafe_globals_in_checkpoint(str(path)) == []
    ckpt = torch.load(path, weights_only=True)
    assert {'state_dict', 'message_hub', 'optimizer', 'meta'} <= set(ckpt)

    resumed = make_runner(tmp_path / 'b', max_epochs=2, resume=True, load_from=str(path))
    resumed.train()
    assert resumed.epoch == 2
    loss = resumed.message_hub.log_scalars['train/loss']
    assert isinstance(loss, HistoryBuffer) and len(loss.data[0]) == 4  # 2 iters x 2 epochs


def test_without_the_hook_mmengine_checkpoints_need_unsafe_loading(make_runner, tmp_path):
    """Why the hook exists (torch >= 2.6 defaults to weights_only=True)."""
    runner = make_runner(tmp_path, max_epochs=1,
                         default_hooks=dict(logger=dict(type='LoggerHook', interval=1)))
    runner.train()
    assert 'mmengine.logging.history_buffer.HistoryBuffer' in get_unsafe_globals_in_checkpoint(
        str(tmp_path / 'epoch_1.pth'))
    with pytest.raises(Exception, match='HistoryBuffer'):
        torch.load(tmp_path / 'epoch_1.pth', weights_only=True)


def test_load_from_and_pretrained_init_read_the_checkpoint(make_runner, tmp_path):
    from mmpretrain.registry import MODELS
    runner = make_runner(tmp_path / 'a', max_epochs=1)
    runner.train()
    path = str(tmp_path / 'a' / 'epoch_1.pth')
    saved = torch.load(path, weights_only=True)['state_dict']

    # load_from (weights only, no resume) through the Runner
    fresh = make_runner(tmp_path / 'b', max_epochs=1, load_from=path)
    fresh.load_or_resume()
    for key, value in fresh.model.state_dict().items():
        torch.testing.assert_close(value, saved[key])

    # init_cfg=Pretrained into MMPretrain's plain VisionTransformer, student weights
    vit = MODELS.build(dict(
        type='VisionTransformer', arch=dict(embed_dims=32, num_layers=2, num_heads=2,
                                            feedforward_channels=64),
        img_size=32, patch_size=4, in_channels=1, out_type='cls_token',
        init_cfg=dict(type='Pretrained', checkpoint=path, prefix='backbone.')))
    vit.init_weights()
    for key, value in vit.state_dict().items():
        torch.testing.assert_close(value, saved[f'backbone.{key}'])
