"""``tools/extract_backbone.py``: a pretraining checkpoint's encoder as a weights-only backbone."""
from typing import List, NamedTuple, Optional, Sequence, Tuple

from .files import read_encoder, save_backbone
from .encoder_weights import EncoderWeights
from .errors import HeadCountError
from .vit import build_config_backbone, check_backbone_state, check_encoder_keys


class Extraction(NamedTuple):
    """What :func:`extract_backbone` wrote and checked."""
    encoder: EncoderWeights
    # (config, keys new in its backbone, checkpoint keys it does not use), per checked config
    configs: List[Tuple[str, List[str], List[str]]]


def extract_backbone(src: str, out: str, teacher: bool = False,
                     num_heads: Optional[int] = None, configs: Sequence[str] = (),
                     cfg_options: Optional[dict] = None, unsafe: bool = False) -> Extraction:
    """Check the encoder of ``src`` and write it with :func:`save_backbone`.

    The encoder must be exactly MMPretrain's ``VisionTransformer`` of its shape (no missing,
    unexpected or mismatched key) and load into every downstream config's backbone with only the
    documented differences (:func:`~sdae_plugin.checkpoints.vit.expected_differences`). The head
    count follows :mod:`~sdae_plugin.checkpoints.num_heads` and is written into the file's meta so
    that later tools need no ``--num-heads``; where nothing states it, the file is written without it.

    Args:
        src (str): any checkpoint :func:`read_encoder` accepts.
        out (str): the backbone file to write.
        teacher (bool): the EMA teacher instead of the student.
        num_heads (int, optional): the explicit head count.
        configs (list[str]): downstream configs to check against.
        cfg_options (dict, optional): overrides applied to every config.
        unsafe (bool): ``torch.load(weights_only=False)``.

    Raises:
        BackboneKeyError: listing the keys that do not match (nothing is written).
        HeadCountError: for contradicting head counts, a config's included.
    """
    encoder = read_encoder(src, teacher=teacher, num_heads=num_heads, unsafe=unsafe,
                           require_heads=False)
    check_encoder_keys(encoder)
    reports = []
    for config in configs:
        backbone = build_config_backbone(config, cfg_options)
        new, unused = check_backbone_state(backbone, encoder.state, strict=False,
                                           context=f'({config})')
        heads = (getattr(backbone, 'arch_settings', None) or {}).get('num_heads')
        if encoder.num_heads is not None and heads is not None and heads != encoder.num_heads:
            raise HeadCountError(f'{config}: its backbone has {heads} attention heads, the '
                                 f'encoder {encoder.num_heads} (from {encoder.num_heads_from})')
        reports.append((config, new, unused))
    save_backbone(encoder, out)
    return Extraction(encoder, reports)
