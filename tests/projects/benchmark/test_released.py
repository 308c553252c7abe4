"""The released code read from a checkout: shims, isolated imports, its step's loss."""
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from projects.benchmark import load_released_code, released_loss
from projects.benchmark.released import released_shims, released_shape


def test_import_leaves_the_process_as_it_was(tmp_path, released_standin):
    import timm  # the environment's timm (1.x), imported before
    modules_before = dict(sys.modules)
    code = load_released_code(*released_standin(tmp_path))
    assert code.timm_version == '0.3.2'
    assert sys.modules['timm'] is timm and timm.__version__ != '0.3.2'
    assert {name for name in sys.modules if name not in modules_before} <= {
        n for n in sys.modules if n.startswith(('sdae_plugin', 'mmpretrain', 'mmengine'))}
    assert 'models_mae' not in sys.modules and 'util' not in sys.modules
    assert 'torch._six' not in sys.modules and not hasattr(np, 'float')
    student, teacher = code.build('base', 64)  # the shims come back while it builds
    assert not hasattr(np, 'float')
    assert all(not p.requires_grad for p in teacher.parameters())


def test_shims_only_inside_the_block():
    with released_shims():
        from torch._six import container_abcs, inf  # noqa: F401
        assert np.float is float
    assert 'torch._six' not in sys.modules and not hasattr(np, 'float')


def test_wrong_timm_and_wrong_folder_are_clear_errors(tmp_path, released_standin):
    checkout, timm_dir = released_standin(tmp_path, timm_version='0.4.12')
    with pytest.raises(ImportError, match=r'timm 0\.3\.2; found timm 0\.4\.12.*--released-timm'):
        load_released_code(checkout, timm_dir)
    with pytest.raises(FileNotFoundError, match='models_mae.py'):
        load_released_code(str(tmp_path))
    with pytest.raises(ValueError, match='no ViT-tiny'):
        load_released_code(*released_standin(tmp_path / 'ok')).build('tiny')


def test_released_loss_is_the_fold_cosine_on_the_students_mask(tmp_path, released_standin):
    """Recompute the released loss by hand from the student's and teacher's outputs."""
    code = load_released_code(*released_standin(tmp_path))
    student, teacher = code.build('base', 64, drop_path=0.0)
    images = torch.randn(2, 3, 64, 64)
    torch.manual_seed(1)
    loss = released_loss(student, teacher, images)
    torch.manual_seed(1)
    pred, _, unkept = student(images)  # 16 patches, 12 masked -> 3 folds of 4
    folds = unkept.reshape(2, 3, 4)
    total = 0.
    for b in range(2):
        for f in range(3):
            target = teacher(images[b:b + 1], ids_unkeep=folds[b:b + 1, f], shrink_num=4,
                             ncrop_loss=1)[0]  # (4, C)
            target = (target - target.mean(-1, keepdim=True)) / (
                target.var(-1, keepdim=True) + 1e-6).sqrt()
            total = total + F.cosine_similarity(target, pred[b, folds[b, f]], dim=0).mean()
    torch.testing.assert_close(loss, 1 - total / 6, rtol=0, atol=1e-6)
    shape, visible, views, view_len = released_shape(student)
    assert (shape.width, shape.depth, shape.num_patches, visible, views, view_len) == (
        32, 2, 16, 4, 3, 4)
