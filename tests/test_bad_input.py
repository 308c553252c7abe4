"""Bad input gets a clear error, never silent loss: the cases not tested next to their module.

Index of all bad-input cases (issue 6); each is asserted on its message.

| # | case | tested in (tests/...) |
|---|---|---|
| 1 | N * mask_ratio not an integer | models/utils/test_masking.py |
| 2 | masked patches do not split into num_folds | models/utils/test_masking.py, models/algorithms/test_sdae.py |
| 3 | num_folds < 1, or more folds than masked patches | models/utils/test_masking.py |
| 4 | crop_ratio outside (0, 1] (1.5 there; 0 and -0.2 here) | models/utils/test_masking.py, here |
| 5 | image size not divisible by the patch size | models/backbones/test_sdae_vit.py, models/algorithms/test_sdae.py |
| 6 | SdAE config without TeacherEMAHook (a silently frozen teacher), or frozen_teacher=True with it | here |
| 7 | per-epoch EMA under an iteration-based loop | hooks/test_teacher_ema.py |
| 8 | EMA momentum outside [0, 1) | hooks/test_teacher_ema.py |
| 9 | resume from a checkpoint without a teacher / with other teacher shapes | here |
| 10 | extract a backbone from a file that is not a pretraining checkpoint | checkpoints/test_files.py, tools/test_extract_backbone.py |
| 11 | backbone key mismatch when loading downstream | here |
| 12 | corrupt / truncated image: fails naming the file (no skipping) | here |
| 13 | NaN / inf loss; NaN weights at a checkpoint | hooks/test_nan_guard.py |
| 14 | unknown mask `mode` / unknown `loss_axis` | models/utils/test_masking.py, models/heads/test_sdae_head.py |
| 15 | empty dataset, or fewer samples than one batch with drop_last | here |
| 16 | config without `custom_imports` that uses the plugin (tools/train.py and tools/test.py) | here |
| 17 | resume from a mid-epoch checkpoint under EpochBasedTrainLoop | hooks/test_exact_resume.py |
| 18 | mask_ratio outside (0, 1); neck/mask-generator sizes that disagree | models/utils/test_masking.py, models/algorithms/test_sdae.py |
| 19 | CollapseWatchHook threshold / interval out of range | hooks/test_collapse_watch.py |
| 20 | unknown `teacher_autocast` dtype | models/algorithms/test_sdae.py |
| 21 | attention-head count unknown, or stated differently by two sources | checkpoints/test_num_heads.py, tools/test_extract_backbone.py |
"""
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmpretrain.registry import MODELS

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize('crop_ratio', [0, -0.2])
def test_crop_ratio_at_or_below_zero(crop_ratio):
    from sdae_plugin.models.utils.masking import MultiFoldMaskGenerator
    with pytest.raises(ValueError, match=r'crop_ratio must be in \(0, 1\], got'):
        MultiFoldMaskGenerator(num_patches=64, mode='teacher_crop', crop_ratio=crop_ratio)


def test_sdae_config_without_the_teacher_update():
    from sdae_plugin.runtime.config_check import check_teacher_update
    cfg = Config.fromfile(ROOT / 'configs/sdae_vit-tiny_fashion-mnist_demo.py')
    check_teacher_update(cfg)  # the shipped config updates its teacher
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h.type != 'TeacherEMAHook']
    with pytest.raises(ValueError, match=r'(?s)without TeacherEMAHook.*model.frozen_teacher=True'):
        check_teacher_update(cfg)
    cfg.model.frozen_teacher = True
    check_teacher_update(cfg)  # asked for explicitly
    cfg.custom_hooks.append(dict(type='TeacherEMAHook'))
    with pytest.raises(ValueError, match='frozen_teacher=True and also has TeacherEMAHook'):
        check_teacher_update(cfg)


def test_frozen_teacher_refuses_an_update(make_sdae):
    model = make_sdae(frozen_teacher=True)
    with pytest.raises(RuntimeError, match='frozen_teacher=True: remove TeacherEMAHook'):
        model.update_teacher(0.99)


def checkpoint_of_one_epoch(make_runner, tmp_path) -> Path:
    make_runner(tmp_path / 'src', max_epochs=1).train()
    return tmp_path / 'src' / 'epoch_1.pth'


@pytest.mark.parametrize('edit,message', [
    ('drop', r'Cannot resume SdAE: the checkpoint has no teacher weights \(no `teacher.\*` '
             r'keys\).*use load_from'),
    ('resize', r'Cannot resume SdAE: the checkpoint has teacher tensors of other shapes, e.g. '
               r'teacher.cls_token: \(1, 1, 48\) vs \(1, 1, 32\)'),
])
def test_resume_from_checkpoint_without_matching_teacher(make_runner, tmp_path, edit, message):
    path = checkpoint_of_one_epoch(make_runner, tmp_path)
    ckpt = torch.load(path, weights_only=True)
    if edit == 'drop':
        ckpt['state_dict'] = {k: v for k, v in ckpt['state_dict'].items()
                              if not k.startswith('teacher.')}
    else:
        ckpt['state_dict']['teacher.cls_token'] = torch.zeros(1, 1, 48)
    bad = tmp_path / 'bad.pth'
    torch.save(ckpt, bad)
    runner = make_runner(tmp_path / 'resume', max_epochs=2, resume=True, load_from=str(bad))
    with pytest.raises(RuntimeError, match=message):
        runner.train()


def test_backbone_key_mismatch_when_loading_downstream(make_sdae):
    from sdae_plugin.checkpoints import BackboneKeyError, check_backbone_state
    state = {k: v for k, v in make_sdae().backbone.state_dict().items()}
    downstream = MODELS.build(dict(type='VisionTransformer',
                                   arch=dict(embed_dims=32, num_layers=3, num_heads=2,
                                             feedforward_channels=64),
                                   img_size=32, patch_size=4, in_channels=1))
    with pytest.raises(BackboneKeyError, match=r'missing \(in the model, not in the '
                       r'checkpoint\): \d+\n    layers.2.'):
        check_backbone_state(downstream, state)  # a 3-layer model, a 2-layer checkpoint
    wide = MODELS.build(dict(type='VisionTransformer',
                             arch=dict(embed_dims=48, num_layers=2, num_heads=2,
                                       feedforward_channels=64),
                             img_size=32, patch_size=4, in_channels=1))
    with pytest.raises(BackboneKeyError, match=r'shape mismatch: \d+\n    cls_token: '
                       r'checkpoint \(1, 1, 32\), model \(1, 1, 48\)'):
        check_backbone_state(wide, state)


def test_truncated_image_fails_naming_the_file(tmp_path):
    """Policy: a corrupt image stops training with its path; nothing is skipped silently.
    (The configs' pipeline decodes with OpenCV, which refuses truncated JPEGs.)"""
    import cv2
    from mmengine.dataset import Compose
    folder = tmp_path / 'images'
    folder.mkdir()
    image = cv2.resize((np.random.default_rng(0).random((8, 8, 3)) * 255).astype(np.uint8),
                       (64, 64))
    cv2.imwrite(str(folder / 'good.jpg'), image)
    data = (folder / 'good.jpg').read_bytes()
    (folder / 'truncated.jpg').write_bytes(data[:int(len(data) * 0.8)])
    pipeline = Config.fromfile(str(ROOT / 'configs/sdae_vit-b_300e.py')).train_pipeline
    from mmpretrain.datasets import CustomDataset
    ds = CustomDataset(data_root=str(folder), with_label=False, pipeline=pipeline)
    names = [Path(ds.get_data_info(i)['img_path']).name for i in range(len(ds))]
    assert ds[names.index('good.jpg')]['inputs'].shape == (3, 224, 224)
    loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=0,
                                         collate_fn=lambda batch: batch)
    with pytest.raises(Exception, match=r'failed to load image: .*truncated\.jpg'):
        next(iter(loader))
    with pytest.raises(AssertionError, match=r'failed to load image: .*truncated\.jpg'):
        Compose(pipeline)(dict(img_path=str(folder / 'truncated.jpg')))


@pytest.mark.parametrize('length,batch_size,drop_last', [(0, 4, False), (3, 4, True)])
def test_empty_dataloader_is_an_error(make_runner, tmp_path, length, batch_size, drop_last):
    runner = make_runner(tmp_path, length=length, batch_size=batch_size)
    runner._train_dataloader['drop_last'] = drop_last
    with pytest.raises(RuntimeError, match=rf'The train dataloader yields no batches: '
                       rf'SyntheticImages has {length} samples, batch_size={batch_size}, '
                       rf'drop_last={drop_last}'):
        runner.train()


def test_config_without_custom_imports(tmp_path, run_tool):
    cfg = Config.fromfile(str(ROOT / 'configs/sdae_vit-tiny_fashion-mnist_demo.py'))
    assert cfg.pop('custom_imports')['imports'] == ['sdae_plugin']
    cfg_file = tmp_path / 'no_imports.py'
    cfg.dump(str(cfg_file))
    err = run_tool('train', cfg_file, '--work-dir', tmp_path, returncode=1).stderr
    assert re.search(r"(?s)ValueError: .*uses sdae-plugin modules \[.*'SdAE'.*\] but does not "
                     r"import the plugin.*custom_imports = dict\(imports=\['sdae_plugin'\], "
                     r'allow_failed_imports=False\)', err), err[-3000:]
    # the same config with the import passes the check
    from sdae_plugin.runtime.config_check import check_custom_imports
    demo = ROOT / 'configs/sdae_vit-tiny_fashion-mnist_demo.py'
    check_custom_imports(Config.fromfile(str(demo)))


def test_test_tool_checks_custom_imports_too(tmp_path, run_tool):
    """tools/test.py on a linear-probe config (it uses WeightsOnlyCheckpointHook) with no import."""
    cfg = Config.fromfile(str(ROOT / 'configs/mini/eval/linear_vit-mini_fashion-mnist.py'))
    cfg.pop('custom_imports')
    cfg_file = tmp_path / 'no_imports.py'
    cfg.dump(str(cfg_file))
    err = run_tool('test', cfg_file, tmp_path / 'missing.pth', '--work-dir', tmp_path,
                   returncode=1).stderr
    assert re.search(r"(?s)ValueError: .*\['WeightsOnlyCheckpointHook'\] but does not import "
                     r'the plugin', err), err[-3000:]
