"""The one key table between MMPretrain's ``VisionTransformer`` and MAE / timm ViT names.

MAE's ``MaskedAutoencoderViT`` encoder (the released SdAE student) and timm's ``VisionTransformer``
(the released teacher, and timm exports) share their names; MMPretrain names them differently:

* ``cls_token``, ``pos_embed``: the same in both;
* ``patch_embed.projection.*`` <-> ``patch_embed.proj.*``;
* ``ln1.*`` (the encoder's final norm) <-> ``norm.*``;
* ``layers.i.ln1.*`` / ``ln2.*`` <-> ``blocks.i.norm1.*`` / ``norm2.*``;
* ``layers.i.attn.qkv.*`` / ``attn.proj.*`` <-> ``blocks.i.attn.qkv.*`` / ``attn.proj.*``;
* ``layers.i.ffn.layers.0.0.*`` / ``ffn.layers.1.*`` <-> ``blocks.i.mlp.fc1.*`` / ``mlp.fc2.*``.

``pos_embed`` is ``(1, 1 + N, C)`` with the cls position first in both. Both directions read the
same two tables below, so a name converted one way converts back to itself.
"""
import re

# (MMPretrain, MAE/timm) names outside the blocks; a name ending in '.' is a prefix.
TOP_LEVEL = (
    ('cls_token', 'cls_token'),
    ('pos_embed', 'pos_embed'),
    ('patch_embed.projection.', 'patch_embed.proj.'),
    ('ln1.', 'norm.'),
)
# (MMPretrain, MAE/timm) name parts inside block i ('layers.i.' / 'blocks.i.').
BLOCK = (
    ('ln1.', 'norm1.'),
    ('ln2.', 'norm2.'),
    ('attn.qkv.', 'attn.qkv.'),
    ('attn.proj.', 'attn.proj.'),
    ('ffn.layers.0.0.', 'mlp.fc1.'),
    ('ffn.layers.1.', 'mlp.fc2.'),
)
BLOCK_PREFIX = ('layers', 'blocks')


def _rename(key: str, source: int) -> str:
    """``key`` in the naming ``source`` (0: MMPretrain, 1: MAE/timm) in the other naming."""
    target = 1 - source
    match = re.match(rf'^{BLOCK_PREFIX[source]}\.(\d+)\.(.+)$', key)
    if match:
        index, rest = match.groups()
        for pair in BLOCK:
            if rest.startswith(pair[source]):
                return f'{BLOCK_PREFIX[target]}.{index}.{pair[target]}{rest[len(pair[source]):]}'
    else:
        for pair in TOP_LEVEL:
            name = pair[source]
            if key == name or (name.endswith('.') and key.startswith(name)):
                return pair[target] + key[len(name):]
    raise KeyError(key)


def to_timm_key(key: str) -> str:
    """One MMPretrain ``VisionTransformer`` encoder key as its MAE / timm name.

    Raises:
        KeyError: for keys outside the table (layer scale, pre-norm, relative positions and
            registers are not part of SdAE's encoder).
    """
    try:
        return _rename(key, 0)
    except KeyError:
        raise KeyError(f'no timm name for {key!r} (layer scale, pre-norm, relative positions and '
                       'registers are not part of SdAE\'s encoder)') from None


def from_timm_key(key: str) -> str:
    """One MAE / timm ViT encoder key as its MMPretrain ``VisionTransformer`` name.

    Raises:
        KeyError: for keys that are not encoder keys of the table.
    """
    try:
        return _rename(key, 1)
    except KeyError:
        raise KeyError(f'not a MAE/timm ViT encoder key: {key!r}') from None
