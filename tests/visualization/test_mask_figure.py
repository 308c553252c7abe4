"""visualize_masks: one colour per fold, from an image file or the config's dataset."""
from pathlib import Path

import numpy as np
from mmengine.config import Config
from PIL import Image

from sdae_plugin.visualization import drawing, visualize_masks
from sdae_plugin.visualization.mask_figure import figure_size

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / 'configs/sdae_vit-tiny_fashion-mnist_demo.py'


def has_colour(pixels: np.ndarray, rgb, tol: int = 6) -> bool:
    return bool((np.abs(pixels.astype(int) - np.asarray(rgb)).max(axis=-1) <= tol).any())


def test_fold_picture_from_a_file_and_from_the_dataset(tmp_path, image_file, fashion_idx,
                                                       png_size):
    cfg = Config.fromfile(str(DEMO))
    out = visualize_masks(cfg, image=str(image_file(tmp_path / 'in.png')), seed=1,
                          out=str(tmp_path / 'masks.png'), dpi=80)
    pixels = np.asarray(Image.open(out).convert('RGB'))
    assert pixels.shape[1::-1] == png_size(*figure_size(3), 80)  # 3 folds
    for fold in range(3):  # every fold in its own colour
        assert has_colour(pixels, drawing.PALETTE[fold])
    assert not has_colour(pixels, drawing.PALETTE[3])

    fashion_idx(tmp_path / 'fashion_mnist', num=8)
    cfg.merge_from_dict({'train_dataloader.dataset.data_root': str(tmp_path / 'fashion_mnist'),
                         'model.mask_generator.num_folds': 4})
    out4 = visualize_masks(cfg, index=5, out=str(tmp_path / 'masks4.png'))
    pixels = np.asarray(Image.open(out4).convert('RGB'))
    assert pixels.shape[1::-1] == png_size(*figure_size(4), 100)
    assert all(has_colour(pixels, drawing.PALETTE[f]) for f in range(4))
