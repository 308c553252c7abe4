"""Config checks that turn MMEngine's late, generic errors into early, specific ones."""
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
