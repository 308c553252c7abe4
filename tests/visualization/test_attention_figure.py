"""visualize_attention: a PNG of the expected size with every head, from the right weights."""
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from sdae_plugin.checkpoints import HeadCountError
from sdae_plugin.visualization import (load_attention_backbone, load_image, preprocess,
                                       visualize_attention)
from sdae_plugin.visualization import drawing
from sdae_plugin.visualization.attention_figure import figure_size, top_mass

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / 'configs/sdae_vit-tiny_fashion-mnist_demo.py'  # 3 heads, 32x32 grey, patch 4


def has_colour(pixels: np.ndarray, rgb, tol: int = 6) -> bool:
    return bool((np.abs(pixels.astype(int) - np.asarray(rgb)).max(axis=-1) <= tol).any())


@pytest.fixture(scope='module')
def demo_checkpoint(tmp_path_factory):
    """The demo model at init, saved as a pretraining checkpoint (no stored config)."""
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(str(DEMO))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    path = tmp_path_factory.mktemp('demo') / 'epoch_1.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path, model


def test_top_mass_keeps_the_fewest_entries():
    weights = np.array([[0.5, 0.1], [0.3, 0.1]])
    assert top_mass(weights, 0.5).tolist() == [[True, False], [False, False]]
    assert top_mass(weights, 0.6).tolist() == [[True, False], [True, False]]
    assert top_mass(weights, 1.0).all()


def test_picture_of_student_and_teacher(tmp_path, demo_checkpoint, image_file, png_size):
    ckpt, _ = demo_checkpoint
    cfg = Config.fromfile(str(DEMO))
    first = image_file(tmp_path / 'a.png')
    second = image_file(tmp_path / 'b.jpg', size=(40, 30), mode='RGB')  # resized + cropped
    for teacher in (False, True):
        out = visualize_attention(cfg, str(ckpt), images=[str(first), str(second)],
                                  out=str(tmp_path / f'{teacher}.png'), teacher=teacher)
        pixels = np.asarray(Image.open(out).convert('RGB'))
        assert pixels.shape[1::-1] == png_size(*figure_size(2, 3), 100)
        assert pixels.std() > 20  # a picture, not a blank page
        assert all(has_colour(pixels, drawing.PALETTE[h], tol=40) for h in range(3))
    with pytest.raises(ValueError, match='mass must be in'):
        visualize_attention(cfg, str(ckpt), images=[str(first)], mass=1.5)


def test_the_encoder_is_the_checkpoints_and_the_input_the_configs(tmp_path, demo_checkpoint,
                                                                 image_file):
    ckpt, model = demo_checkpoint
    cfg = Config.fromfile(str(DEMO))
    student = load_attention_backbone(cfg, str(ckpt))
    teacher = load_attention_backbone(cfg, str(ckpt), teacher=True)
    for backbone, source in ((student, model.backbone), (teacher, model.teacher)):
        for key, value in source.state_dict().items():
            assert torch.equal(backbone.state_dict()[key], value), key
        assert not backbone.training
    image = load_image(str(image_file(tmp_path / 'a.png')), 32, 1)
    x = preprocess([image], cfg.data_preprocessor)
    torch.testing.assert_close(x, (torch.from_numpy(image).permute(2, 0, 1)[None].float()
                                   - 72.94) / 90.02)


def test_a_checkpoint_of_another_head_count_is_an_error(tmp_path, demo_checkpoint):
    ckpt, model = demo_checkpoint
    path = tmp_path / 'backbone.pth'
    torch.save({'state_dict': {'backbone.' + k: v for k, v in model.backbone.state_dict().items()},
                'meta': {'num_heads': 6}}, path)
    with pytest.raises(HeadCountError, match=r'3 attention heads from .*demo.*, but 6 from '
                                             r'meta\["num_heads"\]'):
        load_attention_backbone(Config.fromfile(str(DEMO)), str(path))
