"""THUNDER for Blender: speech to several expressive, lip-synced facial-animation takes.

Importable without Blender: ``register()`` imports the Blender zone lazily.
Zones: ``core`` (numpy only), ``runtime`` (numpy + onnxruntime), ``blender`` (the only bpy code).
"""

__version__ = "0.1.0"


def register() -> None:
    from . import blender

    blender.register()


def unregister() -> None:
    from . import blender

    blender.unregister()
