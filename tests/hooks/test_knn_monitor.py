"""KNNMonitorHook: hand-computed kNN on known neighbours, the floor, the interval, the log,
training left unchanged, and each bad input stopped at before_train."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmengine.hooks import Hook

import sdae_plugin.evaluation.features as feature_extraction
from sdae_plugin.evaluation import knn_top1
from sdae_plugin.hooks import KNNMonitorHook, knn_monitor
from sdae_plugin.visualization import read_scalars, series


def point_images(cls_points, patch_points) -> torch.Tensor:
    """1x32x32 uint8 images carrying a 2-D point for the cls token (row 0) and one for the
    patch tokens (row 1) of :func:`point_encoder`."""
    images = torch.zeros(len(cls_points), 1, 32, 32, dtype=torch.uint8)
    images[:, 0, 0, :2] = torch.tensor(cls_points, dtype=torch.uint8)
    images[:, 0, 1, :2] = torch.tensor(patch_points, dtype=torch.uint8)
    return images


def point_encoder(encoder, images: torch.Tensor) -> torch.Tensor:
    """A stand-in for whole_image_tokens whose features are known: (B, 1 + 64, 2)."""
    assert not encoder.training
    cls = images[:, 0, 0, :2]
    patch = images[:, 0, 1, :2]
    # patch tokens alternate around their mean: only their mean is the point
    wobble = torch.tensor([[5.0, -5.0], [-5.0, 5.0]]).repeat(32, 1)  # (64, 2)
    return torch.cat([cls[:, None], patch[:, None] + wobble], dim=1)


# Memory bank (cls point = patch point) and labels; k=3, T=0.07.
BANK = [(200, 0), (200, 20), (200, 40), (0, 200), (20, 200), (200, 200)]
BANK_LABELS = [0, 0, 0, 1, 1, 2]
# Queries. Cls points: q0 -> b0,b1,b2 (class 0); q1 -> b3,b4,b5: class 1 by 2 votes of ~1;
# q2 = (200, 170) -> b5 (cos 0.9967, class 2), b2 (0.8742, 0), b1 (0.8226, 0): exp(0.9967/T)
# = e^14.24 beats e^12.49 + e^11.75 = e^12.88, so class 2 wins although 2 of 3 say 0;
# q3 -> class 1 but is labelled 0. Cls: 3 of 4 right.
QUERY_CLS = [(200, 10), (10, 200), (200, 170), (0, 200)]
QUERY_LABELS = [0, 1, 2, 0]
# Patch points: q0 -> class 1 (wrong), q1 -> class 0 (wrong), q2 -> class 2, q3 -> class 0.
QUERY_PATCH = [(0, 200), (200, 10), (200, 170), (200, 10)]


def monitor(dataset_bank, dataset_query, **kwargs) -> dict:
    return dict(type='KNNMonitorHook', bank_dataloader=dict(dataset=dataset_bank, batch_size=4),
                query_dataloader=dict(dataset=dataset_query, batch_size=3), **kwargs)


def known_sets(labelled_images):
    return (labelled_images(point_images(BANK, BANK), BANK_LABELS),
            labelled_images(point_images(QUERY_CLS, QUERY_PATCH), QUERY_LABELS))


def test_hand_computed_knn_on_known_neighbours(make_runner, labelled_images, tmp_path,
                                               monkeypatch):
    messages = []
    monkeypatch.setattr(knn_monitor, 'print_log', lambda msg, **kw: messages.append(msg))
    bank, queries = known_sets(labelled_images)
    runner = make_runner(tmp_path, max_epochs=2, hooks=[
        dict(type='TeacherEMAHook'), monitor(bank, queries, k=3, pixels=True)])
    monkeypatch.setattr(feature_extraction, 'whole_image_tokens', point_encoder)
    runner.train()
    hook, = [h for h in runner.hooks if isinstance(h, KNNMonitorHook)]
    assert [row['epoch'] for row in hook.history] == [0, 1, 2]
    for row in hook.history:
        assert row['top1'] == {'cls': 75.0, 'mean': 50.0}
    # the normalized pixels of the same images, through the same kNN
    flat = lambda ds: ds.images.flatten(1).float()  # noqa: E731 (mean 0, std 1 preprocessor)
    assert hook.pixel_top1 == knn_top1(flat(bank), bank.labels, flat(queries), queries.labels,
                                       k=3)
    assert messages[0] == ('kNN top-1 of the student at epoch 0: cls 75.00 %, mean 50.00 % '
                           f'(6 bank -> 4 queries, k=3; {messages[0].split("k=3; ")[1]}')
    summary = messages[-1]
    assert '  after epoch 2              cls  75.00 %   mean  50.00 %' in summary
    assert '  random initialization      cls  75.00 %   mean  50.00 %' in summary
    assert f'  raw pixels                 {hook.pixel_top1:6.2f} %' in summary
    assert f'kNN curve:  {tmp_path / "knn_curve.png"}' in summary
    assert (tmp_path / 'knn_curve.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert json.loads((tmp_path / 'knn_history.json').read_text()) == dict(
        evaluations=hook.history, pixels=hook.pixel_top1, bank=6, queries=4, k=3,
        encoder='student')


def test_weighted_vote_is_not_a_majority_vote():
    """The reference of the test above: q2's weights, computed here from the cosines."""
    query = F.normalize(torch.tensor([[200.0, 170.0]]), dim=1)
    bank = F.normalize(torch.tensor(BANK, dtype=torch.float), dim=1)
    sim, idx = (query @ bank.T).topk(3)
    assert idx.tolist() == [[5, 2, 1]]
    weights = (sim / 0.07).exp()[0]
    assert weights[0] > weights[1] + weights[2]  # class 2 outweighs the two class-0 votes
    assert math.isclose(sim[0, 0].item(), 0.9967, abs_tol=1e-4)


class RecordBackbone(Hook):
    """Keeps the student's weights at before_train (priority NORMAL: before the monitor)."""

    def before_train(self, runner) -> None:
        self.state = {k: v.clone() for k, v in runner.model.backbone.state_dict().items()}


def features(vit: torch.nn.Module, images: torch.Tensor, kind: str) -> torch.Tensor:
    with torch.no_grad():
        tokens = vit(images.float())[-1]  # the preprocessor of the tiny SdAE: mean 0, std 1
    return tokens[:, 0] if kind == 'cls' else tokens[:, 1:].mean(dim=1)


def random_sets(labelled_images, bank_size: int = 20, query_size: int = 9):
    generator = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (bank_size + query_size, 1, 32, 32), generator=generator,
                           dtype=torch.uint8)
    labels = torch.randint(0, 3, (bank_size + query_size,), generator=generator)
    return (labelled_images(images[:bank_size], labels[:bank_size]),
            labelled_images(images[bank_size:], labels[bank_size:]))


def test_floor_is_the_encoder_before_training(make_runner, labelled_images, reference_vit,
                                              tmp_path):
    bank, queries = random_sets(labelled_images)
    record = RecordBackbone()
    runner = make_runner(tmp_path, max_epochs=1, lr=1e-2, hooks=[
        dict(type='TeacherEMAHook'), record, monitor(bank, queries, k=5)])
    runner.train()
    hook, = [h for h in runner.hooks if isinstance(h, KNNMonitorHook)]
    floor, after = hook.history
    assert (floor['epoch'], floor['iter'], after['epoch'], after['iter']) == (0, 0, 1, 2)
    for kind in ('cls', 'mean'):
        vit = reference_vit(record.state)
        expected = knn_top1(features(vit, bank.images, kind), bank.labels,
                            features(vit, queries.images, kind), queries.labels, k=5)
        assert floor['top1'][kind] == pytest.approx(expected, abs=1e-9)


def test_interval_and_last_epoch_and_the_json_log(make_runner, labelled_images, tmp_path):
    bank, queries = random_sets(labelled_images)
    runner = make_runner(tmp_path, max_epochs=5, hooks=[
        dict(type='TeacherEMAHook'), monitor(bank, queries, k=5, interval=2, curve=None)])
    runner.train()
    hook, = [h for h in runner.hooks if isinstance(h, KNNMonitorHook)]
    assert [(row['epoch'], row['iter']) for row in hook.history] == [(0, 0), (2, 4), (4, 8),
                                                                       (5, 10)]
    rows = read_scalars(str(tmp_path))
    for kind in ('cls', 'mean'):
        steps, values = series(rows, f'knn/top1_{kind}')
        assert steps.tolist() == [0, 4, 8, 10]
        assert values.tolist() == pytest.approx([row['top1'][kind] for row in hook.history])
    assert not (tmp_path / 'knn_curve.png').exists()  # curve=None
    history = json.loads((tmp_path / 'knn_history.json').read_text())
    assert [row['epoch'] for row in history['evaluations']] == [0, 2, 4, 5]
    assert history['pixels'] is None  # pixels=False


def test_training_is_the_same_with_and_without_the_monitor(make_runner, labelled_images,
                                                           tmp_path, identical):
    bank, queries = random_sets(labelled_images)
    states = []
    for name, extra in (('plain', []), ('monitored', [monitor(bank, queries, k=5)])):
        runner = make_runner(tmp_path / name, max_epochs=2,
                             hooks=[dict(type='TeacherEMAHook'), *extra])
        runner.train()
        states.append(runner.model.state_dict())
    identical(states[0], states[1])


def test_teacher_on_request(make_runner, labelled_images, tmp_path, monkeypatch):
    bank, queries = known_sets(labelled_images)
    runner = make_runner(tmp_path, max_epochs=1, hooks=[
        dict(type='TeacherEMAHook'), monitor(bank, queries, k=3, encoder='teacher')])
    encoded = []
    monkeypatch.setattr(feature_extraction, 'whole_image_tokens', lambda encoder, x: encoded.append(
        (encoder, len(x))) or point_encoder(encoder, x))
    runner.train()
    assert {id(encoder) for encoder, _ in encoded} == {id(runner.model.teacher)}
    assert sum(size for _, size in encoded) == 2 * (6 + 4)  # before training, after epoch 1


def test_history_survives_resume(make_runner, labelled_images, tmp_path):
    bank, queries = random_sets(labelled_images)
    hooks = lambda: [dict(type='TeacherEMAHook'), monitor(bank, queries, k=5)]  # noqa: E731
    first = make_runner(tmp_path / 'a', max_epochs=1, hooks=hooks())
    first.train()
    full, = [h for h in first.hooks if isinstance(h, KNNMonitorHook)]
    resumed = make_runner(tmp_path / 'b', max_epochs=2, hooks=hooks(), resume=True,
                          load_from=str(tmp_path / 'a' / 'epoch_1.pth'))
    resumed.train()
    hook, = [h for h in resumed.hooks if isinstance(h, KNNMonitorHook)]
    assert [row['epoch'] for row in hook.history] == [0, 1, 2]  # no second floor
    assert hook.history[:2] == full.history


@pytest.mark.parametrize('case,message', [
    ('no labels', 'bank_dataloader: the samples have no gt_label'),
    ('bank < k', 'the memory bank holds 20 images, fewer than k=21'),
    ('image size', r'query_dataloader: its pipeline gives \(1, 28, 28\) images \(C, H, W\) but '
                   r'model.backbone takes \(1, 32, 32\)'),
    ('channels', r'bank_dataloader: its pipeline gives \(3, 32, 32\) images'),
    ('no teacher', r"encoder='teacher'\) needs model.teacher; MAE has none"),
    ('no queries', 'query_dataloader holds no images'),
])
def test_bad_input_stops_at_before_train(case, message, make_runner, labelled_images,
                                         synthetic_images, tmp_path):
    bank, queries = random_sets(labelled_images)
    options, model = dict(k=5), None
    if case == 'no labels':
        bank = synthetic_images(20)
    elif case == 'bank < k':
        options['k'] = 21
    elif case == 'image size':
        queries = labelled_images(torch.zeros(4, 1, 28, 28, dtype=torch.uint8), [0] * 4)
    elif case == 'channels':
        bank = labelled_images(torch.zeros(20, 3, 32, 32, dtype=torch.uint8), [0] * 20)
    elif case == 'no teacher':
        options['encoder'] = 'teacher'
        model = mae_cfg()
    elif case == 'no queries':
        queries = labelled_images(torch.zeros(0, 1, 32, 32, dtype=torch.uint8), [])
    hooks = [monitor(bank, queries, **options)] + ([] if model else [dict(type='TeacherEMAHook')])
    runner = make_runner(tmp_path, model=model, max_epochs=1, hooks=hooks)
    with pytest.raises(ValueError, match=message):
        runner.train()
    assert runner.iter == 0 and not list(tmp_path.glob('*.pth'))  # nothing trained, nothing saved


def mae_cfg() -> dict:
    """MMPretrain's MAE with the tiny ViT (1 channel, 32x32, patch 4)."""
    return dict(type='MAE',
                backbone=dict(type='MAEViT', arch=dict(embed_dims=32, num_layers=2, num_heads=2,
                                                       feedforward_channels=64),
                              img_size=32, patch_size=4, patch_cfg=dict(in_channels=1)),
                neck=dict(type='MAEPretrainDecoder', num_patches=64, patch_size=4, in_chans=1,
                          embed_dim=32, decoder_embed_dim=16, decoder_depth=1,
                          decoder_num_heads=2),
                head=dict(type='MAEPretrainHead', norm_pix=True, patch_size=4, in_channels=1,
                          loss=dict(type='PixelReconstructionLoss', criterion='L2')),
                data_preprocessor=dict(type='SelfSupDataPreprocessor', mean=[0.], std=[1.],
                                       to_rgb=False))


def test_bf16_features_follow_the_runs_cpu_autocast():
    from types import SimpleNamespace

    from mmengine.optim import OptimWrapper

    from sdae_plugin.runtime import CPUAutocastOptimWrapper
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sets = dict(bank_dataloader=dict(dataset=[]), query_dataloader=dict(dataset=[]))
    cases = [('auto', CPUAutocastOptimWrapper(optimizer=optimizer), torch.bfloat16),
             ('auto', CPUAutocastOptimWrapper(optimizer=optimizer, enabled=False), None),
             ('auto', OptimWrapper(optimizer=optimizer), None),
             ('fp32', CPUAutocastOptimWrapper(optimizer=optimizer), None),
             ('bf16', OptimWrapper(optimizer=optimizer), torch.bfloat16)]
    for dtype, wrapper, expected in cases:
        hook = KNNMonitorHook(dtype=dtype, **sets)
        assert hook._autocast_dtype(SimpleNamespace(optim_wrapper=wrapper)) is expected, dtype


@pytest.mark.parametrize('kwargs,message', [
    (dict(interval=0), 'interval must be an integer >= 1'),
    (dict(k=0), 'k must be an integer >= 1'),
    (dict(temperature=0), 'temperature > 0'),
    (dict(encoder='ema'), "encoder must be one of \\['student', 'teacher'\\]"),
    (dict(dtype='fp16'), 'dtype must be "auto"'),
    (dict(bank_dataloader=dict(dataset=[], sampler=dict(type='DefaultSampler', shuffle=True))),
     'the sampler must be dict\\(type="DefaultSampler", shuffle=False\\)'),
    (dict(query_dataloader=dict(batch_size=2)), 'query_dataloader has no dataset'),
])
def test_bad_settings(kwargs, message):
    args = {**dict(bank_dataloader=dict(dataset=[]), query_dataloader=dict(dataset=[])), **kwargs}
    with pytest.raises(ValueError, match=message):
        KNNMonitorHook(**args)


ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / 'configs/sdae_vit-tiny_fashion-mnist_demo.py'


def knn_rows(work_dir: Path) -> list:
    rows = read_scalars(str(work_dir))
    return [(row['step'], row['knn/top1_cls'], row['knn/top1_mean'])
            for row in rows if 'knn/top1_cls' in row]


@pytest.mark.slow
def test_two_gloo_processes_measure_what_one_does(tmp_path, demo_data, free_port):
    """The demo (2-layer ViT, lr 0 so that 1 and 2 processes hold the same encoder) on 48 tiny
    images: bank of 47 (split 24 + 23, padded by the sampler), 45 queries."""
    options = [*demo_data(tmp_path / 'data'), 'custom_hooks.2.bank_dataloader.dataset.indices=-47',
               'custom_hooks.2.query_dataloader.dataset.indices=45',
               'custom_hooks.2.bank_dataloader.batch_size=5', 'train_dataloader.batch_size=8',
               'train_dataloader.num_workers=0', 'train_cfg.max_epochs=1',
               'model.backbone.arch.num_layers=2', 'model.neck.decoder_depth=1',
               'optim_wrapper.optimizer.lr=0', 'default_hooks.logger.interval=1']
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(free_port()), OMP_NUM_THREADS='1')
    one, two = tmp_path / 'one', tmp_path / 'two'
    for cmd in ([sys.executable, str(ROOT / 'tools/train.py'), str(DEMO), '--work-dir', str(one)],
                ['bash', str(ROOT / 'tools/dist_train.sh'), str(DEMO), '2', '--work-dir',
                 str(two)]):
        result = subprocess.run([*cmd, '--cfg-options', *options], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    single = knn_rows(one)
    assert [step for step, _, _ in single] == [0, 6]  # 48 / 8 iterations in one process
    assert [row[1:] for row in knn_rows(two)] == [row[1:] for row in single]
