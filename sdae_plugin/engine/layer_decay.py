"""Layer-wise learning-rate decay for a ViT backbone inside any OpenMMLab model."""
import copy
from typing import Callable, List, Optional, Tuple

from mmengine.optim import OptimWrapper
from mmpretrain.engine.optimizers import LearningRateDecayOptimWrapperConstructor
from mmpretrain.registry import OPTIM_WRAPPER_CONSTRUCTORS
from torch import nn

from ..runtime.fused_optimizer import check_fused_support

# Weight decay 0 for these, as MAE/BEiT fine-tuning: every 1-D tensor (biases, norm weights),
# norm layers, and the position embedding and cls token of the ViT.
DEFAULT_NO_DECAY = dict(
    norm_decay_mult=0.,
    bias_decay_mult=0.,
    flat_decay_mult=0.,
    custom_keys={
        '.pos_embed': dict(decay_mult=0.),
        '.cls_token': dict(decay_mult=0.),
    })


def find_layer_depth(model: nn.Module) -> Callable[[str], Tuple[int, int]]:
    """``param_name -> (layer_depth, num_depths)`` for a whole model.

    The depth comes from the backbone itself: ``model.backbone.get_layer_depth(name,
    'backbone.')`` (MMPretrain's ``VisionTransformer``: patch embed, cls token and position
    embedding 0, block ``i`` ``i + 1``, everything else ``num_layers + 1``). Parameters outside
    the backbone (necks, heads) get the last depth, so their lr is not decayed. A model without a
    ``backbone`` attribute may provide ``get_layer_depth(name)`` itself.
    """
    backbone = getattr(model, 'backbone', None)
    if backbone is not None and hasattr(backbone, 'get_layer_depth'):
        return lambda name: backbone.get_layer_depth(name, 'backbone.')
    if hasattr(model, 'get_layer_depth'):
        return model.get_layer_depth
    raise NotImplementedError(
        f'Layer-wise lr decay needs {type(model).__name__}.backbone.get_layer_depth '
        f'(backbone: {type(backbone).__name__ if backbone is not None else None}); '
        "MMPretrain's VisionTransformer and its subclasses have it.")


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class ViTLayerDecayOptimWrapperConstructor(LearningRateDecayOptimWrapperConstructor):
    """Layer-wise lr decay for MMPretrain's ViT in classifiers, Mask R-CNN and EncoderDecoder.

    MMPretrain's :class:`LearningRateDecayOptimWrapperConstructor` needs ``get_layer_depth`` on
    the top-level model, which ``ImageClassifier`` has and MMDetection's ``MaskRCNN`` and
    MMSegmentation's ``EncoderDecoder`` do not; their own layer-decay constructors key on backbone
    class names (``BEiT``/``MAE``/``ConvNeXt``) and ViTDet's parses ``blocks.N``. This one asks the
    model's backbone for the depth of each parameter (:func:`find_layer_depth`), so it works
    with any model whose ``backbone`` has ``get_layer_depth``. A parameter at depth ``d`` of
    ``D`` gets ``lr = base_lr * layer_decay_rate ** (D - 1 - d)``: for ViT-B (``D = 14``) the
    patch embedding gets ``rate**13``, block 0 ``rate**12``, block 11 ``rate``, the rest 1.

    No weight decay for norms, biases, other 1-D tensors, ``pos_embed`` and ``cls_token``
    (:data:`DEFAULT_NO_DECAY`); keys given in ``paramwise_cfg`` override these defaults. An
    optimizer config with ``fused=True`` is checked against the parameters' devices first
    (:func:`~sdae_plugin.runtime.fused_optimizer.check_fused_support`).
    Registered in MMPretrain's ``OPTIM_WRAPPER_CONSTRUCTORS``: from MMDetection or MMSegmentation
    configs use ``constructor='mmpretrain.ViTLayerDecayOptimWrapperConstructor'``.

    Example::

        optim_wrapper = dict(
            optimizer=dict(type='AdamW', lr=3e-4, weight_decay=0.05),
            constructor='mmpretrain.ViTLayerDecayOptimWrapperConstructor',
            paramwise_cfg=dict(layer_decay_rate=0.75))
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None) -> None:
        cfg = copy.deepcopy(DEFAULT_NO_DECAY)
        user = dict(paramwise_cfg or {})
        cfg['custom_keys'].update(user.pop('custom_keys', {}) or {})
        cfg.update(user)
        if optim_wrapper_cfg.get('optimizer', {}).get('weight_decay') is None:
            raise ValueError('optimizer.weight_decay must be set (0 for none): the no-decay '
                             'rules scale it')
        if 'layer_decay_rate' not in cfg:
            raise ValueError('paramwise_cfg.layer_decay_rate is required (e.g. 0.65 for ViT-B '
                             'fine-tuning, 0.75 for detection)')
        super().__init__(optim_wrapper_cfg, cfg)

    def __call__(self, model: nn.Module) -> OptimWrapper:
        check_fused_support(self.optimizer_cfg, model)
        return super().__call__(model)

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '',
                   get_layer_depth: Optional[Callable] = None, **kwargs) -> None:
        if get_layer_depth is None:
            get_layer_depth = find_layer_depth(module)
        super().add_params(params, module, prefix=prefix, get_layer_depth=get_layer_depth,
                           **kwargs)
