"""Test harness: pure-numpy tests run anywhere; ``blender`` tests run inside real headless Blender (bpy).

Blender never touches the user's configuration: ``BLENDER_USER_RESOURCES`` points at a fresh temp dir
before anything can import bpy.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["BLENDER_USER_RESOURCES"] = tempfile.mkdtemp(prefix="thunder-blender-user-")

EXTENSION_ID = "thunder_lipsync"
DEV_REPO = "thunder_dev"
ADDON_MODULE = f"bl_ext.{DEV_REPO}.{EXTENSION_ID}"


def _load_build_module():
    spec = importlib.util.spec_from_file_location("thunder_build", ROOT / "build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def bpy():
    """The real ``bpy`` module (Blender 4.5 LTS, headless)."""
    import bpy as _bpy

    return _bpy


@pytest.fixture(scope="session")
def addon(bpy, tmp_path_factory):
    """The extension installed from the source tree (symlinked stage) and enabled. Yields its module."""
    import addon_utils

    repo_dir = tmp_path_factory.mktemp("extensions")
    _load_build_module().stage(repo_dir / EXTENSION_ID, link=True)
    prefs = bpy.context.preferences
    repo = prefs.extensions.repos.new(
        name=DEV_REPO, module=DEV_REPO, custom_directory=str(repo_dir), source="USER"
    )
    addon_utils.extensions_refresh(ensure_wheels=False, addon_modules_pending=[ADDON_MODULE])
    mod = addon_utils.enable(ADDON_MODULE, default_set=True, handle_error=None)
    assert mod is not None, f"could not enable {ADDON_MODULE}"
    yield mod
    addon_utils.disable(ADDON_MODULE, default_set=True)
    prefs.extensions.repos.remove(repo)


@pytest.fixture
def empty_scene(bpy, addon):
    """An empty scene at 30 fps, with the add-on still enabled."""
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps = 30
    scene.render.fps_base = 1.0
    return scene


_DIRECTORY_MARKERS = {"blender": "blender", "train": "train"}


def pytest_collection_modifyitems(config, items):
    """Markers by directory: tests/blender/ run in Blender, tests/train/ need torch/librosa."""
    for item in items:
        rel = Path(str(item.fspath)).relative_to(ROOT / "tests").parts
        marker = _DIRECTORY_MARKERS.get(rel[0]) if len(rel) > 1 else None
        if marker and marker not in {m.name for m in item.iter_markers()}:
            item.add_marker(getattr(pytest.mark, marker))
