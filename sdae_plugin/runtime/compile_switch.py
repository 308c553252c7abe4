"""``tools/train.py --compile``: switch on SdAE's compiled loss in a config."""
from mmengine.config import Config


def enable_compiled_loss(cfg: Config) -> None:
    """Set ``model.compile_loss=True`` (keeping a dict of options the config already gives).

    The switch compiles :meth:`SdAE.masked_loss` once per run (the masks are drawn outside it
    with shapes fixed by the config; see :class:`~sdae_plugin.models.SdAE`). With a dataloader
    that keeps a smaller last batch (``drop_last=False``), that batch compiles a second graph.

    Raises:
        ValueError: if the config's model is not an SdAE (or a subclass registered in
            MMPretrain's registry): other models have no ``compile_loss`` switch.
    """
    import sdae_plugin  # noqa: F401  (registration)
    from mmpretrain.registry import MODELS
    from sdae_plugin.models import SdAE
    model = cfg.get('model') or {}
    kind = model.get('type')
    cls = MODELS.get(kind) if isinstance(kind, str) else kind
    if not (isinstance(cls, type) and issubclass(cls, SdAE)):
        raise ValueError(f"--compile switches on SdAE's compile_loss; the model type {kind!r} "
                         "has no such switch. MMEngine's own config key `compile = True` "
                         'compiles a whole train_step instead.')
    if not model.get('compile_loss'):
        model['compile_loss'] = True
