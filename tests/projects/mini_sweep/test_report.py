"""projects.mini_sweep.report: the verdicts, the tables and the setup of the report are computed
from the runs, the results and the resolved configs, and follow them."""
import dataclasses
import datetime

from projects.mini_sweep import ROWS, ReportContext, render_report, resolve_config


def context(**overrides) -> ReportContext:
    return ReportContext(written=datetime.datetime(2026, 1, 2, 3, 4), wall_s=90.0,
                         work_dir='work_dirs/mini', machine='test machine',
                         invocation='python tools/reproduce_mini.py --seeds 0 1',
                         commands=['python tools/train.py A', 'python tools/knn_eval.py B'],
                         **overrides)


def run(row, seed, knn, linear=None):
    return dict(row=row, seed=seed, label=ROWS[row].label, epochs=8, wall_s=60.0, knn_cls=knn,
                knn_mean=knn, linear=linear, ft=None, curve=[])


RUNS = [run('random', 0, 40.0), run('sdae', 0, 80.0, 70.0), run('sdae', 1, 81.0, 71.0),
        run('mae', 0, 75.0, 72.0), run('mae', 1, 76.0, 72.0), run('no-target-norm', 0, 80.7),
        run('teacher-full-image', 0, 82.0), run('decoder-8', 0, 79.0)]
RESULTS = {'_settings': {}, 'pretrain/sdae/s0': {'wall_s': 120.0}, 'knn/pixels': {'wall_s': 30.0},
           'pretrain/mae/s0': {'wall_s': 60.0}}


def test_report_verdicts_and_tables(mini_protocol):
    report = render_report(RUNS, RESULTS, mini_protocol(),
                           context(pixels=84.5, reading=('r_reading.md', 'SdAE wins.\n')))
    lines = report.splitlines()
    assert 'normalized 32x32 pixels, the same memory bank and queries: **84.50**' in report
    assert '## Reading' in report and 'SdAE wins.' in report and '`r_reading.md`' in report
    assert 'Written by `tools/reproduce_mini.py` on 2026-01-02 03:04 (sweep wall time of this ' \
           'invocation: 1.5 min' in report
    assert '**Machine:** test machine' in report

    def verdict(claim, metric):
        row, = [line for line in lines if line.startswith(f'| {claim} |') and
                f'| {metric} |' in line]
        return row.rsplit('|', 2)[1].strip()
    assert verdict('SdAE beats MAE at equal budget', 'kNN cls') == 'holds'  # 80.5 vs 75.5
    assert verdict('SdAE beats MAE at equal budget', 'linear') == 'does not hold'  # 70.5 vs 72
    assert verdict('target normalization helps', 'kNN cls') == 'within noise'  # -0.2, spread 0.5
    assert verdict('multi-fold beats a full-image teacher', 'kNN cls') == 'does not hold'
    assert '| `sdae` | 2 | 80.50 ± 0.50 |' in report
    assert '| random init (floor) | `random` | 0 | 8 | config | 1.00 | — | 40.00 | 40.00 | — | — |' \
        in report
    assert '## Learning rate, chosen on validation images' not in report  # no grid
    assert '**Seeds:** 0, 1 for `sdae`, `mae`; 0 for the others' in report
    # minutes per kind of stage: pretrain 3.0, knn 0.5
    assert '| pretrain | knn | total |' in report and '| 3.0 | 0.5 | 3.5 |' in report
    assert report.split('## Commands')[1].count('```') == 4
    assert 'python tools/reproduce_mini.py --seeds 0 1\n' in report
    assert 'python tools/train.py A\npython tools/knn_eval.py B\n' in report
    assert '## kNN top-1 vs. pretraining epoch' not in report  # no plot given
    assert 'at a time' not in report
    jobs = render_report(RUNS, RESULTS, mini_protocol(), context(jobs=4))
    assert 'Stages ran 4 at a time (`--jobs`)' in jobs
    assert '![kNN vs epoch](r_knn.png)' in render_report(RUNS, RESULTS, mini_protocol(),
                                                         context(plot='r_knn.png'))


def test_a_claim_is_judged_against_the_spread_of_its_own_rows(mini_protocol):
    runs = [run('sdae', 0, 80.0), run('sdae', 1, 81.0), run('ema-per-iter', 0, 76.0),
            run('ema-per-iter', 1, 82.0), run('no-target-norm', 0, 78.0),
            run('no-target-norm', 1, 78.2)]
    report = render_report(runs, RESULTS, mini_protocol(), context())
    rows = {line.split('|')[1].strip(): line.rsplit('|', 2)[1].strip()
            for line in report.splitlines() if '| kNN cls |' in line}
    # +1.5 is above sdae's spread (0.5) but not above ema-per-iter's (3.0)
    assert rows['per-epoch EMA beats per-iteration EMA'] == 'within noise'
    assert rows['target normalization helps'] == 'holds'  # +2.4, spreads 0.5 and 0.1
    assert '| 2 / 2 | `sdae` 80.50 | `no-target-norm` 78.10 | +2.40 | 0.50 | holds |' in report
    assert 'Rows with one seed' not in report


def test_rows_section_reads_what_each_row_changes(mini_protocol):
    report = render_report(RUNS, RESULTS, mini_protocol(), context())
    rows = {line.split('|')[1].strip(): line for line in
            report.split('## Rows')[1].split('\n## ')[0].splitlines() if line.startswith('| `')}
    assert list(rows) == ['`random`', '`sdae`', '`mae`', '`no-target-norm`',
                          '`teacher-full-image`', '`decoder-8`']
    assert 'against `sdae`: `model.neck.decoder_depth`: 2 → 8' in rows['`decoder-8`']
    assert 'against `sdae`: `model.head.normalize_target`: True → False' in \
        rows['`no-target-norm`']
    assert 'the `sdae` encoder at its initialization' in rows['`random`']
    assert '`configs/mini/mae_vit-mini_fashion-mnist.py` | Table 2 |' in rows['`mae`']


def test_report_follows_the_resolved_configs(mini_protocol):
    """Change config values (through the sweep's options, and directly through --cfg-options):
    the report states the new values, nowhere the old ones."""
    base = render_report(RUNS, RESULTS, mini_protocol(), context())
    options = mini_protocol(epochs=9, batch_size=64, linear_epochs=5, knn_train=2000)
    protocol = dataclasses.replace(
        options, ft=resolve_config('mini/eval/ft_vit-mini_fashion-mnist.py',
                                   ['optim_wrapper.paramwise_cfg.layer_decay_rate=0.65',
                                    'optim_wrapper.optimizer.weight_decay=0.1']),
        linear=resolve_config('mini/eval/linear_vit-mini_fashion-mnist.py',
                              ['optim_wrapper.optimizer.lr=0.3', 'train_cfg.max_epochs=5',
                               'param_scheduler.0.end=5', 'param_scheduler.0.T_max=5']))
    changed = render_report(RUNS, RESULTS, protocol, context())
    for old, new in (('**Pretraining**: 6 epochs', '**Pretraining**: 9 epochs'),
                     ('8192 training images, batch 128; AdamW (lr 0.0015',
                      '8192 training images, batch 64; AdamW (lr 0.0015'),
                     ('memory bank: the first 10000', 'memory bank: the first 2000'),
                     ('**Linear probe**: 3 epochs', '**Linear probe**: 5 epochs'),
                     ('SGD (lr 0.1,', 'SGD (lr 0.3,'),
                     ('weight decay 0.05, betas (0.9, 0.999), fused True, layer decay 0.75',
                      'weight decay 0.1, betas (0.9, 0.999), fused True, layer decay 0.65')):
        assert old in base and old not in changed and new in changed, (old, new)
    # the rows section and the tables do not depend on the options
    assert base.split('## Rows')[1] == changed.split('## Rows')[1]
    # the regime: 8192 // 64 = 128 steps per epoch, 9 epochs, one EMA update per epoch
    assert '**Regime**: 64 optimizer steps per epoch, 384 in all; teacher: 6 EMA updates ' \
           '(momentum 0.96 -> 0.99, cosine)' in base
    assert '**Regime**: 128 optimizer steps per epoch, 1152 in all; teacher: 9 EMA updates' \
           in changed
    assert 'queries: 1000 training images (indices 50000-50999)' in base


def test_tuning_section_marks_each_rows_choice(mini_protocol):
    results = dict(RESULTS, **{'tune/sdae': dict(lr=0.003, scores={'0.001': 70.0, '0.003': 72.5}),
                               'tune/mae': dict(lr=0.001, scores={'0.001': 75.0, '0.003': 74.0})})
    runs = [dict(r, lr=0.003, val=72.5) if r['row'] == 'sdae' else r for r in RUNS]
    report = render_report(runs, results, mini_protocol(), context())
    section = report.split('## Learning rate, chosen on validation images')[1].split('\n## ')[0]
    assert '| row | lr 0.001 | lr 0.003 |' in section
    assert '| `sdae` | 70.00 | **72.50** |' in section
    assert '| `mae` | **75.00** | 74.00 |' in section
    assert '| `sdae` | 0 | 8 | 0.003 | 1.00 | 72.50 | 80.00 |' in report
