"""Attention weights of the last layer against an explicit per-head computation."""
import torch

from sdae_plugin.visualization import cls_attention_maps, last_layer_attention


def test_attention_weights_match_an_explicit_computation(make_sdae):
    backbone = make_sdae().backbone
    backbone.train()  # drop path 0.1: the helper must switch it off
    images = torch.randn(2, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    last = backbone.layers[-1]
    seen = []
    handle = last.attn.register_forward_hook(lambda m, args, out: seen.append((args[0], out)))
    weights = last_layer_attention(backbone, images)
    handle.remove()
    assert backbone.training  # mode restored

    # Written out: tokens through all but the last layer, then per head softmax(q.k / sqrt(d)).
    with torch.no_grad():
        x = backbone.patch_embed(images)[0]
        x = torch.cat([backbone.cls_token.expand(2, -1, -1), x], 1) + backbone.pos_embed
        for layer in backbone.layers[:-1].eval():
            x = layer(x)
        y = last.ln1(x)
        width, heads = 32, 2
        d = width // heads
        w, b = last.attn.qkv.weight, last.attn.qkv.bias
        expected = torch.empty(2, heads, 65, 65)
        for h in range(heads):
            q = y @ w[h * d:(h + 1) * d].T + b[h * d:(h + 1) * d]
            k = y @ w[width + h * d:width + (h + 1) * d].T + b[width + h * d:width + (h + 1) * d]
            logits = q @ k.transpose(1, 2) / d**0.5
            expected[:, h] = logits.exp() / logits.exp().sum(-1, keepdim=True)
    assert weights.shape == (2, heads, 65, 65)
    torch.testing.assert_close(weights, expected, atol=1e-6, rtol=1e-5)

    # ...and they are the weights the module used: A @ V, projected, is the layer's own output.
    attn_in, attn_out = seen[0]
    torch.testing.assert_close(attn_in, y, atol=1e-6, rtol=1e-5)
    v = last.attn.qkv(attn_in)[..., 2 * width:].reshape(2, 65, heads, d).transpose(1, 2)
    mixed = (weights @ v).transpose(1, 2).reshape(2, 65, width)
    torch.testing.assert_close(last.attn.proj(mixed), attn_out, atol=1e-5, rtol=1e-5)


def test_cls_maps_are_row_zero_without_the_cls_column():
    weights = torch.rand(2, 3, 5, 5).softmax(-1)
    maps = cls_attention_maps(weights, (2, 2))
    assert maps.shape == (2, 3, 2, 2)
    assert torch.equal(maps.flatten(2), weights[:, :, 0, 1:])
