"""Helpers shared by the add-on's Blender tests (no tests here): test rigs, audio, scene snapshots, F-curves."""
from __future__ import annotations

import importlib
import subprocess
import wave
from pathlib import Path

import numpy as np

from tests.conftest import ADDON_MODULE, ROOT

DEMO_SPEECH = ROOT / "thunder_blender" / "assets" / "demo_speech.wav"
MODEL_CARD = ROOT / "models" / "model.json"


def addon_module(name: str):
    """A submodule of the enabled extension (``blender.keyframes``, ``runtime.generate``...)."""
    return importlib.import_module(f"{ADDON_MODULE}.{name}")


def make_mesh(bpy, name: str, keys: list[str]):
    """A small grid mesh with a Basis and one shape key per name (each moves a different vertex)."""
    me = bpy.data.meshes.new(name)
    verts = [(x * 0.1, 0.0, z * 0.1) for z in range(4) for x in range(4)]
    faces = [(z * 4 + x, z * 4 + x + 1, (z + 1) * 4 + x + 1, (z + 1) * 4 + x) for z in range(3) for x in range(3)]
    me.from_pydata(verts, [], faces)
    obj = bpy.data.objects.new(name, me)
    bpy.context.scene.collection.objects.link(obj)
    obj.shape_key_add(name="Basis")
    for i, k in enumerate(keys):
        kb = obj.shape_key_add(name=k, from_mix=False)
        kb.data[i % len(verts)].co.y += 0.05
    bpy.context.view_layer.objects.active = obj
    return obj


def make_armature(bpy, name: str, bones: list[tuple[str, tuple, tuple, str | None]]):
    """An armature object with bones ``(name, head, tail, parent)``; left in object mode."""
    arm = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, arm)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    for bname, head, tail, parent in bones:
        eb = arm.edit_bones.new(bname)
        eb.head, eb.tail = head, tail
        if parent:
            eb.parent = arm.edit_bones[parent]
    bpy.ops.object.mode_set(mode="OBJECT")
    return obj


def fcurves(action, id_type: str | None = None) -> list:
    """Every F-curve of a slotted action (optionally only the channelbag of the slot for ``id_type``)."""
    out = []
    for layer in action.layers:
        for strip in layer.strips:
            for bag in strip.channelbags:
                if id_type is None or bag.slot.target_id_type == id_type:
                    out.extend(bag.fcurves)
    return out


def curve_values(fc) -> tuple[np.ndarray, np.ndarray]:
    n = len(fc.keyframe_points)
    co = np.empty(2 * n, dtype=np.float32)
    fc.keyframe_points.foreach_get("co", co)
    return co[0::2], co[1::2]


def write_wav(path: Path, pcm: np.ndarray, rate: int) -> Path:
    data = (np.clip(pcm, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data.tobytes())
    return path


def espeak_wav(path: Path, text: str) -> Path:
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True, capture_output=True, timeout=60)
    return path


def snapshot(bpy) -> dict:
    """Everything a generation could change, as plain data (to prove that nothing changed)."""
    snap = {"actions": sorted((a.name, a.users) for a in bpy.data.actions),
            "objects": sorted(o.name for o in bpy.data.objects)}
    for o in bpy.data.objects:
        ad = o.animation_data
        snap[f"obj:{o.name}"] = (ad.action.name if ad and ad.action else None,
                                 [t.name for t in ad.nla_tracks] if ad else None,
                                 tuple(o.rotation_euler), len(o.thunder.takes))
        key = getattr(o.data, "shape_keys", None) if o.type == "MESH" else None
        if key is not None:
            kad = key.animation_data
            snap[f"key:{o.name}"] = (kad.action.name if kad and kad.action else None,
                                     [t.name for t in kad.nla_tracks] if kad else None,
                                     [(kb.name, kb.value) for kb in key.key_blocks])
    return snap


def model_available() -> bool:
    return MODEL_CARD.is_file()


def assert_reimported_curve(fc, frames: np.ndarray, values: np.ndarray, first: float = 1.0, atol: float = 2e-4):
    """An F-curve read back from an exported file plays ``values`` at ``frames`` shifted to start at
    ``first``. Compared by value at every frame: exporters may drop keys that repeat both neighbours."""
    kf, _ = curve_values(fc)
    shifted = np.asarray(frames, np.float64) - frames[0] + first
    assert abs(kf[0] - first) < 1e-3 and kf[-1] <= shifted[-1] + 1e-3, (kf[0], kf[-1], shifted[-1])
    np.testing.assert_allclose([fc.evaluate(float(f)) for f in shifted], values, atol=atol)


def strip_frames(strip) -> tuple[int, int]:
    """A sound strip's played frames ``[left, right)`` under the running Blender's names (compat)."""
    return addon_module("blender.compat").strip_span(strip)


def move_strip(strip, to: float | None = None, by: float = 0.0) -> None:
    """Move a sound strip's content start (``content_start``; ``frame_start`` before Blender 5.1)."""
    name = addon_module("blender.compat").STRIP_CONTENT_START
    setattr(strip, name, (getattr(strip, name) if to is None else to) + by)


def trim_strip_start(strip, to: float | None = None, by: float = 0.0) -> None:
    """Set a sound strip's frames trimmed off its start (``left_handle_offset``; ``frame_offset_start``
    before Blender 5.1)."""
    name = addon_module("blender.compat").STRIP_LEFT_OFFSET
    setattr(strip, name, (getattr(strip, name) if to is None else to) + by)
