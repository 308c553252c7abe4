"""Weighted kNN on frozen ViT features: of checkpoints (:mod:`.knn`) and of the encoder being
trained (:mod:`.encode`, used by ``KNNMonitorHook``)."""
from .encode import (check_encoder, encode_features, encoder_input_shape, gather_shards,
                     load_labelled, whole_image_tokens)
from .knn import (build_encoder, checkpoint_num_heads, extract_features, knn_predict, knn_top1,
                  load_encoder_state, model_num_heads, pixel_features, random_encoder_state)

__all__ = ['build_encoder', 'checkpoint_num_heads', 'extract_features', 'knn_predict',
           'knn_top1', 'load_encoder_state', 'model_num_heads', 'pixel_features',
           'random_encoder_state', 'check_encoder', 'encode_features', 'encoder_input_shape',
           'gather_shards', 'load_labelled', 'whole_image_tokens']
