"""Weighted kNN on frozen ViT features, of checkpoints (``tools/knn_eval.py``) and of the encoder
being trained (``KNNMonitorHook``): one feature extractor and one loader (:mod:`.features`), the
classifier (:mod:`.knn`) and the tool's evaluation (:mod:`.knn_eval`)."""
from .features import (PRECISIONS, Batches, batch_labels, check_encoder, encoder_input_shape,
                       extract_features, gather_shards, load_labelled, pixel_features,
                       whole_image_tokens)
from .knn import knn_predict, knn_top1
from .knn_eval import KnnSource, evaluate_knn, format_row, knn_sources, labelled_splits

__all__ = ['PRECISIONS', 'Batches', 'KnnSource', 'batch_labels', 'check_encoder',
           'encoder_input_shape', 'evaluate_knn', 'extract_features', 'format_row',
           'gather_shards', 'knn_predict', 'knn_sources', 'knn_top1', 'labelled_splits',
           'load_labelled', 'pixel_features', 'whole_image_tokens']
