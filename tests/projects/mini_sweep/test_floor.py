"""projects.mini_sweep.floor: the random-init encoder of the floor row, and the shell line the
report gives for it writes the same file."""
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from projects.mini_sweep import ROWS
from projects.mini_sweep.floor import random_backbone_command, write_random_backbone

ROOT = Path(__file__).resolve().parents[3]
FFN = 'backbone.layers.0.ffn.layers.0.0.weight'


def load(path):
    return torch.load(path, weights_only=True)['state_dict']


def test_random_backbone_is_the_seeded_initialization(tmp_path):
    config = ROWS['random'].config
    write_random_backbone(config, 0, tmp_path / 'a' / 'backbone.pth')
    write_random_backbone(config, 1, tmp_path / 'b.pth')
    a, b = load(tmp_path / 'a' / 'backbone.pth'), load(tmp_path / 'b.pth')
    assert all(k.startswith('backbone.') for k in a) and 'backbone.cls_token' in a
    assert a[FFN].shape == (512, 128) and not torch.equal(a[FFN], b[FFN])
    assert 'teacher' not in ' '.join(a) and 'neck' not in ' '.join(a)  # the student encoder


@pytest.mark.slow
def test_the_reported_command_writes_the_same_file(tmp_path, identical):
    config = ROWS['random'].config
    write_random_backbone(config, 0, tmp_path / 'a.pth')
    argv = shlex.split(random_backbone_command(config, 0, tmp_path / 'cmd.pth'))
    assert argv[:2] == ['python', '-c']
    subprocess.run([sys.executable, *argv[1:]], cwd=ROOT, check=True, capture_output=True)
    identical(load(tmp_path / 'cmd.pth'), load(tmp_path / 'a.pth'))
