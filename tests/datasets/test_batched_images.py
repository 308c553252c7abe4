"""BatchedFashionMNIST + collate_image_batch + BatchAugmentDataPreprocessor, through MMEngine's
Runner as a pretraining config uses them."""
import copy

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmpretrain.datasets import FashionMNIST
from mmpretrain.registry import DATASETS, MODELS

from sdae_plugin.datasets import (BATCHED_FASHION_MNIST_OPTIONS, BatchedFashionMNIST,
                                  collate_image_batch)
from sdae_plugin.models.utils.batch_augments import BatchAugmentError, apply_batch_augments

ROOT_CONFIG = 'configs/mini/sdae_vit-mini_fashion-mnist.py'


def pretrain_cfg(data_root, batched: bool = True) -> Config:
    from tests.conftest import ROOT
    cfg = Config.fromfile(str(ROOT / ROOT_CONFIG))
    loader = cfg.train_dataloader
    loader.dataset.update(data_root=str(data_root), indices=None)
    loader.update(batch_size=8, num_workers=0)
    if batched:
        cfg.merge_from_dict(BATCHED_FASHION_MNIST_OPTIONS)
    return cfg


def test_a_batch_is_the_images_of_its_indices(tmp_path, fashion_idx):
    fashion_idx(tmp_path, 48)
    cfg = pretrain_cfg(tmp_path)
    batched = DATASETS.build(copy.deepcopy(cfg.train_dataloader.dataset))
    plain = FashionMNIST(data_root=str(tmp_path), split='train', pipeline=[])
    batch = batched.__getitems__([5, 0, 47])
    assert batch['inputs'].dtype == torch.uint8 and batch['inputs'].shape == (3, 1, 28, 28)
    for row, index in zip(batch['inputs'], [5, 0, 47]):
        assert np.array_equal(row[0].numpy(), plain.get_data_info(index)['img'])
    assert batch['augments'][0]['type'] == 'RandomResizedCrop' and batch['data_samples'] is None
    assert len(batched) == 48 and isinstance(batched, FashionMNIST)
    # one image still goes through the per-image pipeline (browsing a dataset)
    assert batched[0]['inputs'].shape == (1, 32, 32)


def test_subset_indices_are_respected(tmp_path, fashion_idx):
    fashion_idx(tmp_path, 48)
    ds = BatchedFashionMNIST(data_root=str(tmp_path), split='train', indices=10,
                             pipeline=[dict(type='PackInputs')])
    assert len(ds) == 10 and ds.images.shape == (10, 1, 28, 28)


def test_an_unbatchable_pipeline_fails_at_build_time(tmp_path, fashion_idx):
    fashion_idx(tmp_path, 8)
    with pytest.raises(BatchAugmentError, match='ColorJitter'):
        BatchedFashionMNIST(data_root=str(tmp_path), split='train', pipeline=[
            dict(type='ColorJitter', brightness=0.2), dict(type='PackInputs')])


def test_collate_refuses_per_image_samples():
    with pytest.raises(TypeError, match='default_collate'):
        collate_image_batch([dict(inputs=torch.zeros(1, 4, 4))])


def test_preprocessor_augments_then_normalizes(tmp_path, fashion_idx):
    fashion_idx(tmp_path, 16)
    cfg = pretrain_cfg(tmp_path)
    preprocessor = MODELS.build(cfg.data_preprocessor)
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    batch = next(iter(loader))
    assert batch['inputs'].shape == (8, 1, 28, 28)
    torch.manual_seed(7)
    out = preprocessor(batch, True)
    torch.manual_seed(7)
    expected = (apply_batch_augments(batch['inputs'], batch['augments']) - 72.94) / 90.02
    inputs = out['inputs'][0] if isinstance(out['inputs'], list) else out['inputs']
    assert inputs.shape == (8, 1, 32, 32) and torch.allclose(inputs, expected)
    # a per-image batch (the kNN monitor's) is SelfSupDataPreprocessor's business alone
    plain_cfg = pretrain_cfg(tmp_path, batched=False)
    reference = MODELS.build(plain_cfg.data_preprocessor)
    plain = next(iter(Runner.build_dataloader(plain_cfg.train_dataloader, seed=0)))
    ours, theirs = preprocessor(plain, False), reference(plain, False)
    assert torch.equal(ours['inputs'][0], theirs['inputs'][0])


def test_pretraining_runs_and_replays_exactly(tmp_path, fashion_idx):
    """Two Runner trainings of the mini SdAE with the same seed give the same weights (the crop
    boxes follow ExactResumeHook's per-iteration seeds), and a third with another seed does
    not."""
    fashion_idx(tmp_path / 'data', 32)

    def train(seed, name):
        cfg = pretrain_cfg(tmp_path / 'data')
        cfg.update(work_dir=str(tmp_path / name), custom_hooks=cfg.custom_hooks[1:],
                   randomness=dict(seed=seed, diff_rank_seed=True))
        cfg.train_cfg.max_epochs = 2
        cfg.param_scheduler[1].update(T_max=1, end=2)
        cfg.default_hooks.logger.interval = 1
        runner = Runner.from_cfg(cfg)
        runner.train()
        return {k: v.clone() for k, v in runner.model.state_dict().items()}

    first, again, other = train(0, 'a'), train(0, 'b'), train(1, 'c')
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)
    assert all(torch.isfinite(v).all() for v in first.values() if v.is_floating_point())
