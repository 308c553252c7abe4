"""Checkpoints in and out: the one place that reads and writes weights.

Every tool reads an encoder's weights through here, with one converter per foreign format and one
head-count policy.

Public API::

    EncoderWeights(state, num_heads=None, meta={}, num_heads_from='')  # .arch -> ViTArch
    read_encoder(path, teacher=False, num_heads=None, config=None, unsafe=False,
                 require_heads=True) -> EncoderWeights
    save_backbone(weights, path)    # {'state_dict': {'backbone.*'}, 'meta': {..., 'num_heads'}}
    random_encoder(model_cfg, seed=0) -> EncoderWeights        # a pretraining config at init
    build_vit(weights, out_type='raw', strict=True) -> VisionTransformer (eval, loaded)
    build_config_backbone(config, options=None, **overrides) -> backbone without init_cfg
    check_backbone_state(backbone, state, strict=True, context='') -> (missing, unexpected)
    extract_backbone(src, out, teacher=False, num_heads=None, configs=(), cfg_options=None,
                     unsafe=False) -> Extraction
    to_timm_state_dict(weights), timm_kwargs(weights), verify_timm(weights, timm_state, kwargs),
    write_timm_export(weights, out, verify=True, atol=1e-5) -> TimmExport
    export_timm(src, out, teacher=False, num_heads=None, config=None, unsafe=False, verify=True,
                atol=1e-5) -> TimmExport
    to_timm_key(key), from_timm_key(key)            # MMPretrain <-> MAE/timm encoder names
    released_encoder_state(state), released_to_sdae_key(key, teacher=False),
    released_to_sdae_state(student, teacher)        # the released code's checkpoints
    BackboneKeyError, HeadCountError                # both ValueErrors

Modules: :mod:`.released_format` (the converter of the foreign formats: MAE/timm names and the
released code's student, decoder and teacher), :mod:`.encoder_weights` (the record and the shape
its weights determine), :mod:`.num_heads` (head-count policy), :mod:`.files` (reading and writing
files), :mod:`.vit` (MMPretrain models), :mod:`.timm` (timm files), :mod:`.random_init`,
:mod:`.extraction`, :mod:`.errors`.
"""
from .encoder_weights import EncoderWeights, ViTArch
from .errors import BackboneKeyError, HeadCountError
from .extraction import Extraction, extract_backbone
from .files import read_encoder, save_backbone
from .random_init import random_encoder
from .released_format import (from_timm_key, released_encoder_state, released_to_sdae_key,
                              released_to_sdae_state, to_timm_key)
from .timm import (TimmExport, export_timm, timm_kwargs, to_timm_state_dict, verify_timm,
                   write_timm_export)
from .vit import build_config_backbone, build_vit, check_backbone_state

__all__ = [
    'BackboneKeyError', 'EncoderWeights', 'Extraction', 'HeadCountError', 'TimmExport',
    'ViTArch', 'build_config_backbone', 'build_vit', 'check_backbone_state', 'export_timm',
    'extract_backbone', 'from_timm_key', 'random_encoder', 'read_encoder',
    'released_encoder_state', 'released_to_sdae_key', 'released_to_sdae_state', 'save_backbone',
    'timm_kwargs', 'to_timm_key', 'to_timm_state_dict', 'verify_timm', 'write_timm_export'
]
