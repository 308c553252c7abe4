"""The one converter for foreign formats: MAE / timm names and the released code's checkpoints.

Every tool that reads or writes a foreign format goes through here: reading the released code's
checkpoints (:func:`released_encoder_state`), the timm export (:func:`to_timm_key`) and the
benchmark's check against the released model (:func:`released_to_sdae_key`).

**MAE / timm encoder names.** MAE's ``MaskedAutoencoderViT`` encoder (the released SdAE student)
and timm's ``VisionTransformer`` (the released teacher, and timm exports) share their names;
MMPretrain names them differently:

* ``cls_token``, ``pos_embed``: the same in both;
* ``patch_embed.projection.*`` <-> ``patch_embed.proj.*``;
* ``ln1.*`` (the encoder's final norm) <-> ``norm.*``;
* ``layers.i.ln1.*`` / ``ln2.*`` <-> ``blocks.i.norm1.*`` / ``norm2.*``;
* ``layers.i.attn.qkv.*`` / ``attn.proj.*`` <-> ``blocks.i.attn.qkv.*`` / ``attn.proj.*``;
* ``layers.i.ffn.layers.0.0.*`` / ``ffn.layers.1.*`` <-> ``blocks.i.mlp.fc1.*`` / ``mlp.fc2.*``.

``pos_embed`` is ``(1, 1 + N, C)`` with the cls position first in both. Both directions read the
same two tables below, so a name converted one way converts back to itself.

**The released code's checkpoints** (``AbrahamYabo/SdAE``, ``checkpoint-*.pth``): ``model`` is
the student ``MaskedAutoencoderViT`` (MAE encoder names, plus its decoder: ``mask_token``,
``decoder_embed``, ``decoder_pos_embed``, ``decoder_blocks.i`` with timm block names,
``decoder_norm``, ``decoder_pred``) and ``model_teacher`` the timm ``VisionTransformer`` teacher
(encoder names, plus a classifier ``head`` / ``fc_norm`` it never uses).
"""
import re
from collections import OrderedDict

from .encoder_weights import StateDict
from .errors import BackboneKeyError

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


# Keys of the released student that belong to the decoder (or the classifier of the teacher):
# not part of the encoder, dropped when an encoder is read.
RELEASED_NON_ENCODER = re.compile(r'^(decoder_|mask_token$|head\.|fc_norm\.)')
# The released student's decoder names outside its blocks -> our SdAENeck's (the decoder blocks
# are timm blocks and go through the block table).
RELEASED_DECODER = (
    ('mask_token', 'mask_token'),
    ('decoder_pos_embed', 'decoder_pos_embed'),
    ('decoder_embed.', 'decoder_embed.'),
    ('decoder_pred.', 'decoder_pred.'),
    ('decoder_norm.', 'ln1.'),
)


def released_encoder_state(state: StateDict) -> StateDict:
    """A released ``model`` / ``model_teacher`` state dict as an MMPretrain encoder state dict.

    Args:
        state (dict): the released student's or teacher's tensors.

    Returns:
        dict: the encoder's tensors, MMPretrain ``VisionTransformer`` names without prefix; the
        decoder and the classifier are dropped.

    Raises:
        BackboneKeyError: listing the keys that are neither encoder, decoder nor classifier keys
            (a checkpoint of another layout is not half-converted silently).
    """
    converted: StateDict = OrderedDict()
    unknown = []
    for key, value in state.items():
        if RELEASED_NON_ENCODER.match(key):
            continue
        try:
            converted[from_timm_key(key)] = value
        except KeyError:
            unknown.append(key)
    if unknown:
        raise BackboneKeyError(unexpected=unknown, context='(keys of no MAE/timm ViT encoder)')
    return converted


def released_to_sdae_key(key: str, teacher: bool = False) -> str:
    """The name in our :class:`~sdae_plugin.models.SdAE` of a released student (or teacher) tensor.

    Args:
        key (str): a key of the released ``model`` (student: encoder and decoder) or, with
            ``teacher=True``, of ``model_teacher``.
        teacher (bool): the key is the teacher's.

    Returns:
        str: ``backbone.*`` (student encoder), ``neck.*`` (decoder) or ``teacher.*``.

    Raises:
        KeyError: for a key of neither table (e.g. the teacher's unused classifier).
    """
    if teacher:
        return 'teacher.' + from_timm_key(key)
    if key.startswith('decoder_blocks.'):
        block = from_timm_key(key[len('decoder_'):])  # 'layers.i.<MMPretrain block name>'
        return 'neck.decoder_blocks.' + block[len('layers.'):]
    for released, ours in RELEASED_DECODER:
        if key == released or (released.endswith('.') and key.startswith(released)):
            return 'neck.' + ours + key[len(released):]
    return 'backbone.' + from_timm_key(key)


def released_to_sdae_state(student: StateDict, teacher: StateDict) -> StateDict:
    """The released student and teacher as one state dict of our SdAE (``load_state_dict``).

    The teacher's classifier (``head.*``, ``fc_norm.*``), which the released step never runs,
    is dropped.
    """
    state: StateDict = OrderedDict(
        (released_to_sdae_key(k), v) for k, v in student.items())
    state.update((released_to_sdae_key(k, teacher=True), v) for k, v in teacher.items()
                 if not RELEASED_NON_ENCODER.match(k))
    return state
