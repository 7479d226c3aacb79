"""The add-on installs from the source tree into real headless Blender and enables."""
from __future__ import annotations

import sys


def test_addon_enabled(bpy, addon):
    import addon_utils

    from tests.conftest import ADDON_MODULE

    assert ADDON_MODULE in {m.__name__ for m in addon_utils.modules()} or ADDON_MODULE in sys.modules
    assert bpy.context.preferences.addons.get(ADDON_MODULE) is not None


def test_scene_reset_keeps_addon(bpy, empty_scene):
    from tests.conftest import ADDON_MODULE

    assert len(bpy.data.objects) == 0
    assert bpy.context.preferences.addons.get(ADDON_MODULE) is not None
