"""CPUAutocastOptimWrapper: bf16 autocast on CPU inside MMEngine's train_step, fp32 weights."""
import pytest
import torch

from mmpretrain.registry import OPTIM_WRAPPERS
from mmengine.optim import build_optim_wrapper

from sdae_plugin.runtime.cpu_amp import CPUAutocastOptimWrapper


def test_registered_and_validated():
    assert OPTIM_WRAPPERS.get('CPUAutocastOptimWrapper') is CPUAutocastOptimWrapper
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ValueError):
        CPUAutocastOptimWrapper(optimizer=opt, dtype='int8')
    with pytest.raises(ValueError):
        CPUAutocastOptimWrapper(optimizer=opt, dtype=torch.float32)


@pytest.mark.parametrize('enabled', [True, False])
def test_train_step_runs_the_forward_in_bf16(make_sdae, enabled):
    model = make_sdae()
    wrapper = build_optim_wrapper(model, dict(
        type='CPUAutocastOptimWrapper', dtype='bfloat16', enabled=enabled,
        constructor='SdAEOptimWrapperConstructor',
        optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05)))
    assert isinstance(wrapper, CPUAutocastOptimWrapper)
    seen = []
    model.backbone.layers[0].attn.qkv.register_forward_hook(
        lambda mod, inp, out: seen.append(out.dtype))
    before = model.backbone.layers[0].attn.qkv.weight.detach().clone()
    images = torch.randint(0, 256, (4, 1, 32, 32), dtype=torch.uint8)
    from mmpretrain.structures import DataSample
    log_vars = model.train_step(dict(inputs=images, data_samples=[DataSample()] * 4), wrapper)
    assert seen == [torch.bfloat16 if enabled else torch.float32]
    assert torch.isfinite(log_vars['loss'])
    weight = model.backbone.layers[0].attn.qkv.weight
    assert weight.dtype == torch.float32 and not torch.equal(weight, before)  # a real update
    assert all(s['exp_avg'].dtype == torch.float32 for s in wrapper.optimizer.state.values())


def test_importing_the_plugin_registers_it():
    """Configs import only ``sdae_plugin`` (MMEngine imports custom_imports before
    --cfg-options apply), so `optim_wrapper.type=CPUAutocastOptimWrapper` needs the package
    itself to register the wrapper. A fresh interpreter: here it is imported already."""
    import subprocess
    import sys
    code = ('import sdae_plugin; from mmpretrain.registry import OPTIM_WRAPPERS; '
            "assert OPTIM_WRAPPERS.get('CPUAutocastOptimWrapper') is not None")
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
