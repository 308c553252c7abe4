"""Weighted kNN on frozen ViT features: of checkpoints (:mod:`.knn`, :mod:`.knn_eval`) and of the
encoder being trained (:mod:`.encode`, used by ``KNNMonitorHook``)."""
from .encode import (check_encoder, encode_features, encoder_input_shape, gather_shards,
                     load_labelled, whole_image_tokens)
from .knn import extract_features, knn_predict, knn_top1, pixel_features
from .knn_eval import KnnSource, cached_batches, evaluate_knn, format_row, knn_sources

__all__ = ['KnnSource', 'cached_batches', 'evaluate_knn', 'extract_features', 'format_row',
           'knn_predict', 'knn_sources', 'knn_top1', 'pixel_features', 'check_encoder',
           'encode_features', 'encoder_input_shape', 'gather_shards', 'load_labelled',
           'whole_image_tokens']
