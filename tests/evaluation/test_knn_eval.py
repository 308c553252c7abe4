"""evaluate_knn end to end: data config, cached batches, every kind of source, the rows."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from sdae_plugin.checkpoints import HeadCountError
from sdae_plugin.evaluation import evaluate_knn, format_row, knn_sources

ROOT = Path(__file__).resolve().parents[2]
KNN_CFG = ROOT / 'configs/mini/eval/knn_fashion-mnist.py'
MINI_SDAE = ROOT / 'configs/mini/sdae_vit-mini_fashion-mnist.py'


def data_cfg(root: Path, **options) -> Config:
    cfg = Config.fromfile(str(KNN_CFG))
    cfg.merge_from_dict({'train_dataloader.dataset.data_root': str(root),
                         'test_dataloader.dataset.data_root': str(root), **options})
    return cfg


def test_each_image_finds_itself(tmp_path, fashion_idx, trained_checkpoint):
    """A tiny idx set whose test split is its train split: with k=1 every query's nearest
    neighbour is itself, so top-1 is 100 % for any encoder, but only if features and labels stay
    paired through data loading, caching and every feature kind (cls, mean-pool, pixels)."""
    fashion_idx(tmp_path / 'fashion', num=40)
    cfg = data_cfg(tmp_path / 'fashion', **{'train_dataloader.batch_size': 16,
                                             'test_dataloader.batch_size': 7})
    sources = knn_sources([str(trained_checkpoint)], random_init=str(MINI_SDAE), pixels=True)
    seen = []
    rows = evaluate_knn(cfg, sources, k=1, on_row=seen.append)
    assert seen == rows
    assert [r['checkpoint'] for r in rows] == ['pixels', f'random-init:{MINI_SDAE}',
                                               str(trained_checkpoint)]
    for row in rows:
        assert (row['num_train'], row['num_test'], row['k'], row['branch']) == (40, 40, 1,
                                                                               'student')
    assert rows[0]['top1_pixels'] == 100.0 and 'top1_cls' not in rows[0]
    for row in rows[1:]:
        assert row['top1_cls'] == row['top1_mean'] == 100.0
    assert format_row(rows[2]).startswith('kNN top-1 (k=1, T=0.07, 40 train -> 40 test): '
                                          'cls 100.00  mean 100.00  [')


def test_protocol_defaults_and_the_teacher(tmp_path, fashion_idx, trained_checkpoint):
    fashion_idx(tmp_path / 'fashion', num=40)
    cfg = data_cfg(tmp_path / 'fashion', **{'train_dataloader.dataset.indices': 24})
    rows = evaluate_knn(cfg, knn_sources([str(trained_checkpoint)], teacher=True))
    assert (rows[0]['k'], rows[0]['temperature'], rows[0]['num_train']) == (20, 0.07, 24)
    assert rows[0]['branch'] == 'teacher' and 0.0 <= rows[0]['top1_cls'] <= 100.0


def test_a_checkpoint_without_head_count_fails_naming_the_flag(tmp_path, fashion_idx, make_sdae):
    fashion_idx(tmp_path / 'fashion', num=8)
    path = tmp_path / 'no_config.pth'
    torch.save(dict(state_dict=make_sdae().state_dict()), path)
    with pytest.raises(HeadCountError, match='Pass --num-heads N'):
        evaluate_knn(data_cfg(tmp_path / 'fashion'), knn_sources([str(path)]))
    rows = evaluate_knn(data_cfg(tmp_path / 'fashion'), knn_sources([str(path)], num_heads=2))
    assert rows[0]['num_test'] == 8
