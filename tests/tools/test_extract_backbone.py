"""tools/extract_backbone.py as a user runs it, and its output in every other tool without flags.

The extracted file records the head count, so knn_eval.py, export_timm.py and
visualize_attention.py take it as it is; a file that records none fails naming --num-heads.
"""
import json
from pathlib import Path

import torch
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[2]
KNN_CFG = ROOT / 'configs/mini/eval/knn_fashion-mnist.py'


def test_extracted_backbone_works_in_every_tool(tmp_path, trained_checkpoint, run_tool,
                                                 fashion_idx, image_file, sdae_cfg):
    backbone = tmp_path / 'backbone.pth'
    out = run_tool('extract_backbone', trained_checkpoint, backbone).stdout
    assert '2 heads (from the config stored in the checkpoint)' in out
    assert 'matches MMPretrain VisionTransformer: 0 missing, 0 unexpected keys' in out
    assert torch.load(backbone, weights_only=True)['meta']['num_heads'] == 2

    fashion_idx(tmp_path / 'fashion', num=16)
    rows = tmp_path / 'knn.json'
    out = run_tool('knn_eval', backbone, '--config', KNN_CFG, '--out-json', rows,
                   '--cfg-options', f'train_dataloader.dataset.data_root={tmp_path / "fashion"}',
                   f'test_dataloader.dataset.data_root={tmp_path / "fashion"}').stdout
    assert f'16 train -> 16 test): cls ' in out
    assert json.loads(rows.read_text())[0]['checkpoint'] == str(backbone)

    out = run_tool('export_timm', backbone, tmp_path / 'timm.safetensors').stdout
    assert 'num_heads from meta["num_heads"] of the file' in out
    assert 'timm VisionTransformer and MMPretrain VisionTransformer agree' in out

    config = tmp_path / 'tiny.py'
    Config(dict(model=sdae_cfg(), default_scope='mmpretrain',
                custom_imports=dict(imports=['sdae_plugin'], allow_failed_imports=False))
           ).dump(str(config))
    picture = tmp_path / 'attention.png'
    run_tool('visualize_attention', config, backbone, '--image', image_file(tmp_path / 'a.png'),
             '--out', picture)
    assert picture.stat().st_size > 0


def test_unknown_head_count_is_written_as_unknown_then_named(tmp_path, run_tool, make_sdae):
    sd = make_sdae().state_dict()
    no_config = tmp_path / 'no_config.pth'
    torch.save(dict(state_dict=sd), no_config)
    # extraction without a head count works and says how to record it ...
    out = run_tool('extract_backbone', no_config, tmp_path / 'b.pth').stdout
    assert 'heads unknown: pass --num-heads to record them' in out
    # ... and a tool that needs it names the flag
    err = run_tool('export_timm', tmp_path / 'b.pth', tmp_path / 'x.pth', returncode=1).stderr
    assert 'Pass --num-heads N' in err and not (tmp_path / 'x.pth').exists()
