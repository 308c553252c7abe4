"""The encoder of a pretraining config at its initialization: the floor of every evaluation."""
import copy

import torch

from ..runtime.quiet_console import quiet_console
from .encoder_weights import EncoderWeights
from .num_heads import heads_of_config


def random_encoder(model_cfg: dict, seed: int = 0) -> EncoderWeights:
    """The student encoder of a pretraining model config as pretraining starts.

    The model (e.g. SdAE or MAE) is built from ``model_cfg`` in MMPretrain's scope and initialized
    with its own ``init_cfg`` after ``torch.manual_seed(seed)``, exactly as pretraining starts.
    ``init_weights``'s report (a block per parameter, which a ``Runner`` sends to its log file)
    stays off the terminal.

    Args:
        model_cfg (dict): the config's ``model``.
        seed (int): the seed of the initialization. Defaults to 0.

    Returns:
        EncoderWeights: the backbone's weights, with the config's head count.
    """
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    torch.manual_seed(seed)
    model = MODELS.build(copy.deepcopy(model_cfg))
    with quiet_console():
        model.init_weights()
    state = {k: v.detach().clone() for k, v in model.backbone.state_dict().items()}
    return EncoderWeights(state, num_heads=heads_of_config(model_cfg), num_heads_from='the config',
                   meta=dict(source='random init', source_format='config', branch='student',
                             seed=seed))
