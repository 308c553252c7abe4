"""tools/visualize_masks.py and tools/plot_log.py as a user runs them."""
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / 'configs/sdae_vit-tiny_fashion-mnist_demo.py'


def test_visualize_masks(tmp_path, run_tool, image_file):
    out = tmp_path / 'masks.png'
    stdout = run_tool('visualize_masks', DEMO, '--image', image_file(tmp_path / 'in.png'),
                      '--out', out, '--cfg-options', 'model.mask_generator.num_folds=4').stdout
    assert f'wrote {out}' in stdout and out.stat().st_size > 0


def test_plot_log(tmp_path, run_tool):
    folder = tmp_path / 'run/20260101_000000/vis_data'
    folder.mkdir(parents=True)
    (folder / 'scalars.json').write_text('\n'.join(
        json.dumps(dict(loss=1 / i, iter=i, epoch=1, step=i)) for i in range(1, 9)) + '\n')
    out = tmp_path / 'log.png'
    stdout = run_tool('plot_log', tmp_path / 'run', '--out', out).stdout
    assert '8 training rows up to iteration 8; keys found: loss' in stdout
    assert out.stat().st_size > 0
