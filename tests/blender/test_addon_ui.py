"""Enabling is cheap (nothing heavy imported until first use) and the panel draws for the usual states."""
from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from tests.blender.helpers import addon_module, make_mesh
from tests.blender.layout import RecordingLayout
from tests.conftest import ADDON_MODULE, DEV_REPO, EXTENSION_ID, ROOT

_ENABLE_SCRIPT = r"""
import importlib.util, json, os, sys, tempfile, time
from pathlib import Path
os.environ["BLENDER_USER_RESOURCES"] = tempfile.mkdtemp(prefix="thunder-enable-")
root = Path(sys.argv[1])
import bpy, addon_utils
spec = importlib.util.spec_from_file_location("thunder_build", root / "build.py")
build = importlib.util.module_from_spec(spec); spec.loader.exec_module(build)
repo_dir = Path(tempfile.mkdtemp(prefix="thunder-ext-"))
build.stage(repo_dir / sys.argv[3], link=True)
bpy.context.preferences.extensions.repos.new(name=sys.argv[2], module=sys.argv[2],
                                             custom_directory=str(repo_dir), source="USER")
mod_name = f"bl_ext.{sys.argv[2]}.{sys.argv[3]}"
addon_utils.extensions_refresh(ensure_wheels=False, addon_modules_pending=[mod_name])
before = set(sys.modules)
t0 = time.perf_counter()
mod = addon_utils.enable(mod_name, default_set=True, handle_error=None)
dt = time.perf_counter() - t0
print("RESULT" + json.dumps({"ok": mod is not None, "enable_s": dt,
      "ort": "onnxruntime" in sys.modules,
      "new": sorted(m for m in set(sys.modules) - before),
      "has_op": hasattr(bpy.ops.thunder, "generate")}))
"""


def test_enable_imports_nothing_heavy(tmp_path):
    res = subprocess.run([sys.executable, "-c", _ENABLE_SCRIPT, str(ROOT), DEV_REPO, EXTENSION_ID],
                         capture_output=True, text=True, timeout=180, cwd=tmp_path)
    line = next((x for x in res.stdout.splitlines() if x.startswith("RESULT")), None)
    assert line is not None, res.stderr[-2000:]
    out = json.loads(line[len("RESULT"):])
    assert out["ok"] and out["has_op"]
    assert not out["ort"], "onnxruntime was imported at enable"
    ours = [m for m in out["new"] if m.startswith(ADDON_MODULE)]
    lazy = [".runtime.model", ".runtime.generate", ".runtime.job", ".blender.keyframes", ".blender.rig",
            ".blender.strips", ".blender.takes", ".core.resample", ".core.rig_names", ".core.visemes"]
    loaded_early = [m for m in ours if any(m.endswith(s) for s in lazy)]
    assert not loaded_early, f"imported at enable: {loaded_early}"
    print(f"enable time {out['enable_s'] * 1000:.0f} ms; package modules imported: {len(ours)}")


def test_panel_draws_in_every_state(bpy, empty_scene, tmp_path):
    ui, kf = addon_module("blender.ui"), addon_module("blender.keyframes")
    gen = addon_module("runtime.generate")
    from thunder_blender.core.channels import ARKIT_52

    layout = RecordingLayout()
    ui.draw_thunder(layout, bpy.context)  # no object, no strip
    labels = [str(c.kwargs.get("text", "")) for c in layout.called("label")]
    assert any("No sound strip" in t for t in labels) and any("Select the face" in t for t in labels)
    obj = make_mesh(bpy, "Face", list(ARKIT_52))
    takes = gen.Takes(weights=np.random.default_rng(0).random((2, 50, 55), dtype=np.float32), fps=50.0,
                      seeds=(1, 2))
    kf.write_takes(obj, takes, 1, 30.0)
    empty_scene.thunder.audio_source = "FILE"
    layout = RecordingLayout()
    ui.draw_thunder(layout, bpy.context)
    assert any("ARKit: 52/52 shape keys" in t for t in layout.texts())
    assert any(c.args[:1] == ("THUNDER_UL_takes",) for c in layout.called("template_list"))
    row = RecordingLayout()
    ui.THUNDER_UL_takes.draw_item(None, bpy.context, row, obj.thunder, obj.thunder.takes[1], 0, obj.thunder,
                                  "active_take", 1)
    assert any("Face_take2" in t for t in row.texts()) and any("seed 2" in t for t in row.texts())


def test_preferences_choose_onnx_providers(bpy, addon):
    prefs_mod = addon_module("blender.prefs")
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    assert prefs_mod.THUNDER_AP_preferences.bl_idname == ADDON_MODULE
    prefs.device = "CPU"
    assert prefs_mod.providers() == ["CPUExecutionProvider"]
    prefs.device = "AUTO"
    assert prefs_mod.providers() == "auto"
    layout = RecordingLayout()
    prefs_mod.THUNDER_AP_preferences.draw(SimpleNamespace(layout=layout, device="AUTO"), bpy.context)
    assert any("CPUExecutionProvider" in t for t in layout.texts())


def test_recording_layout_rejects_what_blender_rejects(bpy):
    layout = RecordingLayout()
    layout.label(text="ok", icon="INFO")
    with pytest.raises(TypeError, match="unexpected keyword"):
        layout.label(txt="misspelt")
    with pytest.raises(TypeError, match="missing required"):
        layout.prop(text="no data")
    with pytest.raises(AttributeError, match="no method"):
        layout.lable(text="x")
    with pytest.raises(AttributeError, match="no property"):
        layout.enable = False
    layout.row(align=True).operator("thunder.generate", text="Go")
    assert [c.method for c in layout.calls] == ["label", "row", "operator"]
