"""The only zone that imports bpy: properties, operators, panels, keyframe writing."""
from __future__ import annotations

import importlib

# Submodules that define register()/unregister(), in registration order.
_MODULE_NAMES: tuple[str, ...] = ("demo_head", "prefs", "props", "ops_generate", "ops_takes", "ops_output", "grid",
                                  "ops_mapping", "transcript", "ui")


def _modules():
    return [importlib.import_module(f".{name}", __name__) for name in _MODULE_NAMES]


def register() -> None:
    for mod in _modules():
        mod.register()


def unregister() -> None:
    for mod in reversed(_modules()):
        mod.unregister()
