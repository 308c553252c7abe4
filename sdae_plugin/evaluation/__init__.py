"""Evaluation of pretrained encoders without training: weighted kNN on frozen features."""
from .knn import extract_features, knn_predict, knn_top1, pixel_features
from .knn_eval import KnnSource, cached_batches, evaluate_knn, format_row, knn_sources

__all__ = ['KnnSource', 'cached_batches', 'evaluate_knn', 'extract_features', 'format_row',
           'knn_predict', 'knn_sources', 'knn_top1', 'pixel_features']
