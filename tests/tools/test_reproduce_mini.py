"""tools/reproduce_mini.py and configs/mini: the configs compare like with like, the report logic
is right, and a CI-sized sweep writes a complete results file and plot."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[2]
MINI = ROOT / 'configs/mini'


def load_tool():
    spec = importlib.util.spec_from_file_location('reproduce_mini_tool',
                                                  ROOT / 'tools/reproduce_mini.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def flat(node, prefix=''):
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            out.update(flat(value, f'{prefix}{key}.'))
        return out
    return {prefix[:-1]: node}


def cfg(name):
    return Config.fromfile(str(MINI / name)).to_dict()


def test_every_row_has_a_config():
    tool = load_tool()
    for row, (config, label, _) in tool.ROWS.items():
        assert label
        assert row == 'random' or (ROOT / config).is_file(), row
    for path in (tool.KNN_CFG, tool.LINEAR_CFG, tool.FT_CFG):
        assert (ROOT / path).is_file()


def test_sdae_and_mae_share_vit_data_schedule_and_optimizer():
    sdae, mae = cfg('sdae_vit-mini_fashion-mnist.py'), cfg('mae_vit-mini_fashion-mnist.py')
    for key in ('train_dataloader', 'optim_wrapper', 'param_scheduler', 'train_cfg',
                'data_preprocessor', 'randomness', 'default_hooks'):
        assert sdae[key] == mae[key], key
    for key in ('arch', 'img_size', 'patch_size', 'patch_cfg'):
        assert sdae['model']['backbone'][key] == mae['model']['backbone'][key], key
    assert mae['model']['type'] == 'MAE' and mae['model']['head']['norm_pix'] is True
    assert sdae['model']['backbone']['arch']['num_layers'] == 6
    # the same decoder size
    for key in ('decoder_embed_dim', 'decoder_depth', 'decoder_num_heads'):
        assert sdae['model']['neck'][key] == mae['model']['neck'][key], key


def test_mae_decoder_8_changes_only_the_decoder_depth():
    base, other = flat(cfg('mae_vit-mini_fashion-mnist.py')), flat(cfg('mae_vit-mini_decoder-8.py'))
    diff = {k for k in set(base) | set(other) if base.get(k) != other.get(k)}
    assert diff == {'model.neck.decoder_depth'} and other['model.neck.decoder_depth'] == 8


@pytest.mark.parametrize('name,changed', [
    ('teacher-full-image', {'model.mask_generator.mode': 'full_image'}),
    ('teacher-only-masked', {'model.mask_generator.mode': 'only_masked'}),
    ('teacher-crop', {'model.mask_generator.mode': 'teacher_crop',
                      'model.mask_generator.crop_ratio': 1 / 3}),
    ('no-target-norm', {'model.head.normalize_target': False}),
    ('teacher-init-student', {'model.teacher_init': 'student'}),
    ('loss-features', {'model.head.loss_axis': 'features'}),
    ('decoder-8', {'model.neck.decoder_depth': 8}),
    ('ema-paper-count', {'custom_hooks': [
        dict(type='TeacherEMAHook', base_momentum=0.96, final_momentum=0.99, interval='iter'),
        dict(type='CollapseWatchHook', std_threshold=0.05, interval=10)]}),
    ('ema-per-iter', {'custom_hooks': [
        dict(type='TeacherEMAHook', base_momentum=0.999, final_momentum=0.9999,
             interval='iter'),
        dict(type='CollapseWatchHook', std_threshold=0.05, interval=10)]}),
])
def test_each_ablation_changes_one_thing(name, changed):
    base = flat(cfg('sdae_vit-mini_fashion-mnist.py'))
    other = flat(cfg(f'sdae_vit-mini_{name}.py'))
    diff = {k for k in set(base) | set(other) if base.get(k) != other.get(k)}
    assert diff == set(changed), diff
    for key, value in changed.items():
        assert other[key] == value


def test_eval_configs_load_backbones_and_follow_the_protocols():
    linear = cfg('eval/linear_vit-mini_fashion-mnist.py')
    backbone = linear['model']['backbone']
    assert backbone['frozen_stages'] == 6 and backbone['out_type'] == 'cls_token'
    assert linear['model']['neck']['type'] == 'ClsBatchNormNeck'
    assert linear['model']['head']['type'] == 'LinearClsHead'
    assert backbone['init_cfg']['prefix'] == 'backbone.'
    ft = cfg('eval/ft_vit-mini_fashion-mnist.py')
    assert ft['optim_wrapper']['constructor'] == 'ViTLayerDecayOptimWrapperConstructor'
    assert ft['model']['backbone']['out_type'] == 'avg_featmap'
    for c in (linear, ft):  # the test split is used once, at the end, never to choose anything
        assert c['train_cfg']['val_interval'] > 100
        assert c['val_dataloader']['dataset']['test_mode'] is True
        assert c['train_dataloader']['dataset']['split'] == 'train'


def test_options_presets_and_amp():
    tool = load_tool()
    args = tool.parse_args(['--rows', 'sdae', 'mae'])
    assert args.rows[0] == 'random'  # the floor is always in
    assert args.plot.endswith('results_mini_knn.png')
    assert (args.amp, args.eval_amp) == ('fp32', 'bf16')
    smoke = tool.parse_args(['--smoke'])
    assert smoke.epochs == 2 and smoke.seeds == [0] and set(smoke.ft_rows) == set(smoke.rows)
    assert (smoke.amp, smoke.eval_amp, smoke.threads) == ('fp32', 'fp32', 1)
    assert tool.amp_options('fp32', 'pretrain') == []
    bf16 = tool.amp_options('bf16', 'linear')
    assert 'optim_wrapper.type=CPUAutocastOptimWrapper' in bf16 and 'val_cfg.fp16=True' in bf16
    with pytest.raises(SystemExit):
        tool.parse_args(['--epochs', '1'])


def test_dry_run_plans_every_stage(capsys):
    tool = load_tool()
    assert tool.main(['--dry-run', '--work-dir', '/tmp/never_written_mini']) == 0
    out = capsys.readouterr().out
    for row, (config, _, _) in tool.ROWS.items():
        if config:
            assert config in out, row
    # every row, the second seeds of the main rows, and the raw pixels
    assert out.count('tools/knn_eval.py') == len(tool.ROWS) + len(tool.MAIN_ROWS) + 1
    assert out.count('--pixels') == 1
    assert out.count(tool.FT_CFG) == 5  # random once, sdae and mae twice
    lines = out.splitlines()
    # default precision: bf16 where the encoder is frozen (kNN, linear), fp32 where it trains
    assert all('CPUAutocastOptimWrapper' in line for line in lines if tool.LINEAR_CFG in line)
    assert not any('CPUAutocastOptimWrapper' in line for line in lines
                   if tool.FT_CFG in line or 'configs/mini/sdae_vit' in line)
    assert all('--amp bf16' in line for line in lines if 'tools/knn_eval.py' in line)
    assert not Path('/tmp/never_written_mini').exists()


def test_last_metric_and_report_verdicts(tmp_path):
    tool = load_tool()
    log = tmp_path / 'run' / '20260101_000000' / 'vis_data'
    log.mkdir(parents=True)
    log.joinpath('scalars.json').write_text('{"loss": 1.0, "step": 1}\n'
                                            '{"accuracy/top1": 81.234, "step": 2}\n')
    assert tool.last_metric(tmp_path / 'run', 'accuracy/top1') == 81.23
    with pytest.raises(RuntimeError):
        tool.last_metric(tmp_path / 'run', 'missing')

    args = tool.parse_args(['--work-dir', str(tmp_path / 'w'), '--out', str(tmp_path / 'r.md'),
                            '--seeds', '0', '1'])
    sweep = tool.Sweep(args)

    def run(row, seed, knn, linear=None):
        return dict(row=row, seed=seed, label=row, epochs=8, wall_s=60.0, knn_cls=knn,
                    knn_mean=knn, linear=linear, ft=None, curve=[])
    runs = [run('random', 0, 40.0), run('sdae', 0, 80.0, 70.0), run('sdae', 1, 81.0, 71.0),
            run('mae', 0, 75.0, 72.0), run('mae', 1, 76.0, 72.0),
            run('no-target-norm', 0, 80.7), run('teacher-full-image', 0, 82.0)]
    (tmp_path / 'r_reading.md').write_text('At this scale SdAE wins on kNN.\n')
    report = tool.write_report(sweep, runs, pixels=84.5)
    lines = report.splitlines()
    assert 'normalized 32x32 pixels, the same memory bank and queries: **84.50**' in report
    assert '## Reading' in report and 'At this scale SdAE wins on kNN.' in report

    def verdict(claim, metric):
        row, = [line for line in lines if line.startswith(f'| {claim} |') and
                f'| {metric} |' in line]
        return row.rsplit('|', 2)[1].strip()
    assert verdict('SdAE beats MAE at equal budget', 'kNN cls') == 'holds'  # 80.5 vs 75.5
    assert verdict('SdAE beats MAE at equal budget', 'linear') == 'does not hold'  # 70.5 vs 72
    assert verdict('target normalization helps', 'kNN cls') == 'within noise'  # -0.2, spread 0.5
    assert verdict('multi-fold beats a full-image teacher', 'kNN cls') == 'does not hold'
    assert '| `sdae` | 2 | 80.50 ± 0.50 |' in report
    assert '| random | `random` | 0 | 8 | 1.00 | 40.00 | 40.00 | — | — |' in report


@pytest.mark.slow
def test_smoke_sweep_writes_a_complete_report(tmp_path, fashion_idx):
    data = tmp_path / 'fashion'
    fashion_idx(data, num=48)
    out = tmp_path / 'docs' / 'results_mini.md'
    cmd = [sys.executable, str(ROOT / 'tools/reproduce_mini.py'), '--smoke',
           '--data-root', str(data), '--work-dir', str(tmp_path / 'work'), '--out', str(out)]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    report = out.read_text()
    section = report[report.index('## Every run'):].split('\n## ')[0]
    table = [line for line in section.splitlines() if line.startswith('| ')][1:]  # no header
    assert [line.split('|')[2].strip() for line in table] == ['`random`', '`sdae`', '`mae`']
    for line in table:
        cells = [c.strip() for c in line.strip('|').split('|')]
        assert len(cells) == 9 and '—' not in cells and all(cells), line
        for value in cells[5:]:
            assert 0.0 <= float(value) <= 100.0
    assert float(table[1].split('|')[5]) > 0  # sdae wall time in minutes
    assert 'tools/train.py configs/mini/sdae_vit-mini_fashion-mnist.py' in report
    assert 'tools/train.py configs/mini/mae_vit-mini_fashion-mnist.py' in report
    assert 'configs/mini/eval/linear_vit-mini_fashion-mnist.py' in report
    assert 'configs/mini/eval/ft_vit-mini_fashion-mnist.py' in report
    assert 'Machine:' in report and 'Seeds:' in report
    assert 'normalized 32x32 pixels' in report and '## Reading' not in report

    png = out.parent / 'results_mini_knn.png'
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and png.stat().st_size > 5000
    assert '(results_mini_knn.png)' in report

    results = json.loads((tmp_path / 'work' / 'results.json').read_text())
    curve = results['knn/sdae/s0']['rows']
    assert len(curve) == 2  # kNN after each of the 2 epochs
    # only the last epoch checkpoint is kept
    assert sorted(p.name for p in (tmp_path / 'work' / 'sdae_s0').glob('epoch_*.pth')) == \
        ['epoch_2.pth']

    # a rerun finds every stage done and only rewrites the report
    out.unlink()
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert 'tools/train.py' not in again.stdout  # nothing retrained
    assert json.loads((tmp_path / 'work' / 'results.json').read_text()) == results
    assert out.read_text().split('## Every run')[1].split('##')[0] == \
        report.split('## Every run')[1].split('##')[0]
