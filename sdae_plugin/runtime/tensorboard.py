"""The TensorBoard switch: MMEngine's ``TensorboardVisBackend`` next to the json log.

MMEngine writes training scalars through the config's ``visualizer``; MMPretrain's default runtime
has only ``LocalVisBackend`` (the json log under ``vis_data/``, which ``tools/plot_log.py`` reads).
:func:`enable_tensorboard` adds ``TensorboardVisBackend`` (event files under
``<work_dir>/<timestamp>/vis_data/``) and keeps the existing backends. TensorBoard is optional:
``pip install tensorboard`` (``torch.utils.tensorboard`` needs it).
"""
import importlib.util


def tensorboard_available() -> bool:
    """Whether ``torch.utils.tensorboard`` can write event files (the ``tensorboard`` package)."""
    return importlib.util.find_spec('tensorboard') is not None


def enable_tensorboard(cfg, check: bool = True):
    """Add ``TensorboardVisBackend`` to ``cfg.visualizer`` (in place; returned for chaining).

    Args:
        cfg (mmengine.Config | dict): a full training config.
        check (bool): raise ``ImportError`` now, with the install command, if TensorBoard is not
            installed (MMEngine would only fail at the first logged iteration). Defaults to True.
    """
    if check and not tensorboard_available():
        raise ImportError('TensorBoard logging needs the tensorboard package: '
                          'pip install tensorboard')
    visualizer = dict(cfg.get('visualizer') or dict(type='UniversalVisualizer'))
    backends = [dict(b) for b in (visualizer.get('vis_backends') or
                                  [dict(type='LocalVisBackend')])]
    if not any(b.get('type') in ('TensorboardVisBackend', 'mmengine.TensorboardVisBackend')
               for b in backends):
        backends.append(dict(type='TensorboardVisBackend'))
    visualizer['vis_backends'] = backends
    cfg['visualizer'] = visualizer
    return cfg
