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


# A stand-in for the released SdAE code (AbrahamYabo/SdAE) and its timm 0.3.2, in their layout:
# the module, function, attribute and parameter names that projects.benchmark reads, with a
# tiny ViT (width 32, 2 blocks; decoder 16 wide, 1 block). It is written here, from the
# released code's description (MAE-style student that draws the mask, timm ViT teacher that
# encodes the masked patches as folds), as an independent reference of that computation. It
# uses `torch._six` and `np.float`, so it only imports with the benchmark's shims.
STANDIN_TIMM_VIT = '''
import torch
from torch import nn
from torch._six import container_abcs

ATTENTION_SCALE = 1.0  # a test changes it to make the stand-in compute something else


def to_2tuple(x):
    return tuple(x) if isinstance(x, container_abcs.Iterable) else (x, x)


def drop_path(x, rate, training):
    if rate == 0. or not training:
        return x
    keep = 1 - rate
    draw = torch.rand((x.shape[0],) + (1,) * (x.ndim - 1), dtype=x.dtype, device=x.device)
    return x.div(keep) * (keep + draw).floor()


class PatchEmbed(nn.Module):
    def __init__(self, img_size=224, patch_size=16, in_chans=3, embed_dim=768):
        super().__init__()
        self.img_size, self.patch_size = to_2tuple(img_size), to_2tuple(patch_size)
        self.num_patches = ((self.img_size[0] // self.patch_size[0]) *
                            (self.img_size[1] // self.patch_size[1]))
        self.proj = nn.Conv2d(in_chans, embed_dim, patch_size, stride=patch_size)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, dim, num_heads, qkv_bias=False, qk_scale=None):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (qk_scale or (dim // num_heads) ** -0.5) * ATTENTION_SCALE
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        weights = (q @ k.transpose(-2, -1) * self.scale).softmax(dim=-1)
        return self.proj((weights @ v).transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio=4., qkv_bias=False, qk_scale=None,
                 drop_path=0., norm_layer=nn.LayerNorm):
        super().__init__()
        self.norm1, self.norm2 = norm_layer(dim), norm_layer(dim)
        self.attn = Attention(dim, num_heads, qkv_bias, qk_scale)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.rate = drop_path

    def forward(self, x):
        x = x + drop_path(self.attn(self.norm1(x)), self.rate, self.training)
        return x + drop_path(self.mlp(self.norm2(x)), self.rate, self.training)


class VisionTransformer(nn.Module):
    def __init__(self, img_size=224, patch_size=16, in_chans=3, num_classes=1000, embed_dim=768,
                 depth=12, num_heads=12, mlp_ratio=4., qkv_bias=False, drop_path_rate=0.,
                 norm_layer=nn.LayerNorm):
        super().__init__()
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        self.cls_token = nn.Parameter(torch.randn(1, 1, embed_dim) * .02)
        self.pos_embed = nn.Parameter(
            torch.randn(1, self.patch_embed.num_patches + 1, embed_dim) * .02)
        self.pos_drop = nn.Dropout(0.)
        rates = [r.item() for r in torch.linspace(0, drop_path_rate, depth)]
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads, mlp_ratio, qkv_bias,
                                           drop_path=r, norm_layer=norm_layer) for r in rates])
        self.norm = norm_layer(embed_dim)
        self.head = nn.Linear(embed_dim, num_classes)
'''
STANDIN_POS_EMBED = '''
import numpy as np


def get_2d_sincos_pos_embed(embed_dim, grid_size, cls_token=False):
    table = np.sin(np.arange((grid_size ** 2 + int(cls_token)) * embed_dim, dtype=np.float))
    return table.reshape(-1, embed_dim)
'''
STANDIN_MODELS_MAE = '''
from functools import partial

import torch
from torch import nn
from timm.models.vision_transformer import Block, PatchEmbed
from util.pos_embed import get_2d_sincos_pos_embed


class MaskedAutoencoderViT(nn.Module):
    def __init__(self, img_size=224, patch_size=16, in_chans=3, embed_dim=1024, depth=24,
                 num_heads=16, decoder_embed_dim=512, decoder_depth=8, decoder_num_heads=16,
                 mlp_ratio=4., norm_layer=nn.LayerNorm, drop_path=0.0):
        super().__init__()
        print('drop path', drop_path)
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        grid = int(self.patch_embed.num_patches ** .5)
        self.cls_token = nn.Parameter(torch.randn(1, 1, embed_dim) * .02)
        self.pos_embed = nn.Parameter(torch.from_numpy(
            get_2d_sincos_pos_embed(embed_dim, grid, True)).float()[None], requires_grad=False)
        rates = [r.item() for r in torch.linspace(0, drop_path, depth)]
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads, mlp_ratio, qkv_bias=True,
                                           drop_path=r, norm_layer=norm_layer) for r in rates])
        self.norm = norm_layer(embed_dim)
        self.decoder_embed = nn.Linear(embed_dim, decoder_embed_dim)
        self.mask_token = nn.Parameter(torch.randn(1, 1, decoder_embed_dim) * .02)
        self.decoder_pos_embed = nn.Parameter(torch.from_numpy(
            get_2d_sincos_pos_embed(decoder_embed_dim, grid, True)).float()[None],
            requires_grad=False)
        self.decoder_blocks = nn.ModuleList([
            Block(decoder_embed_dim, decoder_num_heads, mlp_ratio, qkv_bias=True,
                  norm_layer=norm_layer) for _ in range(decoder_depth)])
        self.decoder_norm = norm_layer(decoder_embed_dim)
        self.decoder_pred = nn.Linear(decoder_embed_dim, embed_dim)

    def random_masking(self, x, mask_ratio):
        n, length, dim = x.shape
        keep = int(length * (1 - mask_ratio))
        order = torch.argsort(torch.rand(n, length, device=x.device), dim=1)
        restore = torch.argsort(order, dim=1)
        kept = torch.gather(x, 1, order[:, :keep, None].expand(-1, -1, dim))
        mask = torch.ones(n, length, device=x.device)
        mask[:, :keep] = 0
        return kept, torch.gather(mask, 1, restore), restore, order[:, keep:]

    def forward(self, imgs, mask_ratio=0.75):
        x = self.patch_embed(imgs) + self.pos_embed[:, 1:]
        x, mask, restore, unkept = self.random_masking(x, mask_ratio)
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1)
        for block in self.blocks:
            x = block(x)
        x = self.decoder_embed(self.norm(x))
        masks = self.mask_token.expand(x.shape[0], restore.shape[1] + 1 - x.shape[1], -1)
        rest = torch.cat([x[:, 1:], masks], dim=1)
        rest = torch.gather(rest, 1, restore[..., None].expand(-1, -1, x.shape[2]))
        x = torch.cat([x[:, :1], rest], dim=1) + self.decoder_pos_embed
        for block in self.decoder_blocks:
            x = block(x)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:], mask, unkept


TINY = dict(patch_size=16, embed_dim=32, depth=2, num_heads=2, decoder_embed_dim=16,
            decoder_depth=1, decoder_num_heads=2, mlp_ratio=4,
            norm_layer=partial(nn.LayerNorm, eps=1e-6))
mae_vit_small_patch16 = mae_vit_base_patch16 = mae_vit_large_patch16 = partial(
    MaskedAutoencoderViT, **TINY)
'''
STANDIN_MODELS_TEACHER = '''
from functools import partial

import torch
from torch import nn
import timm.models.vision_transformer


class VisionTransformer(timm.models.vision_transformer.VisionTransformer):
    def __init__(self, global_pool=False, mask_ratio=None, shrink_num=None, **kwargs):
        super().__init__(**kwargs)
        del self.head

    def forward(self, x, ids_unkeep=None, shrink_num=None, ncrop_loss=None):
        batch = x.shape[0]
        x = self.patch_embed(x) + self.pos_embed[:, 1:]
        ids = ids_unkeep[:, :shrink_num]
        x = torch.gather(x, 1, ids[..., None].expand(-1, -1, x.shape[2]))
        x = x.reshape(batch * ncrop_loss, shrink_num // ncrop_loss, x.shape[2])
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(x.shape[0], -1, -1)
        x = self.pos_drop(torch.cat([cls, x], dim=1))
        for block in self.blocks:
            x = block(x)
        return self.norm(x)[:, 1:]


vit_small_patch16 = vit_base_patch16 = vit_large_patch16 = partial(
    VisionTransformer, patch_size=16, embed_dim=32, depth=2, num_heads=2, mlp_ratio=4,
    qkv_bias=True, norm_layer=partial(nn.LayerNorm, eps=1e-6))
'''


def write_released_standin(root, timm_version: str = '0.3.2',
                           attention_scale: float = 1.0) -> tuple:
    """Write the stand-in checkout and its timm; returns ``(checkout, timm_dir)`` as str."""
    root = Path(root)
    checkout, timm_dir = root / 'SdAE', root / 'timm032'
    files = {
        checkout / 'models_mae.py': STANDIN_MODELS_MAE,
        checkout / 'models_teacher.py': STANDIN_MODELS_TEACHER,
        checkout / 'util' / '__init__.py': '',
        checkout / 'util' / 'pos_embed.py': STANDIN_POS_EMBED,
        timm_dir / 'timm' / '__init__.py': f'__version__ = {timm_version!r}\n',
        timm_dir / 'timm' / 'models' / '__init__.py': '',
        timm_dir / 'timm' / 'models' / 'vision_transformer.py': STANDIN_TIMM_VIT.replace(
            'ATTENTION_SCALE = 1.0', f'ATTENTION_SCALE = {attention_scale!r}'),
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(checkout), str(timm_dir)


@pytest.fixture
def released_standin():
    """Factory: ``released_standin(root, timm_version='0.3.2', attention_scale=1.0)`` writes a
    stand-in of the released code and timm 0.3.2; returns ``(checkout, timm_dir)``."""
    return write_released_standin
