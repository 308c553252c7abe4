"""Check mode: our SdAE with the released weights against the released step (stand-in code)."""
import json
import subprocess
import sys

import pytest

from projects.benchmark import check_against_released, load_released_code
from projects.benchmark.check import GRAD_TOLERANCE, LOSS_TOLERANCE
from sdae_plugin.checkpoints import released_to_sdae_key, released_to_sdae_state
from tests.conftest import ROOT


@pytest.mark.parametrize('drop_path', [0.0, 0.25])
def test_check_passes_against_an_independent_implementation(tmp_path, released_standin,
                                                            drop_path):
    """The stand-in computes the released step on its own; our modules with its weights agree,
    also with drop path (both draw their per-sample keeps in the same order)."""
    code = load_released_code(*released_standin(tmp_path))
    result = check_against_released(code, arch='base', img_size=64, batch=3,
                                    drop_path=drop_path)
    assert result['ok'] and result['masks_equal']
    assert result['loss_diff'] <= LOSS_TOLERANCE
    assert result['max_rel_grad_diff'] <= GRAD_TOLERANCE
    student, _ = code.build('base', 64)
    assert result['tensors_compared'] == sum(p.requires_grad for p in student.parameters())


def test_check_reports_a_different_computation(tmp_path, released_standin):
    """A released side that computes something else (attention scale x1.5) is a regression."""
    code = load_released_code(*released_standin(tmp_path, attention_scale=1.5))
    result = check_against_released(code, arch='base', img_size=64, batch=3)
    assert not result['ok']
    assert result['masks_equal']  # the masks still agree: the difference is the computation
    assert result['max_rel_grad_diff'] > GRAD_TOLERANCE


def test_converter_names_every_released_tensor_once(tmp_path, released_standin):
    """Every tensor of the released student and teacher has its own name in our SdAE."""
    code = load_released_code(*released_standin(tmp_path))
    student, teacher = code.build('base', 64)
    names = [released_to_sdae_key(k) for k in student.state_dict()]
    names += [released_to_sdae_key(k, teacher=True) for k in teacher.state_dict()]
    assert len(set(names)) == len(names)
    assert set(released_to_sdae_state(student.state_dict(), teacher.state_dict())) == set(names)
    assert 'neck.decoder_blocks.0.ffn.layers.0.0.weight' in names
    assert 'neck.ln1.weight' in names and 'backbone.ln1.weight' in names
    assert 'teacher.layers.1.attn.qkv.bias' in names


@pytest.mark.slow
def test_tool_check_mode_exit_status(tmp_path, released_standin):
    good = released_standin(tmp_path / 'good')
    bad = released_standin(tmp_path / 'bad', attention_scale=1.5)
    for (checkout, timm_dir), status in ((good, 0), (bad, 1)):
        out = tmp_path / f'check{status}.json'
        proc = subprocess.run(
            [sys.executable, 'tools/benchmark.py', '--check', '--released-code', checkout,
             '--released-timm', timm_dir, '--img-size', '64', '--batch', '2', '--device',
             'cpu', '--out', str(out)], cwd=ROOT, capture_output=True, text=True)
        assert proc.returncode == status, proc.stderr[-3000:]
        report = json.loads(out.read_text())
        assert report['ok'] is (status == 0)
        assert ('OK' if status == 0 else 'REGRESSION') in proc.stdout
