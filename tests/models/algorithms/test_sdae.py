"""SdAE: one step's data flow, the teacher's role, the compiled loss, build-time validation."""
import pytest
import torch
import torch._dynamo
from torch._dynamo.utils import counters

from mmpretrain.registry import MODELS
from sdae_plugin.models.backbones import gather_tokens


def images(batch=4):
    return torch.randn(batch, 1, 32, 32)


def test_loss_dict_has_one_loss_and_diagnostics(make_sdae):
    model = make_sdae()
    losses = model.loss(images())
    assert [k for k in losses if 'loss' in k] == ['loss']
    assert {'target_std', 'cosine'} <= set(losses)
    assert torch.isfinite(losses['loss'])


def test_update_teacher_is_lerp_over_parameters_and_buffers(make_sdae):
    model = make_sdae()
    model.teacher.register_buffer('running', torch.zeros(3))
    model.backbone.register_buffer('running', torch.ones(3))
    model.teacher.register_buffer('count', torch.tensor(0))
    model.backbone.register_buffer('count', torch.tensor(7))
    t0 = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    s0 = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    model.update_teacher(0.9)
    for key, value in model.teacher.state_dict().items():
        if key == 'count':  # integer buffers are copied, not interpolated
            assert value.item() == 7
        else:
            torch.testing.assert_close(value, 0.9 * t0[key] + 0.1 * s0[key])
    assert all(torch.equal(v, s0[k]) for k, v in model.backbone.state_dict().items())


def test_update_teacher_refuses_a_teacher_of_another_architecture(make_sdae):
    model = make_sdae()
    model.teacher.register_buffer('extra', torch.zeros(1))
    with pytest.raises(RuntimeError, match=r"different parameters/buffers: \['extra'\]"):
        model.update_teacher(0.9)


def test_teacher_gets_no_gradients_and_student_does(make_sdae):
    model = make_sdae()
    model.train()
    model.loss(images())['loss'].backward()
    assert all(not p.requires_grad and p.grad is None for p in model.teacher.parameters())
    assert model.backbone.layers[0].attn.qkv.weight.grad is not None
    assert model.neck.decoder_pred.weight.grad is not None
    assert not model.teacher.training  # no stochastic layers in the teacher, ever


def test_teacher_init_student_copies_and_random_does_not(make_sdae):
    copy = make_sdae(teacher_init='student')
    for key, value in copy.backbone.state_dict().items():
        assert torch.equal(copy.teacher.state_dict()[key], value)
    rand = make_sdae(teacher_init='random')
    assert not torch.equal(rand.teacher.layers[0].attn.qkv.weight,
                           rand.backbone.layers[0].attn.qkv.weight)


def test_teacher_init_released_follows_timm_and_leaves_the_student_alone(make_sdae):
    """timm 0.3.2's init: truncated normal (std 0.02) Linear, cls and positions; not sin-cos."""
    ours, released = make_sdae(teacher_init='random'), make_sdae(teacher_init='released')
    for key, value in ours.backbone.state_dict().items():  # same seed, same student
        assert torch.equal(released.backbone.state_dict()[key], value)
    teacher = released.teacher
    weights = torch.cat([m.weight.flatten() for m in teacher.modules()
                         if isinstance(m, torch.nn.Linear)])
    assert weights.std().item() == pytest.approx(0.02, rel=0.05)  # cut at +-2: no cut at std .02
    assert all(torch.count_nonzero(m.bias) == 0 for m in teacher.modules()
               if isinstance(m, torch.nn.Linear))
    tables = torch.cat([teacher.pos_embed.flatten(), teacher.cls_token.flatten()])
    assert tables.std().item() == pytest.approx(0.02, rel=0.1)
    assert not torch.allclose(teacher.pos_embed, ours.teacher.pos_embed)  # not the sin-cos table
    conv = teacher.patch_embed.projection.weight  # PyTorch's default: U(-1/sqrt(fan_in), ...)
    bound = 1 / conv[0].numel()**0.5
    assert conv.abs().max() <= bound and conv.abs().max() > 0.9 * bound


def drop_probs(module):
    return [m.drop_prob for m in module.modules() if type(m).__name__ == 'DropPath']


def test_teacher_is_student_arch_without_drop_path(make_sdae):
    model = make_sdae()
    assert max(drop_probs(model.backbone)) > 0
    assert set(drop_probs(model.teacher)) <= {0.0}
    assert model.teacher.state_dict().keys() == model.backbone.state_dict().keys()


def test_loss_equals_step_written_out_by_hand(make_sdae):
    """Recompute the loss from the modules with the same masks, fold by fold, in a loop."""
    model = make_sdae(teacher_init='student')
    model.eval()
    x = images(2)
    torch.manual_seed(5)
    got = model.loss(x)['loss']
    torch.manual_seed(5)
    plan = model.mask_generator(2, x.device)

    latent = model.backbone.forward_tokens(x, plan.ids_keep[:, None])
    pred = model.neck(latent, plan.ids_restore)
    per_view = []
    for b in range(2):
        for v in range(plan.view_ids.shape[1]):
            ids = plan.view_ids[b, v]
            seq = model.teacher.forward_tokens(x[b:b + 1], ids[None, None])[0, 1:]
            target = (seq - seq.mean(-1, keepdim=True)) / (seq.var(-1, keepdim=True) + 1e-6).sqrt()
            p = pred[b, ids]
            cos = torch.nn.functional.cosine_similarity(p, target, dim=0)  # over the tokens
            per_view.append(cos)
    expected = 1 - torch.stack(per_view).mean()
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_student_and_teacher_rows_are_image_major_view_minor(make_sdae):
    """Row b * V + v of both halves of the step is image b's view v (the invariant the loss needs)."""
    model = make_sdae().eval()
    x = images(3)
    plan = model.mask_generator(3, x.device)
    pred = model.student_predictions(x, plan)
    target = model.teacher_targets(x, plan)
    views = plan.view_ids.shape[1]
    assert pred.shape == target.shape == (3 * views, plan.num_targets, 32)
    decoded = model.neck(model.backbone.forward_tokens(x, plan.ids_keep[:, None]), plan.ids_restore)
    for b in range(3):
        for v in range(views):
            ids = plan.target_ids[b, v]
            torch.testing.assert_close(pred[b * views + v], decoded[b, ids])
            alone = model.teacher_targets(x[b:b + 1], plan._replace(
                view_ids=plan.view_ids[b:b + 1, v:v + 1]))
            torch.testing.assert_close(target[b * views + v], alone[0], atol=1e-5, rtol=0)


def test_teacher_autocast_bf16_gives_fp32_targets_close_to_the_fp32_teacher(make_sdae):
    """The fast mode (bf16 teacher, fp32 student) changes the targets only by bf16 rounding."""
    exact, fast = make_sdae(), make_sdae(teacher_autocast='bf16')
    x = images(2)
    plan = exact.mask_generator(2, x.device)
    want = exact.teacher_targets(x, plan)
    got = fast.teacher_targets(x, plan)
    assert got.dtype == torch.float32 and not got.requires_grad
    assert got.shape == want.shape == (2 * 3, 16, 32)
    cosine = torch.nn.functional.cosine_similarity(got, want, dim=-1)
    assert cosine.min() > 0.99
    assert not torch.equal(got, want)  # it did run in bf16
    fast.loss(x)['loss'].backward()
    assert fast.backbone.layers[0].attn.qkv.weight.grad.dtype == torch.float32


def _train_compiled(model, steps, reference=None):
    """``steps`` AdamW steps of ``model`` with fresh masks (seed = step), failing on a
    recompilation; returns dynamo's counters. With ``reference`` (an eager SdAE), each step's
    loss, diagnostics and gradients are compared with the reference's on the same weights and
    the same masks."""
    torch._dynamo.reset()
    counters.clear()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    x = images(4)
    with torch._dynamo.config.patch(error_on_recompile=True):
        for step in range(steps):
            if reference is not None:
                reference.load_state_dict(model.state_dict())
                torch.manual_seed(step)
                want = reference.loss(x)
                want['loss'].backward()
            torch.manual_seed(step)
            got = model.loss(x)
            got['loss'].backward()
            if reference is not None:
                for key in want:  # loss and diagnostics, fp32
                    torch.testing.assert_close(got[key], want[key], rtol=0, atol=1e-6)
                mine = dict(model.named_parameters())
                for name, param in reference.named_parameters():
                    if param.grad is not None:
                        diff = (mine[name].grad - param.grad).norm() / param.grad.norm()
                        assert diff < 1e-4, (step, name, diff.item())
                reference.zero_grad(set_to_none=True)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
    return counters


@pytest.mark.slow
def test_compiled_loss_compiles_once_and_equals_eager(make_sdae):
    """Inductor, 10 training steps with fresh masks: one graph, no graph break (so no host
    synchronization inside), and each step's loss within 1e-6 and gradients within 1e-4
    (relative norm) of eager mode on the same weights and masks. Drop path 0: inductor draws
    its own random numbers, so a drop-path draw would differ from eager by design."""
    model = make_sdae(compile_loss=True, backbone=dict(drop_path_rate=0.))
    stats = _train_compiled(model, 10, reference=make_sdae(backbone=dict(drop_path_rate=0.)))
    assert stats['stats']['unique_graphs'] == 1
    assert not stats['graph_break']


def test_compiled_loss_graph_is_static_across_fresh_masks(make_sdae):
    """The same with dynamo's graph only (aot_eager backend: no code generation, fast), with
    drop path on: 10 steps, one graph, no break."""
    model = make_sdae(compile_loss=dict(backend='aot_eager'))
    stats = _train_compiled(model, 10)
    assert stats['stats']['unique_graphs'] == 1
    assert not stats['graph_break']


def test_forward_tokens_keeps_original_positions(make_sdae):
    """A patch encoded alone gives the same output wherever it sits in the ids list."""
    model = make_sdae().eval()
    x = images(1)
    ids = torch.tensor([[[5, 9, 40]]])
    out = model.teacher.forward_tokens(x, ids)[0, 1:]
    perm = torch.tensor([[[40, 5, 9]]])
    out_perm = model.teacher.forward_tokens(x, perm)[0, 1:]
    torch.testing.assert_close(out_perm, out[[2, 0, 1]], atol=1e-5, rtol=0)


def test_gather_tokens_shapes():
    x = torch.arange(2 * 5 * 3).reshape(2, 5, 3)
    ids = torch.tensor([[[4, 0]], [[1, 1]]])
    out = gather_tokens(x, ids)
    assert out.shape == (2, 1, 2, 3)
    assert torch.equal(out[0, 0, 0], x[0, 4]) and torch.equal(out[1, 0, 1], x[1, 1])


def test_extract_feat_is_a_plain_vit(make_sdae):
    feats = make_sdae().extract_feat(images(2))
    assert feats[0].shape == (2, 65, 32)  # out_type='raw': cls + 64 patches


@pytest.mark.parametrize('mode,views,view_len,targets', [
    ('multi_fold', 3, 16, 16),   # 48 masked patches in 3 folds
    ('only_masked', 1, 48, 48),
    ('full_image', 1, 64, 48),   # all 64 patches, the 48 masked ones are targets
    ('teacher_crop', 1, 16, 16),  # a third of the masked patches
])
def test_every_teacher_feeding_mode_trains(make_sdae, mode, views, view_len, targets):
    """The teacher sees the mode's views and the loss compares that many targets per view."""
    model = make_sdae(mask_generator=dict(mode=mode))
    seen = {}
    teacher_forward, head_loss = model.teacher.forward_tokens, model.head.loss

    def spy_teacher(x, ids):
        seen['teacher_ids'] = tuple(ids.shape)
        return teacher_forward(x, ids)

    def spy_loss(pred, target):
        seen['pred'], seen['target'] = tuple(pred.shape), tuple(target.shape)
        return head_loss(pred, target)

    model.teacher.forward_tokens, model.head.loss = spy_teacher, spy_loss
    loss = model.loss(images(4))['loss']
    loss.backward()
    assert torch.isfinite(loss)
    assert seen['teacher_ids'] == (4, views, view_len)
    assert seen['pred'] == seen['target'] == (4 * views, targets, 32)


@pytest.mark.parametrize('overrides,error,message', [
    (dict(teacher_init='ema'), ValueError, "Unknown teacher_init 'ema'"),
    (dict(teacher_autocast='fp32'), ValueError, "teacher_autocast='fp32': choose one of"),
    (dict(compile_loss='yes'), TypeError, 'compile_loss must be True/False or a dict'),
    (dict(neck=dict(num_patches=49)), ValueError, 'neck.num_patches=49 but the backbone has 64'),
    (dict(neck=dict(embed_dim=64)), ValueError, 'neck.embed_dim=64 but the backbone width is 32'),
    (dict(mask_generator=dict(num_patches=196)), ValueError,
     'mask_generator.num_patches=196 but the backbone has 64'),
    (dict(backbone=dict(img_size=30)), ValueError, 'img_size=30 is not a multiple of'),
    (dict(mask_generator=dict(num_folds=5)), ValueError, '48 masked patches'),
])
def test_build_time_validation(sdae_cfg, overrides, error, message):
    with pytest.raises(error, match=message):
        MODELS.build(sdae_cfg(**overrides))


def test_backbone_without_forward_tokens_is_rejected(sdae_cfg):
    cfg = sdae_cfg(backbone=dict(type='MAEViT', arch='deit-tiny', img_size=32, patch_size=4,
                                 patch_cfg=dict(in_channels=1), drop_path_rate=0.))
    with pytest.raises(TypeError, match='needs an SdAEViT backbone'):
        MODELS.build(cfg)
