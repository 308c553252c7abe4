"""Encoder I/O: read any checkpoint the project accepts, build ViTs from it, write backbone and
timm files. Every tool reads weights through here, with one key table and one head-count policy.

Public API::

    Encoder(state, num_heads=None, meta={}, num_heads_from='')   # .arch -> ViTArch, .vit_kwargs()
    read_encoder(path, teacher=False, num_heads=None, config=None, unsafe=False,
                 require_heads=True) -> Encoder
    save_backbone(encoder, path)    # {'state_dict': {'backbone.*'}, 'meta': {..., 'num_heads'}}
    random_encoder(model_cfg, seed=0) -> Encoder               # a pretraining config at init
    build_vit(encoder, out_type='raw', strict=True) -> VisionTransformer (eval, loaded)
    build_config_backbone(config, options=None, **overrides) -> backbone without init_cfg
    check_backbone_state(backbone, state, strict=True, context='') -> (missing, unexpected)
    extract_backbone(src, out, teacher=False, num_heads=None, configs=(), cfg_options=None,
                     unsafe=False) -> Extraction
    to_timm_state_dict(encoder), timm_kwargs(encoder), verify_timm(encoder, timm_state, kwargs),
    write_timm_export(encoder, out, verify=True, atol=1e-5) -> TimmExport
    export_timm(src, out, teacher=False, num_heads=None, config=None, unsafe=False, verify=True,
                atol=1e-5) -> TimmExport
    to_timm_key(key), from_timm_key(key)      # the one MMPretrain <-> MAE/timm key table
    BackboneKeyError, HeadCountError          # both ValueErrors

Modules: :mod:`.keys` (key table), :mod:`.encoder` (the record and the shape its weights
determine), :mod:`.heads` (head-count policy), :mod:`.checkpoints` (reading and writing files),
:mod:`.vit` (MMPretrain models), :mod:`.timm` (timm files), :mod:`.random_init`,
:mod:`.extraction`, :mod:`.errors`.
"""
from .checkpoints import read_encoder, save_backbone
from .encoder import Encoder, ViTArch
from .errors import BackboneKeyError, HeadCountError
from .extraction import Extraction, extract_backbone
from .keys import from_timm_key, to_timm_key
from .random_init import random_encoder
from .timm import (TimmExport, export_timm, timm_kwargs, to_timm_state_dict, verify_timm,
                   write_timm_export)
from .vit import build_config_backbone, build_vit, check_backbone_state

__all__ = [
    'BackboneKeyError', 'Encoder', 'Extraction', 'HeadCountError', 'TimmExport', 'ViTArch',
    'build_config_backbone', 'build_vit', 'check_backbone_state', 'export_timm',
    'extract_backbone', 'from_timm_key', 'random_encoder', 'read_encoder', 'save_backbone',
    'timm_kwargs', 'to_timm_key', 'to_timm_state_dict', 'verify_timm', 'write_timm_export'
]
