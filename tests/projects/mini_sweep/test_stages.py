"""projects.mini_sweep.stages: the exact commands of every stage (as the sweep has always run
them: results.json keys and work dirs depend on them), their resolved configs, and running one."""
import sys
from pathlib import Path

import pytest

from projects.mini_sweep import ROWS, Stage, StagePlan, make_settings, resolve_config
from projects.mini_sweep.protocol import augmentation_text, config_changes, regime_text
from projects.mini_sweep.stages import amp_options

ROOT = Path(__file__).resolve().parents[3]
DATA = 'work_dirs/fashion_mnist'  # not data/: a link there would resolve out of the repository
KNN_OPTIONS = (f'--cfg-options train_dataloader.dataset.indices=10000 '
               f'test_dataloader.dataset.indices=5000 train_dataloader.dataset.data_root={DATA} '
               f'test_dataloader.dataset.data_root={DATA}')
EVAL_OPTIONS = (f'train_dataloader.dataset.indices=8192 train_dataloader.dataset.data_root={DATA} '
                f'val_dataloader.dataset.data_root={DATA} '
                f'test_dataloader.dataset.data_root={DATA} default_hooks.logger.interval=20')


def default_plan(**options) -> StagePlan:
    return StagePlan(make_settings(work_dir=str(ROOT / 'work_dirs/mini'),
                                   data_root=str(ROOT / DATA), **options))


def test_default_commands_are_the_published_ones():
    """The lines of docs/results_mini.md's command list (whose data root is
    data/fashion_mnist): results.json keys and work dirs depend on them."""
    plan = default_plan()
    assert plan.knn_pixels().line == (
        'python tools/knn_eval.py --pixels --config configs/mini/eval/knn_fashion-mnist.py '
        '--amp bf16 --out-json work_dirs/mini/knn/knn_pixels.json ' + KNN_OPTIONS)
    assert plan.knn_of_row('random', 0).line == (
        'python tools/knn_eval.py --random-init configs/mini/sdae_vit-mini_fashion-mnist.py '
        '--seed 0 --config configs/mini/eval/knn_fashion-mnist.py --amp bf16 --out-json '
        'work_dirs/mini/knn/knn_random_s0.json ' + KNN_OPTIONS)
    assert plan.downstream('linear', 'random', 0).line == (
        'python tools/train.py configs/mini/eval/linear_vit-mini_fashion-mnist.py --work-dir '
        'work_dirs/mini/random_s0_linear --cfg-options '
        'model.backbone.init_cfg.checkpoint=work_dirs/mini/random_s0/backbone.pth '
        'randomness.seed=0 train_cfg.max_epochs=3 param_scheduler.0.T_max=3 '
        'param_scheduler.0.end=3 train_dataloader.num_workers=2 ' + EVAL_OPTIONS +
        ' optim_wrapper.type=CPUAutocastOptimWrapper optim_wrapper.dtype=bfloat16 '
        'val_cfg.fp16=True')
    assert plan.downstream('ft', 'sdae', 1).line == (
        'python tools/train.py configs/mini/eval/ft_vit-mini_fashion-mnist.py --work-dir '
        'work_dirs/mini/sdae_s1_ft --cfg-options '
        'model.backbone.init_cfg.checkpoint=work_dirs/mini/sdae_s1/backbone.pth '
        'randomness.seed=1 train_cfg.max_epochs=2 param_scheduler.1.T_max=1 '
        'param_scheduler.1.end=2 train_dataloader.num_workers=2 ' + EVAL_OPTIONS)
    pretrain = ('python tools/train.py configs/mini/sdae_vit-mini_fashion-mnist.py --work-dir '
                'work_dirs/mini/sdae_s{0} --cfg-options randomness.seed={0} '
                'train_cfg.max_epochs=6 param_scheduler.1.T_max=5 param_scheduler.1.end=6 '
                'train_dataloader.batch_size=128 train_dataloader.num_workers=2 '
                'train_dataloader.dataset.indices=8192 '
                f'train_dataloader.dataset.data_root={DATA} '
                'default_hooks.checkpoint.interval=6 default_hooks.checkpoint.max_keep_ckpts=1 '
                'default_hooks.logger.interval=20 '
                'custom_hooks.0.interval=10 '
                f'custom_hooks.0.bank_dataloader.dataset.data_root={DATA} '
                f'custom_hooks.0.query_dataloader.dataset.data_root={DATA}')
    # only the last epoch is saved (the curves come from the kNN monitor)
    assert plan.pretrain('sdae', 0).line == pretrain.format(0)
    assert plan.pretrain('sdae', 1).line == pretrain.format(1)
    assert plan.knn_of_row('sdae', 0).line == (
        'python tools/knn_eval.py work_dirs/mini/sdae_s0/epoch_6.pth'
        ' --config configs/mini/eval/knn_fashion-mnist.py --amp bf16 --out-json '
        'work_dirs/mini/knn/knn_sdae_s0.json ' + KNN_OPTIONS)
    assert plan.knn_of_row('sdae', 1).line.startswith(
        'python tools/knn_eval.py work_dirs/mini/sdae_s1/epoch_6.pth --config')
    assert plan.extract('sdae', 0).line == ('python tools/extract_backbone.py '
                                            'work_dirs/mini/sdae_s0/epoch_6.pth '
                                            'work_dirs/mini/sdae_s0/backbone.pth')
    assert [plan.pretrain('mae', 0).key, plan.extract('mae', 0).key,
            plan.knn_of_row('mae', 0).key, plan.downstream('linear', 'mae', 0).key] == \
        ['pretrain/mae/s0', 'extract/mae/s0', 'knn/mae/s0', 'linear/mae/s0']


def test_stage_configs_resolve_with_their_options():
    plan = default_plan(epochs=9, subset=0, batch_size=64, amp='bf16', knn_train=0,
                        linear_epochs=4, ft_epochs=5)
    pre = plan.pretrain('mae', 0).resolve()
    assert pre.model.type == 'MAE' and pre.train_cfg.max_epochs == 9
    assert (pre.param_scheduler[1].T_max, pre.param_scheduler[1].end) == (8, 9)
    assert pre.train_dataloader.batch_size == 64 and pre.train_dataloader.dataset.indices is None
    assert pre.train_dataloader.dataset.data_root == DATA
    assert (pre.optim_wrapper.type, pre.optim_wrapper.dtype) == ('CPUAutocastOptimWrapper',
                                                                 'bfloat16')
    knn = plan.knn_pixels().resolve()
    assert knn.train_dataloader.dataset.indices is None
    assert knn.test_dataloader.dataset.indices == 5000
    linear = plan.downstream('linear', 'sdae', 1).resolve()
    assert linear.randomness.seed == 1 and linear.param_scheduler[0].end == 4
    assert linear.model.backbone.init_cfg.checkpoint == 'work_dirs/mini/sdae_s1/backbone.pth'
    ft = plan.downstream('ft', 'sdae', 0).resolve()
    assert (ft.train_cfg.max_epochs, ft.param_scheduler[1].T_max) == (5, 4)
    assert ft.optim_wrapper.type == 'CPUAutocastOptimWrapper' and ft.val_cfg.fp16 is True
    # what the configs hold unless an option says otherwise
    assert resolve_config('mini/eval/knn_fashion-mnist.py').knn.k == 20


def test_smoke_preset_fits_its_tiny_data():
    plan = StagePlan(make_settings(preset='smoke', work_dir='/tmp/w', data_root='/tmp/d'))
    linear = plan.downstream('linear', 'sdae', 0)
    assert linear.options[-1] == 'train_dataloader.batch_size=16'
    assert linear.resolve().train_dataloader.batch_size == 16
    pre = plan.pretrain('mae', 0).resolve()
    assert pre.train_dataloader.dataset.indices == 32
    monitor, = pre.custom_hooks
    assert monitor.interval == 1 and monitor.bank_dataloader.dataset.indices == 32
    assert monitor.query_dataloader.dataset.indices == list(range(32, 48))  # outside pretraining
    assert monitor.query_dataloader.dataset.data_root == '/tmp/d'


def test_the_monitor_is_every_pretrained_rows_first_hook():
    """StagePlan sets it as custom_hooks.0 (the configs put it first)."""
    plan = default_plan()
    for name, row in ROWS.items():
        hook = plan.pretrain(name, 0).resolve().custom_hooks[0]
        assert hook.type == 'KNNMonitorHook' and hook.interval == 10, name
        assert hook.query_dataloader.dataset.indices == list(range(50000, 51000)), name


def test_a_learning_rate_of_the_grid_has_its_own_run():
    plan = default_plan(lrs=[1e-3, 3e-3])
    stage = plan.pretrain('sdae', 0, 3e-3)
    assert stage.key == 'pretrain/sdae/s0/lr0.003'
    assert stage.flag('--work-dir') == 'work_dirs/mini/sdae_s0_lr0.003'
    assert stage.resolve().optim_wrapper.optimizer.lr == 3e-3
    assert plan.extract('sdae', 0, 3e-3).argv[1:] == ('work_dirs/mini/sdae_s0_lr0.003/epoch_6.pth',
                                                     'work_dirs/mini/sdae_s0_lr0.003/backbone.pth')
    ft = plan.downstream('ft', 'sdae', 0, 3e-3)
    assert ft.resolve().model.backbone.init_cfg.checkpoint == \
        'work_dirs/mini/sdae_s0_lr0.003/backbone.pth'
    # every stage downstream of it names the rate: a result never outlives a change of choice
    assert [ft.key, ft.flag('--work-dir'), plan.extract('sdae', 0, 3e-3).key,
            plan.knn_of_row('sdae', 0, 3e-3).flag('--out-json')] == [
        'ft/sdae/s0/lr0.003', 'work_dirs/mini/sdae_s0_lr0.003_ft', 'extract/sdae/s0/lr0.003',
        'work_dirs/mini/knn/knn_sdae_s0_lr0.003.json']
    assert plan.downstream('linear', 'mae', 1).key == 'linear/mae/s1'  # no grid, no rate
    assert plan.history('mae', 2, 1e-3) == ROOT / 'work_dirs/mini/mae_s2_lr0.001/knn_history.json'
    assert plan.pretrain('sdae', 0).resolve().optim_wrapper.optimizer.lr == 1.5e-3  # the config's


def test_amp_options():
    assert amp_options('fp32', 'pretrain') == []
    assert amp_options('bf16', 'pretrain') == ['optim_wrapper.type=CPUAutocastOptimWrapper',
                                               'optim_wrapper.dtype=bfloat16']
    assert amp_options('bf16', 'linear')[-1] == 'val_cfg.fp16=True'
    assert amp_options('bf16', 'ft', 'cuda') == ['optim_wrapper.type=AmpOptimWrapper',
                                                 'optim_wrapper.dtype=bfloat16',
                                                 'val_cfg.fp16=True']


def test_a_stage_runs_from_the_repository_with_its_threads(tmp_path):
    code = 'import os; print(os.getcwd(), os.environ["OMP_NUM_THREADS"])'
    stage = Stage('probe/x', ('-c', code))
    assert stage.command == [sys.executable, '-c', code]
    wall = stage.run(tmp_path / 'logs' / 'x.log', threads=1)
    assert wall >= 0 and (tmp_path / 'logs' / 'x.log').read_text().split() == [str(ROOT), '1']
    with pytest.raises(RuntimeError, match=r'probe/y failed \(exit 3\).*\n.*boom'):
        Stage('probe/y', ('-c', 'import sys; print("boom"); sys.exit(3)')).run(tmp_path / 'y.log')
    assert Stage('k', ('tools/knn_eval.py', '--amp', 'bf16')).flag('--amp') == 'bf16'


def test_learning_preset_regime():
    """>= 100 per-epoch EMA updates, three seeds of every row, a learning-rate grid."""
    settings = make_settings(preset='learning', work_dir='/tmp/w', data_root='/tmp/d')
    assert settings.seeds_of('sdae') == settings.seeds_of('mae') == [0, 1, 2]
    assert settings.seeds_of('teacher-only-masked') == [0, 1, 2] and len(settings.lrs) == 4
    pre = StagePlan(settings).pretrain('sdae', 0, settings.lrs[1]).resolve()
    assert regime_text(pre) == ('16 optimizer steps per epoch, 1600 in all; teacher: 100 EMA '
                                'updates (momentum 0.96 -> 0.99, cosine)')
    assert pre.optim_wrapper.optimizer.lr == settings.lrs[1] and pre.custom_hooks[0].interval == 25


def test_gpu_preset_runs_bf16_through_mmengines_amp_wrapper():
    settings = make_settings(preset='gpu', work_dir='/tmp/w', data_root='/tmp/d')
    plan = StagePlan(settings)
    pre = plan.pretrain('mae', 0, 2e-3).resolve()
    assert (pre.optim_wrapper.type, pre.optim_wrapper.dtype) == ('AmpOptimWrapper', 'bfloat16')
    assert pre.train_dataloader.dataset.indices is None and pre.train_cfg.max_epochs == 200
    ft = plan.downstream('ft', 'mae', 0, 2e-3).resolve()
    assert ft.optim_wrapper.type == 'AmpOptimWrapper' and ft.val_cfg.fp16 is True
    # pretraining batches are fetched whole and augmented on the device; downstream per image
    assert pre.train_dataloader.dataset.type == 'BatchedFashionMNIST'
    assert pre.train_dataloader.collate_fn.type == 'collate_image_batch'
    assert pre.data_preprocessor.type == 'BatchAugmentDataPreprocessor'
    assert pre.train_dataloader.num_workers == 0 and ft.train_dataloader.num_workers == 1
    assert ft.train_dataloader.dataset.type == 'FashionMNIST'
    # the report says so, from the resolved config
    assert 'a batch at a time on the device (`BatchedFashionMNIST`' in augmentation_text(pre)
    # 10 pretraining runs: 3 learning rates each for SdAE and MAE, one seed of 4 ablations
    assert settings.jobs == 10 and settings.seeds == [0] and len(settings.lrs) == 3
    pretrained = [r for r in settings.rows if ROWS[r].pretrained]
    assert len(pretrained) - len(settings.tune_rows) + len(settings.tune_rows) * 3 == 10


def test_batched_data_is_a_pretraining_switch():
    def pretrain(**kw):
        return StagePlan(make_settings(work_dir='/tmp/w', data_root='/tmp/d', workers=3,
                                       **kw)).pretrain('sdae', 0).resolve()
    plain, batched = pretrain(), pretrain(batched_data=True)
    assert plain.train_dataloader.dataset.type == 'FashionMNIST'
    assert plain.data_preprocessor.type == 'SelfSupDataPreprocessor'
    assert plain.train_dataloader.num_workers == 3
    assert config_changes(plain.to_dict(), batched.to_dict()) == {
        'train_dataloader.dataset.type': ('FashionMNIST', 'BatchedFashionMNIST'),
        'train_dataloader.collate_fn.type': ('default_collate', 'collate_image_batch'),
        'data_preprocessor.type': ('SelfSupDataPreprocessor', 'BatchAugmentDataPreprocessor'),
        'train_dataloader.num_workers': (3, 0)}
    assert 'per image in the dataloader (`FashionMNIST`)' in augmentation_text(plain)


def test_pretraining_saves_only_its_last_epoch_unless_asked():
    def options(**kw):
        settings = make_settings(work_dir='/tmp/w', data_root='/tmp/d', epochs=7, **kw)
        return StagePlan(settings).pretrain('sdae', 0).options
    assert {'default_hooks.checkpoint.interval=7', 'default_hooks.checkpoint.max_keep_ckpts=1'} \
        <= set(options())
    assert {'default_hooks.checkpoint.interval=1', 'default_hooks.checkpoint.max_keep_ckpts=-1'} \
        <= set(options(keep_checkpoints=True))
