"""tools/train.py --compile: SdAE's compile_loss switched on; other models refused."""
import pytest
from mmengine.config import Config

from sdae_plugin.runtime.compile_switch import enable_compiled_loss


def test_sets_compile_loss_on_sdae_and_keeps_given_options(sdae_cfg):
    cfg = Config(dict(model=sdae_cfg()))
    enable_compiled_loss(cfg)
    assert cfg.model.compile_loss is True
    cfg = Config(dict(model=sdae_cfg(compile_loss=dict(backend='aot_eager'))))
    enable_compiled_loss(cfg)
    assert cfg.model.compile_loss == dict(backend='aot_eager')


def test_other_models_are_refused_with_the_alternative():
    cfg = Config(dict(model=dict(type='MAE')))
    with pytest.raises(ValueError, match="type 'MAE' has no such switch.*compile = True"):
        enable_compiled_loss(cfg)
