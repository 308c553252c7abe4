"""Picture tools: attention weights against an explicit computation, mask labels against the plan,
and tools/visualize_masks.py / visualize_attention.py writing PNGs of the expected size."""
import importlib.util
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from sdae_plugin.visualization import (NO_TARGET, VISIBLE, build_mask_generator, draw_plan,
                                       last_layer_attention, patch_labels)
from sdae_plugin.visualization import drawing

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / 'configs/sdae_vit-tiny_fashion-mnist_demo.py'


def load_tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / f'tools/{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_image(path: Path, size=(28, 28), mode='L') -> Path:
    """A picture with structure (a bright square on a gradient), as a PNG file."""
    h, w = size[1], size[0]
    array = np.tile(np.linspace(0, 120, w, dtype=np.uint8), (h, 1))
    array[h // 4:3 * h // 4, w // 3:2 * w // 3] = 240
    image = Image.fromarray(array, 'L')
    (image if mode == 'L' else image.convert(mode)).save(path)
    return path


def write_idx(folder: Path, num: int = 8) -> None:
    """A tiny Fashion-MNIST-format set (idx files)."""
    folder.mkdir(parents=True, exist_ok=True)
    images = np.random.default_rng(0).integers(0, 256, (num, 28, 28), dtype=np.uint8)
    for prefix in ('train', 't10k'):
        (folder / f'{prefix}-images-idx3-ubyte').write_bytes(
            struct.pack('>IIII', 2051, num, 28, 28) + images.tobytes())
        (folder / f'{prefix}-labels-idx1-ubyte').write_bytes(
            struct.pack('>II', 2049, num) + bytes(num))


def png(path: Path) -> np.ndarray:
    assert path.is_file() and path.stat().st_size > 0
    return np.asarray(Image.open(path).convert('RGB'))


def has_colour(pixels: np.ndarray, rgb, tol: int = 6) -> bool:
    return bool((np.abs(pixels.astype(int) - np.asarray(rgb)).max(axis=-1) <= tol).any())


def test_attention_weights_match_an_explicit_computation(make_sdae):
    backbone = make_sdae().backbone
    backbone.train()  # drop path 0.1: the helper must switch it off
    images = torch.randn(2, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    last = backbone.layers[-1]
    seen = []
    handle = last.attn.register_forward_hook(lambda m, args, out: seen.append((args[0], out)))
    weights = last_layer_attention(backbone, images)
    handle.remove()
    assert backbone.training  # mode restored

    # Written out: tokens through all but the last layer, then per head softmax(q.k / sqrt(d)).
    with torch.no_grad():
        x = backbone.patch_embed(images)[0]
        x = torch.cat([backbone.cls_token.expand(2, -1, -1), x], 1) + backbone.pos_embed
        for layer in backbone.layers[:-1].eval():
            x = layer(x)
        y = last.ln1(x)
        width, heads = 32, 2
        d = width // heads
        w, b = last.attn.qkv.weight, last.attn.qkv.bias
        expected = torch.empty(2, heads, 65, 65)
        for h in range(heads):
            q = y @ w[h * d:(h + 1) * d].T + b[h * d:(h + 1) * d]
            k = y @ w[width + h * d:width + (h + 1) * d].T + b[width + h * d:width + (h + 1) * d]
            logits = q @ k.transpose(1, 2) / d**0.5
            expected[:, h] = logits.exp() / logits.exp().sum(-1, keepdim=True)
    assert weights.shape == (2, heads, 65, 65)
    torch.testing.assert_close(weights, expected, atol=1e-6, rtol=1e-5)

    # ...and they are the weights the module used: A @ V, projected, is the layer's own output.
    attn_in, attn_out = seen[0]
    torch.testing.assert_close(attn_in, y, atol=1e-6, rtol=1e-5)
    v = last.attn.qkv(attn_in)[..., 2 * width:].reshape(2, 65, heads, d).transpose(1, 2)
    mixed = (weights @ v).transpose(1, 2).reshape(2, 65, width)
    torch.testing.assert_close(last.attn.proj(mixed), attn_out, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('overrides', [
    dict(type='MultiFoldMaskGenerator', mask_ratio=0.75, num_folds=3),
    dict(type='MultiFoldMaskGenerator', mask_ratio=0.75, num_folds=5, drop_remainder=True),
    dict(type='MultiFoldMaskGenerator', mode='full_image'),
])
def test_patch_labels_follow_the_plan(overrides):
    generator = build_mask_generator(dict(mask_generator=overrides), 64)
    plan = draw_plan(generator, seed=3)
    labels = patch_labels(plan)
    assert set(labels[plan.ids_keep[0]].tolist()) == {VISIBLE}
    assert (labels == VISIBLE).sum() == generator.num_visible
    for v in range(generator.num_views):
        assert set(labels[plan.target_ids[0, v]].tolist()) == {v}
        assert (labels == v).sum() == generator.num_targets
    unused = generator.num_masked - generator.num_views * generator.num_targets
    assert (labels == NO_TARGET).sum() == unused  # 48 masked, 5 folds of 9: 3 without target
    torch.manual_seed(0)
    before = torch.rand(1)
    torch.manual_seed(0)
    again = draw_plan(generator, seed=3)  # reproducible, and the global RNG is left alone
    assert torch.equal(again.view_ids, plan.view_ids) and torch.equal(torch.rand(1), before)


def test_visualize_masks_writes_the_fold_picture(tmp_path):
    tool = load_tool('visualize_masks')
    out = tmp_path / 'masks.png'
    assert tool.main([str(DEMO), '--image', str(write_image(tmp_path / 'in.png')),
                      '--seed', '1', '--out', str(out), '--dpi', '80']) == 0
    pixels = png(out)
    assert pixels.shape[1::-1] == drawing.png_size(*tool.figure_size(3), 80)  # 3 folds
    for fold in range(3):  # every fold in its own colour
        assert has_colour(pixels, drawing.PALETTE[fold])
    assert not has_colour(pixels, drawing.PALETTE[3])

    # from the config's dataset (tiny idx files), 4 folds through --cfg-options
    data = tmp_path / 'fashion_mnist'
    write_idx(data)
    out4 = tmp_path / 'masks4.png'
    assert tool.main([str(DEMO), '--index', '5', '--out', str(out4), '--cfg-options',
                      f'train_dataloader.dataset.data_root={data}',
                      'model.mask_generator.num_folds=4']) == 0
    pixels = png(out4)
    assert pixels.shape[1::-1] == drawing.png_size(*tool.figure_size(4), 100)
    assert all(has_colour(pixels, drawing.PALETTE[f]) for f in range(4))


def test_visualize_attention_writes_heads_and_mean(tmp_path):
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    tool = load_tool('visualize_attention')
    cfg = Config.fromfile(str(DEMO))
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    ckpt = tmp_path / 'epoch_1.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    first = write_image(tmp_path / 'a.png')
    second = write_image(tmp_path / 'b.jpg', size=(40, 30), mode='RGB')  # resized + cropped
    for extra, name in (([], 'student.png'), (['--teacher'], 'teacher.png')):
        out = tmp_path / name
        assert tool.main([str(DEMO), str(ckpt), '--image', str(first), str(second),
                          '--out', str(out), *extra]) == 0
        pixels = png(out)
        assert pixels.shape[1::-1] == drawing.png_size(*tool.figure_size(2, 3), 100)
        assert pixels.std() > 20  # a picture, not a blank page
        assert all(has_colour(pixels, drawing.PALETTE[h], tol=40) for h in range(3))

    # the maps it draws are the cls rows of last_layer_attention
    images = [tool.load_image(str(first), 32, 1)]
    backbone = tool.load_encoder(cfg, str(ckpt))
    torch.testing.assert_close(backbone.state_dict()['ln1.weight'],
                               model.backbone.state_dict()['ln1.weight'])
    x = tool.preprocess(images, cfg.data_preprocessor)
    torch.testing.assert_close(x, (torch.from_numpy(images[0]).permute(2, 0, 1)[None].float()
                                   - 72.94) / 90.02)
