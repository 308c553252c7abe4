"""Shared fixtures: tiny but real SdAE models built through the MMPretrain registry, their
checkpoints, tiny data sets, and the tools run as users run them (subprocesses)."""
import copy
import socket
import struct
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch

import sdae_plugin  # noqa: F401  (registers the modules)
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

init_default_scope('mmpretrain')

ROOT = Path(__file__).resolve().parents[1]

TINY_ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)


def tiny_sdae_cfg(img_size: int = 32, patch_size: int = 4, **overrides) -> dict:
    """An SdAE config with a 2-layer, 32-wide ViT on 1-channel images (64 patches by default)."""
    num_patches = (img_size // patch_size)**2
    cfg = dict(
        type='SdAE',
        backbone=dict(type='SdAEViT', arch=TINY_ARCH, img_size=img_size, patch_size=patch_size,
                      patch_cfg=dict(in_channels=1), drop_path_rate=0.1),
        neck=dict(type='SdAENeck', num_patches=num_patches, embed_dim=32, decoder_embed_dim=16,
                  decoder_depth=1, decoder_num_heads=2),
        head=dict(type='SdAEHead'),
        mask_generator=dict(type='MultiFoldMaskGenerator', mask_ratio=0.75, num_folds=3),
        data_preprocessor=dict(type='SelfSupDataPreprocessor', mean=[0.], std=[1.],
                               to_rgb=False))
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    return cfg


def build_tiny_sdae(**overrides) -> torch.nn.Module:
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(tiny_sdae_cfg(**overrides)))
    model.init_weights()
    return model


@pytest.fixture
def make_sdae():
    """Factory: ``make_sdae(**overrides)`` builds and initializes a tiny SdAE."""
    return build_tiny_sdae


@pytest.fixture
def sdae_cfg():
    """Factory: ``sdae_cfg(**overrides)`` returns the tiny SdAE config dict."""
    return tiny_sdae_cfg


class SyntheticImages(torch.utils.data.Dataset):
    """``length`` random 1x32x32 images, in the form MMPretrain's PackInputs produces."""

    def __init__(self, length: int = 8, img_size: int = 32) -> None:
        generator = torch.Generator().manual_seed(0)
        self.images = torch.randint(0, 256, (length, 1, img_size, img_size), generator=generator,
                                    dtype=torch.uint8)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, idx: int) -> dict:
        from mmpretrain.structures import DataSample
        return dict(inputs=self.images[idx], data_samples=DataSample())


class LabelledImages(torch.utils.data.Dataset):
    """Given uint8 images ``(N, C, H, W)`` and labels ``(N,)``, as PackInputs packs them."""

    def __init__(self, images: torch.Tensor, labels) -> None:
        self.images = images
        self.labels = torch.as_tensor(labels).long()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, idx: int) -> dict:
        from mmpretrain.structures import DataSample
        return dict(inputs=self.images[idx],
                    data_samples=DataSample().set_gt_label(int(self.labels[idx])))


def build_runner(work_dir, model=None, max_epochs: int = 2, lr: float = 1e-3, hooks=None,
                 train_cfg=None, batch_size: int = 4, length: int = 8, default_hooks=None,
                 **kwargs):
    """A real MMEngine Runner on the tiny SdAE and synthetic images (no files, no workers)."""
    from mmengine.runner import Runner
    hooks = [dict(type='TeacherEMAHook')] if hooks is None else hooks
    return Runner(
        model=tiny_sdae_cfg() if model is None else model,
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=SyntheticImages(length), batch_size=batch_size, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(constructor='SdAEOptimWrapperConstructor',
                           optimizer=dict(type='AdamW', lr=lr, weight_decay=0.05)),
        train_cfg=train_cfg or dict(by_epoch=True, max_epochs=max_epochs),
        custom_hooks=hooks,
        default_hooks=default_hooks or dict(
            logger=dict(type='LoggerHook', interval=1),
            weights_only_checkpoint=dict(type='WeightsOnlyCheckpointHook')),
        default_scope='mmpretrain',
        randomness=dict(seed=0),
        # runners built in the same second would otherwise share one MessageHub
        experiment_name=f'{Path(work_dir).name}-{uuid.uuid4().hex[:8]}',
        **kwargs)


@pytest.fixture
def make_runner():
    """Factory: ``make_runner(work_dir, **options)`` builds a real Runner on the tiny SdAE."""
    return build_runner


def write_fashion_idx(folder, num: int = 48) -> None:
    """A tiny Fashion-MNIST-format set (idx files, as Debian ships them un-gzipped)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (num, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, num, dtype=np.uint8)
    for prefix in ('train', 't10k'):
        (folder / f'{prefix}-images-idx3-ubyte').write_bytes(
            struct.pack('>IIII', 2051, num, 28, 28) + images.tobytes())
        (folder / f'{prefix}-labels-idx1-ubyte').write_bytes(
            struct.pack('>II', 2049, num) + labels.tobytes())


def assert_identical(a, b, path: str = 'state') -> None:
    """Bit-exact equality of nested states (tensors with torch.equal, numbers with ==)."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), path
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            assert_identical(a[key], b[key], f'{path}.{key}')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, f'{path}[{i}]')
    else:
        assert a == b, f'{path}: {a!r} != {b!r}'


@pytest.fixture
def fashion_idx():
    """Factory: ``fashion_idx(folder, num=48)`` writes a tiny Fashion-MNIST idx set there."""
    return write_fashion_idx


@pytest.fixture
def identical():
    """``identical(a, b)`` asserts bit-exact equality of nested checkpoint states."""
    return assert_identical


@pytest.fixture(scope='session')
def mini_protocol():
    """Factory: ``mini_protocol(**sweep_options)`` is the resolved-config protocol of the mini
    sweep with those options (``sdae_plugin.experiments``), cached per options."""
    from sdae_plugin.experiments import StagePlan, make_settings
    cache = {}

    def build(**options):
        key = repr(sorted(options.items()))
        if key not in cache:
            cache[key] = StagePlan(make_settings(work_dir='/tmp/unused_mini',
                                                 **options)).protocol()
        return cache[key]
    return build


def run_tool_process(name: str, *args, returncode: int = 0) -> subprocess.CompletedProcess:
    """``python tools/<name>.py ARGS`` from the repository root; asserts its exit status."""
    result = subprocess.run([sys.executable, str(ROOT / 'tools' / f'{name}.py'),
                             *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == returncode, (result.stdout + result.stderr)[-6000:]
    return result


@pytest.fixture
def run_tool():
    """``run_tool(name, *args, returncode=0)`` runs ``tools/<name>.py`` as a user would."""
    return run_tool_process


@pytest.fixture(scope='session')
def trained_checkpoint(tmp_path_factory) -> Path:
    """``epoch_1.pth`` of one real training epoch of the tiny SdAE (2 heads), written by MMEngine's
    Runner with the training config in its meta, as tools/train.py writes it."""
    from mmengine.config import Config
    folder = tmp_path_factory.mktemp('trained')
    runner = build_runner(folder / 'run', max_epochs=1, cfg=Config(dict(model=tiny_sdae_cfg())))
    runner.train()
    return folder / 'run' / 'epoch_1.pth'


def write_image(path, size=(28, 28), mode: str = 'L') -> Path:
    """A picture with structure (a bright square on a gradient), as an image file."""
    from PIL import Image
    width, height = size
    array = np.tile(np.linspace(0, 120, width, dtype=np.uint8), (height, 1))
    array[height // 4:3 * height // 4, width // 3:2 * width // 3] = 240
    image = Image.fromarray(array, 'L')
    (image if mode == 'L' else image.convert(mode)).save(path)
    return Path(path)


@pytest.fixture
def image_file():
    """Factory: ``image_file(path, size=(28, 28), mode='L')`` writes a structured picture."""
    return write_image


@pytest.fixture
def png_size():
    """``png_size(width_in, height_in, dpi)``: the pixel size of a figure saved by
    :func:`sdae_plugin.visualization.drawing.save` (no tight bounding box)."""
    return lambda width_in, height_in, dpi: (int(round(width_in * dpi)),
                                             int(round(height_in * dpi)))


@pytest.fixture
def labelled_images():
    """Factory: ``labelled_images(images, labels)`` is a labelled dataset of those images."""
    return LabelledImages


@pytest.fixture
def demo_data():
    """``demo_data(folder)`` writes tiny idx files there and returns the ``--cfg-options``
    entries that point the demo config's pretraining and kNN-monitor data at them."""
    def make(folder, num: int = 48) -> list:
        write_fashion_idx(folder, num)
        return [f'train_dataloader.dataset.data_root={folder}',
                'train_dataloader.dataset.indices=None',
                f'custom_hooks.2.bank_dataloader.dataset.data_root={folder}',
                f'custom_hooks.2.query_dataloader.dataset.data_root={folder}']
    return make


@pytest.fixture
def synthetic_images():
    """Factory: ``synthetic_images(length)`` is an unlabelled dataset of random images."""
    return SyntheticImages


@pytest.fixture
def reference_vit():
    """Factory: ``reference_vit(state)`` is MMPretrain's ``VisionTransformer`` of the tiny arch
    (1 channel, 32x32, patch 4) with ``out_type='raw'`` (all tokens after the final norm),
    loaded strictly with a tiny SdAE encoder's ``state_dict``, in eval mode."""
    def make(state: dict) -> torch.nn.Module:
        from mmpretrain.models import VisionTransformer
        vit = VisionTransformer(arch=TINY_ARCH, img_size=32, patch_size=4, in_channels=1,
                                out_type='raw', norm_cfg=dict(type='LN', eps=1e-6))
        vit.load_state_dict(state)
        vit.eval()  # (VisionTransformer.train returns None: no chaining)
        return vit
    return make


@pytest.fixture
def free_port():
    """``free_port()``: a TCP port on 127.0.0.1 that is free now (for a process group)."""
    def find() -> int:
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            return s.getsockname()[1]
    return find


@pytest.fixture
def demo_data():
    """``demo_data(folder)`` writes tiny idx files there and returns the ``--cfg-options``
    entries that point the demo config's pretraining data at them."""
    def make(folder, num: int = 48) -> list:
        write_fashion_idx(folder, num)
        return [f'train_dataloader.dataset.data_root={folder}',
                'train_dataloader.dataset.indices=None']
    return make
