"""Add-on preferences: ONNX Runtime device and an optional ARKit->FLAME map."""
from __future__ import annotations

import bpy
from bpy.props import EnumProperty, StringProperty

from .. import __package__ as base_package


class THUNDER_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = base_package

    device: EnumProperty(
        name="Device", default="AUTO",
        items=[("AUTO", "GPU if available", "Use a GPU execution provider when the installed ONNX Runtime "
                "offers one (CUDA, DirectML, CoreML); fall back to CPU on any error"),
               ("CPU", "CPU", "Always run on the CPU")])
    flame_map_file: StringProperty(
        name="FLAME Map", subtype="FILE_PATH",
        description="ARKit->FLAME map (JSON), e.g. one fitted to your head with `thunder flame-map`. Empty: the "
                    "bundled hand-made example (a format example, not fitted)")

    def draw(self, context) -> None:
        layout = self.layout
        layout.prop(self, "device")
        from ..runtime.model import ModelError, import_onnxruntime

        try:
            ort = import_onnxruntime()
            layout.label(text="ONNX Runtime " + ort.__version__ + ": " + ", ".join(ort.get_available_providers()))
        except ModelError:
            layout.label(text="ONNX Runtime is not installed", icon="ERROR")
        layout.prop(self, "flame_map_file")


def get_prefs(context=None):
    context = context or bpy.context
    addon = context.preferences.addons.get(base_package)
    return addon.preferences if addon is not None else None


def providers(context=None) -> str | list[str]:
    """ONNX Runtime providers for ``runtime.model.load_model``."""
    prefs = get_prefs(context)
    if prefs is not None and prefs.device == "CPU":
        return ["CPUExecutionProvider"]
    return "auto"


def register() -> None:
    bpy.utils.register_class(THUNDER_AP_preferences)


def unregister() -> None:
    bpy.utils.unregister_class(THUNDER_AP_preferences)
