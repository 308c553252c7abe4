"""Config checks of ``tools/train.py``: MMEngine's late, generic errors (or a silently wrong run)
turned into early, specific ones."""
from typing import Any, Iterator, Set

PLUGIN = 'sdae_plugin'
CUSTOM_IMPORTS = "custom_imports = dict(imports=['sdae_plugin'], allow_failed_imports=False)"


def plugin_type_names() -> Set[str]:
    """Names this plugin registers in MMPretrain's / MMEngine's registries."""
    import sdae_plugin  # noqa: F401  (registration)
    from mmengine import registry as mme
    from mmpretrain import registry as mmp
    names = set()
    for module in (mmp, mme):
        for value in vars(module).values():
            if isinstance(value, mme.Registry):
                for name, obj in value.module_dict.items():
                    if getattr(obj, '__module__', '').startswith(PLUGIN):
                        names.add(name)
    return names


def _types(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        value = node.get('type')
        if isinstance(value, str):
            yield value
        for item in node.values():
            yield from _types(item)
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from _types(item)


def check_custom_imports(cfg) -> None:
    """Raise if ``cfg`` uses modules of this plugin without importing it in ``custom_imports``.

    Without it, ``mim train``, MMPretrain's own tools and other projects fail late with
    "SdAE is not in the mmpretrain::model registry", or (for hooks) "... not in the hook
    registry".
    """
    imports = (cfg.get('custom_imports') or {}).get('imports', [])
    if isinstance(imports, str):
        imports = [imports]
    if any(name == PLUGIN or name.startswith(PLUGIN + '.') for name in imports):
        return
    ours = plugin_type_names()
    used = sorted({t for t in _types(cfg.to_dict() if hasattr(cfg, 'to_dict') else dict(cfg))
                   if t.split('.')[-1] in ours})
    if used:
        raise ValueError(
            f'The config uses sdae-plugin modules {used} but does not import the plugin, so '
            "MMEngine's registries will not know them. Add\n    "
            f'{CUSTOM_IMPORTS}\nto the config (and install the plugin: pip install -e .).')


def check_teacher_update(cfg) -> None:
    """Raise if an SdAE config leaves the teacher frozen without saying so, or says so and moves it.

    SdAE's teacher changes only through ``TeacherEMAHook`` (``custom_hooks``); without the hook
    it stays at its initialization for the whole run, and training still looks normal. A config
    that wants that asks for it with ``model.frozen_teacher=True``.

    Args:
        cfg (Config | dict): a whole training config.

    Raises:
        ValueError: naming ``TeacherEMAHook`` and ``frozen_teacher``.
    """
    import sdae_plugin  # noqa: F401  (registration)
    from mmpretrain.registry import HOOKS, MODELS
    from sdae_plugin.hooks import TeacherEMAHook
    from sdae_plugin.models import SdAE
    model = cfg.get('model') or {}
    if not _is_subclass(MODELS, model.get('type'), SdAE):
        return
    updates = any(_is_subclass(HOOKS, hook.get('type'), TeacherEMAHook)
                  for hook in cfg.get('custom_hooks') or [] if isinstance(hook, dict))
    frozen = bool(model.get('frozen_teacher', False))
    if not updates and not frozen:
        raise ValueError(
            "The config trains SdAE without TeacherEMAHook: its teacher would never follow the "
            "student. Add\n    custom_hooks = [dict(type='TeacherEMAHook', base_momentum=0.96, "
            "final_momentum=0.99)]\nor, for a teacher that stays at its initialization on "
            "purpose, set model.frozen_teacher=True.")
    if updates and frozen:
        raise ValueError('The config sets model.frozen_teacher=True and also has TeacherEMAHook, '
                         'which moves the teacher: drop one of them.')


def _is_subclass(registry, kind: Any, base: type) -> bool:
    """Whether a config ``type`` (a registered name or a class) is ``base`` or a subclass."""
    cls = registry.get(kind) if isinstance(kind, str) else kind
    return isinstance(cls, type) and issubclass(cls, base)
