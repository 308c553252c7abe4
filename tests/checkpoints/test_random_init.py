"""The random-init floor: a pretraining config's encoder at initialization, seeded."""
import uuid
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger

from sdae_plugin.checkpoints import random_encoder

ROOT = Path(__file__).resolve().parents[2]
MINI_SDAE = ROOT / 'configs/mini/sdae_vit-mini_fashion-mnist.py'


def test_random_init_encoder_is_seeded_and_states_its_heads():
    cfg = Config.fromfile(str(MINI_SDAE)).model
    a, b = random_encoder(cfg, seed=0), random_encoder(cfg, seed=0)
    c = random_encoder(cfg, seed=1)
    assert a.state.keys() == b.state.keys()
    assert all(torch.equal(a.state[k], b.state[k]) for k in a.state)
    assert not torch.equal(a.state['layers.0.attn.qkv.weight'], c.state['layers.0.attn.qkv.weight'])
    assert a.state['patch_embed.projection.weight'].shape == (128, 1, 4, 4)
    assert a.num_heads == 4 and a.meta['seed'] == 0
    # as pretraining starts: the model's own init (MAE's sin-cos positions, fixed)
    torch.manual_seed(0)
    from mmpretrain.registry import MODELS
    model = MODELS.build(cfg)
    model.init_weights()
    assert torch.equal(model.backbone.pos_embed, a.state['pos_embed'])


def test_initialization_report_stays_off_the_terminal(capsys):
    MMLogger.get_instance(f'floor-{uuid.uuid4().hex}')  # current, printing to captured stdout
    random_encoder(Config.fromfile(str(MINI_SDAE)).model, seed=0)
    assert 'torch.Size' not in capsys.readouterr().out  # one block per parameter otherwise
