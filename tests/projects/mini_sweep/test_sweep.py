"""projects.mini_sweep.sweep: the dry-run plan, the input checks, and (slow) a CI-sized sweep
through tools/reproduce_mini.py that writes a complete report and plot and resumes."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from projects.mini_sweep import (MAIN_ROWS, PRESETS, ROWS, SettingsMismatch, SweepInputError,
                                 make_settings, run_sweep)
from projects.mini_sweep.rows import FT_CONFIG, LINEAR_CONFIG
from projects.mini_sweep.stages import config_file

FT, LINEAR = config_file(FT_CONFIG), config_file(LINEAR_CONFIG)  # as the commands name them

ROOT = Path(__file__).resolve().parents[3]


def test_dry_run_plans_every_stage(capsys, tmp_path):
    work = tmp_path / 'never_written'
    outcome = run_sweep(make_settings(dry_run=True, work_dir=str(work)), 'python x')
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines == [c for c in outcome.commands if not c.startswith('python -c')]
    assert len(outcome.commands) == len(lines) + 1  # + the floor's random-init encoder
    assert outcome.report is None and not work.exists()
    for name, row in ROWS.items():
        assert config_file(row.config) in out, name
    # every row, the second seeds of the main rows, and the raw pixels
    assert out.count('tools/knn_eval.py') == len(ROWS) + len(MAIN_ROWS) + 1
    assert out.count('--pixels') == 1
    assert out.count(FT) == 5  # random once, sdae and mae twice
    assert out.count(LINEAR) == len(ROWS) + len(MAIN_ROWS)
    assert out.count('tools/extract_backbone.py') == len(ROWS) - 1 + len(MAIN_ROWS)
    # default precision: bf16 where the encoder is frozen (kNN, linear), fp32 where it trains
    assert all('CPUAutocastOptimWrapper' in line for line in lines if LINEAR in line)
    assert not any('CPUAutocastOptimWrapper' in line for line in lines
                   if FT in line or 'configs/mini/sdae_vit' in line)
    assert all('--amp bf16' in line for line in lines if 'tools/knn_eval.py' in line)
    assert [r['row'] for r in outcome.runs][:3] == ['random', 'sdae', 'sdae']


def test_stages_at_a_time_keep_the_plan_and_its_order(tmp_path, capsys):
    """--jobs runs the grid, then the rows and seeds, several at a time (threads): the commands
    are those of a one-at-a-time sweep, in its order, and so is the printed plan."""
    def plan(jobs):
        outcome = run_sweep(make_settings(preset='learning', dry_run=True, jobs=jobs,
                                          work_dir=str(tmp_path / 'w')), 'python x')
        return outcome, capsys.readouterr().out
    (one, printed_one), (four, printed_four) = plan(1), plan(4)
    assert four.commands == one.commands and len(one.commands) > 50
    assert printed_four == printed_one
    assert [(r['row'], r['seed']) for r in four.runs] == [(r['row'], r['seed']) for r in one.runs]
    # the grid of every tuned row first (a row's choice must be known before its seeds run)
    pretrain = [c for c in one.commands if 'tools/train.py configs/mini/' in c]
    grid = len(PRESETS['learning']['lrs']) * 2
    assert all('randomness.seed=0' in c for c in pretrain[:grid])
    assert {c.split()[2] for c in pretrain[:grid]} == {
        'configs/mini/sdae_vit-mini_fashion-mnist.py', 'configs/mini/mae_vit-mini_fashion-mnist.py'}


def test_inputs_are_checked_before_anything_runs(tmp_path, fashion_idx):
    with pytest.raises(SweepInputError, match='No Fashion-MNIST in .*fetch_fashion_mnist.sh'):
        run_sweep(make_settings(work_dir=str(tmp_path / 'w'), data_root=str(tmp_path / 'no')),
                  'python x')
    fashion_idx(tmp_path / 'data', num=8)
    (tmp_path / 'w').mkdir()
    (tmp_path / 'w' / 'results.json').write_text(json.dumps({'_settings': {'epochs': 99}}))
    with pytest.raises(SettingsMismatch, match='holds results of other settings'):
        run_sweep(make_settings(work_dir=str(tmp_path / 'w'), data_root=str(tmp_path / 'data')),
                  'python x')
    assert not (tmp_path / 'w' / 'logs').exists()


def test_a_flag_beside_a_preset_overrides_it(tmp_path):
    """tools/reproduce_mini.py: --preset gives the defaults, a flag given with it wins."""
    proc = subprocess.run(
        [sys.executable, 'tools/reproduce_mini.py', '--preset', 'learning', '--seeds', '1',
         '--rows', 'sdae', '--dry-run', '--work-dir', str(tmp_path / 'w')],
        cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    pretrain = [line for line in proc.stdout.splitlines()
                if line.startswith('python tools/train.py configs/mini/sdae_vit')]
    # the preset's grid of learning rates on the first (here the only) seed, its 100 epochs
    # (the run of the chosen rate is one of them)
    assert len(set(pretrain)) == len(PRESETS['learning']['lrs'])
    assert all('randomness.seed=1' in line for line in pretrain)
    assert all('train_cfg.max_epochs=100' in line for line in pretrain)


@pytest.mark.slow
def test_smoke_sweep_writes_a_complete_report(tmp_path, fashion_idx):
    data = tmp_path / 'fashion'
    fashion_idx(data, num=48)
    out = tmp_path / 'docs' / 'results_mini.md'
    cmd = [sys.executable, 'tools/reproduce_mini.py', '--smoke', '--data-root', str(data),
           '--work-dir', str(tmp_path / 'work'), '--out', str(out)]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    report = out.read_text()
    section = report[report.index('## Every run'):].split('\n## ')[0]
    table = [line for line in section.splitlines() if line.startswith('| ')][1:]  # no header
    assert [line.split('|')[2].strip() for line in table] == ['`random`', '`sdae`', '`mae`']
    for line in table:
        cells = [c.strip() for c in line.strip('|').split('|')]
        assert len(cells) == 11 and all(cells), line
        for value in cells[7:]:
            assert 0.0 <= float(value) <= 100.0
    floor, sdae, mae = ([c.strip() for c in line.strip('|').split('|')] for line in table)
    assert floor[4] == 'config' and floor[6] == '—'  # not pretrained: no lr, no monitor
    assert float(sdae[5]) > 0  # sdae wall time in minutes
    # the chosen learning rate: the grid's best validation score (the tuning table's bold)
    results = json.loads((tmp_path / 'work' / 'results.json').read_text())
    for row, cells in (('sdae', sdae), ('mae', mae)):
        tune = results[f'tune/{row}']
        assert set(tune['scores']) == {'0.001', '0.002'}
        assert tune['scores'][f"{tune['lr']:g}"] == max(tune['scores'].values())
        assert cells[4] == f"{tune['lr']:g}" and float(cells[6]) == max(tune['scores'].values())
        monitor = results[f"pretrain/{row}/s0/lr{tune['lr']:g}"]['monitor']
        assert [e['epoch'] for e in monitor['evaluations']] == [0, 1, 2]  # interval 1
        assert (monitor['bank'], monitor['queries']) == (32, 16)
    assert '## Learning rate, chosen on validation images' in report
    assert 'tools/train.py configs/mini/sdae_vit-mini_fashion-mnist.py' in report
    assert 'tools/train.py configs/mini/mae_vit-mini_fashion-mnist.py' in report
    assert 'tools/extract_backbone.py' in report and 'tools/knn_eval.py --pixels' in report
    assert LINEAR in report and FT in report
    assert 'Machine:' in report and 'Seeds:' in report
    # the smoke preset's sizes, as the resolved configs state them
    assert '**Pretraining**: 2 epochs on the first 32 training images, batch 16;' in report
    assert 'memory bank: all training images, queries: all test images' in report
    assert 'normalized 32x32 pixels' in report and '## Reading' not in report
    assert 'python tools/reproduce_mini.py --smoke --data-root' in report

    png = out.parent / 'results_mini_knn.png'
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and png.stat().st_size > 5000
    assert '(results_mini_knn.png)' in report

    # stages downstream of a pretraining name its chosen learning rate
    chosen = {row: f"s0/lr{results[f'tune/{row}']['lr']:g}" for row in ('sdae', 'mae')}
    assert len(results[f"knn/sdae/{chosen['sdae']}"]['rows']) == 1  # the last checkpoint
    assert set(results) == {'_settings', 'knn/pixels', 'pretrain/random/s0', 'tune/sdae',
                            'tune/mae'} | {
        f'pretrain/{row}/s0/lr{lr}' for row in ('sdae', 'mae') for lr in ('0.001', '0.002')} | {
        f'{stage}/random/s0' for stage in ('knn', 'linear', 'ft')} | {
        f'{stage}/{row}/{chosen[row]}' for row in ('sdae', 'mae')
        for stage in ('extract', 'knn', 'linear', 'ft')}
    # only the last epoch checkpoint is kept
    assert sorted(p.name for p in (tmp_path / 'work' / 'sdae_s0_lr0.001').glob('epoch_*.pth')) \
        == ['epoch_2.pth']

    # a rerun finds every stage done and only rewrites the report
    out.unlink()
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert 'tools/' not in again.stdout  # nothing rerun
    assert json.loads((tmp_path / 'work' / 'results.json').read_text()) == results
    assert out.read_text().split('## Every run')[1].split('##')[0] == \
        report.split('## Every run')[1].split('##')[0]

