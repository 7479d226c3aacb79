"""Acceptance: an afternoon of use, 25 mixed operations on three characters, invariants after each one.

Characters: the demo head (with the user's own shape-key action), a multi-mesh character (head + teeth +
tongue parented to an armature, with the user's own NLA layer on the armature) and a library-overridden copy
of it. Operations (generate, re-roll, keep, re-roll a kept take, clear, move and trim the strip, change fps,
preview grid on and off, export) run at different frames. After each one:

* the rest record of every take equals the state captured before the first take, and after Clear the
  evaluated character equals the untouched one; the user's own actions, keys and NLA layers are unchanged;
* no orphan actions (every action is a take, a kept take or the user's), slots (only driven meshes and
  the rotation target) or NLA tracks (every THUNDER track holds a live take);
* the take count is what the operations imply;
* every take's keys span its recorded range, which is the strip's current range for takes made since
  the strip or frame rate last changed;
* every driven mesh has a KEY slot, curves and a track in every take;
* the same seed on the same range and rate gives identical curves (rotation included).

Exports are checked by the Khronos glTF validator (0 errors) and, at the end, by re-importing every FBX
(its take on frames 1.. = the strip start, values equal to the take's keys).
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.blender.helpers import (
    DEMO_SPEECH,
    addon_module,
    assert_reimported_curve,
    curve_values,
    fcurves,
    model_available,
    move_strip,
    strip_frames,
    trim_strip_start,
)
from tests.blender.test_addon_takes_safety import make_character, overridden_character
from tests.blender.test_export import read_glb, validate_gltf

pytestmark = pytest.mark.skipif(not model_available(), reason="no trained model in models/ (model.json)")

AFTERNOON = [
    "generate", "reroll 1", "keep 0", "reroll 0", "generate", "move 23", "reroll 1", "generate", "grid on",
    "reroll 0", "keep_copy 2", "trim 8", "generate", "fps 30", "generate", "export", "clear", "generate",
    "grid on", "grid off", "reroll 1", "keep 2", "reroll 0", "export", "clear",
]


class Afternoon:
    """Runs the operations and checks the invariants (see the module docstring)."""

    def __init__(self, bpy, scene, select, meshes, rotation_target, user, tmp_path):
        self.bpy, self.scene, self.select, self.meshes = bpy, scene, select, meshes
        self.rotation_target, self.user, self.tmp = rotation_target, user, tmp_path
        self.takes_mod, self.rig_mod = addon_module("blender.takes"), addon_module("blender.rig")
        self.grid = addon_module("blender.grid")
        self.strip = scene.sequence_editor.strips["speech"]
        self.rng = np.random.default_rng(14)
        self.n_takes = 0
        self.kept_off_list = 0  # kept takes living on 'THUNDER kept' tracks
        self.fresh: set[str] = set()
        self.curves: dict = {}
        self.exports: list = []
        self.user_before = self._user_state()
        self.rest0 = self.takes_mod.capture_rest(self.rig())
        self.state0 = self._evaluated()
        self.seen_same_seed = 0
        # Several takes cannot go to glTF where Blender's exporter mislabels shape-key tracks (4.4): FBX only.
        self.glb = not addon_module("blender.compat").GLTF_MISLABELS_SHAPE_KEY_TRACKS

    # -- helpers ------------------------------------------------------------------------------------------
    def rig(self):
        return self.rig_mod.detect_rig(self.select)

    def _evaluated(self):
        self.scene.frame_set(self.scene.frame_current)
        out = []
        for m in self.meshes:
            out.append(tuple(round(kb.value, 6) for kb in m.data.shape_keys.key_blocks))
        t = self.rotation_target
        out.append(tuple(round(v, 6) for v in (*t.rotation_euler, *t.rotation_quaternion)))
        if t.type == "ARMATURE":
            out += [tuple(round(v, 6) for v in pb.rotation_quaternion) for pb in t.pose.bones]
        return out

    def _user_state(self):
        out = {}
        for act in self.user["actions"]:
            out[act.name] = [(fc.data_path, fc.array_index, *map(tuple, curve_values(fc))) for fc in fcurves(act)]
        for idb, tname in self.user["tracks"]:
            tr = idb.animation_data.nla_tracks[tname]
            out[tname] = (tr.mute, [(s.action.name, s.frame_start, s.frame_end) for s in tr.strips])
        return out

    def _select(self):
        self.bpy.context.view_layer.objects.active = self.select

    # -- operations ---------------------------------------------------------------------------------------
    def run(self, op: str) -> None:
        bpy, scene = self.bpy, self.scene
        scene.frame_set(int(self.rng.integers(1, 260)))  # stop somewhere (inside or outside the strip)
        name, _, arg = op.partition(" ")
        self._select()
        listed = self.takes_mod.find_takes(self.rig())
        takes_before = [t.name for t in listed]
        if name == "generate":
            kept_in_list = sum(1 for a in listed if a.get("thunder_kept"))
            assert bpy.ops.thunder.generate() == {"FINISHED"}
            self.kept_off_list += kept_in_list
            self.n_takes = scene.thunder.n_takes
            self.fresh = {a.name for a in self.takes_mod.find_takes(self.rig())}
        elif name == "reroll":
            assert bpy.ops.thunder.take_reroll(index=int(arg)) == {"FINISHED"}
            self.fresh.add(self.takes_mod.find_takes(self.rig())[int(arg)].name)
        elif name == "keep":
            assert bpy.ops.thunder.take_keep(index=int(arg)) == {"FINISHED"}
            self.n_takes = 1
        elif name == "keep_copy":
            copy = next(o for o in self.grid.find_grid().objects
                        if o.get("thunder_grid_take") == int(arg) and o.type == "MESH")
            kept = takes_before[int(arg)]
            bpy.context.view_layer.objects.active = copy
            assert bpy.ops.thunder.take_keep() == {"FINISHED"}
            assert [a.name for a in self.takes_mod.find_takes(self.rig())] == [kept]
            self.n_takes = 1
        elif name == "clear":
            assert bpy.ops.thunder.takes_clear() == {"FINISHED"}
            self.n_takes = 0
            self.fresh = set()
            assert self._evaluated() == self.state0  # back to the untouched character
        elif name == "move":
            move_strip(self.strip, by=int(arg))
            self.fresh = set()
        elif name == "trim":
            trim_strip_start(self.strip, by=int(arg))
            self.fresh = set()
        elif name == "fps":
            scene.render.fps = int(arg)
            self.fresh = set()
        elif name == "grid":
            on = self.grid.find_grid() is not None
            if (arg == "on") != on:
                assert bpy.ops.thunder.preview_grid() == {"FINISHED"}
            assert (self.grid.find_grid() is not None) == (arg == "on")
        elif name == "export":
            out = self.tmp / f"export{len(self.exports)}"
            takes = self.takes_mod.find_takes(self.rig())
            expect = [(int(a["thunder_take"]) + 1, {m.name: {fc.data_path: curve_values(fc) for fc in fcurves(a)
                                                             if self._slot_of(a, fc) == "KE" + m.data.shape_keys.name}
                                                    for m in self.driven()}) for a in takes]
            assert bpy.ops.thunder.takes_export(directory=str(out), filename="takes",
                                                use_glb=self.glb) == {"FINISHED"}
            if self.glb:
                report = validate_gltf(out / "takes.glb")
                assert report["issues"]["numErrors"] == 0, report["issues"]["messages"][:3]
                doc, _blob = read_glb(out / "takes.glb")
                names = {a["name"] for a in doc["animations"]}
                others = addon_module("blender.ops_output").other_layers(self.rig())
                assert names == {f"THUNDER take {int(a['thunder_take']) + 1}" for a in takes} | set(others)
            self.exports.append((out, expect, scene.render.fps))
        else:
            raise AssertionError(op)
        self.check(op)

    @staticmethod
    def _slot_of(act, fc) -> str:
        for layer in act.layers:
            for st in layer.strips:
                for bag in st.channelbags:
                    if any(f == fc for f in bag.fcurves):
                        return bag.slot.identifier
        return ""

    def driven(self):
        return [p.mesh for p in self.rig().parts]

    # -- invariants ---------------------------------------------------------------------------------------
    def check(self, op: str) -> None:
        bpy, tk = self.bpy, self.takes_mod
        rig = self.rig()
        takes, kept = tk.find_takes(rig), tk.find_kept(rig)
        assert len(takes) == self.n_takes, op
        assert len(kept) == self.kept_off_list, op
        assert self._user_state() == self.user_before, op
        # No orphan actions: every action is a take, a kept take or the user's, and is used.
        known = {a.name for a in takes} | {a.name for a in kept} | {a.name for a in self.user["actions"]}
        assert {a.name for a in bpy.data.actions} == known, op
        assert all(a.users > 0 for a in bpy.data.actions), op
        driven = self.driven()
        key_slots = {"KE" + m.data.shape_keys.name for m in driven}
        rot_slot = "OB" + rig.head_target.name
        for a in takes + kept:
            assert json.loads(a["thunder_rest"]) == self.rest0, op  # the rest pose never drifts
            slots = {s.identifier for s in a.slots}
            assert slots - {rot_slot} == key_slots, op  # every driven mesh keyed, no orphan slot
        # NLA tracks: THUNDER tracks hold live takes; one take track per take on every driven mesh.
        ids = [m.data.shape_keys for m in self.meshes] + [rig.head_target]
        live = {a.name for a in takes}
        for idb in ids:
            ad = idb.animation_data
            names = [t.name for t in ad.nla_tracks] if ad else []
            for tr in (ad.nla_tracks if ad else []):
                if tr.name.startswith(("THUNDER", "pre-THUNDER")):
                    assert len(tr.strips) == 1 and tr.strips[0].action is not None, (op, tr.name)
                    if tr.name.startswith("THUNDER take"):
                        assert tr.strips[0].action.name in live, (op, tr.name)
            if idb.id_type == "KEY" and any(idb == m.data.shape_keys for m in driven):
                assert sorted(n for n in names if n.startswith("THUNDER take")) == \
                    sorted(f"THUNDER take {int(a['thunder_take']) + 1}" for a in takes), op
        # Keys span the recorded range, the strip's current one for fresh takes; same seed = same curves.
        for a in takes:
            info = json.loads(a["thunder_settings"])
            start, n = info["start_frame"], info["n_frames"]
            for fc in fcurves(a):
                f, _v = curve_values(fc)
                assert f[0] == start and f[-1] == start + n - 1 and len(f) == n, op
            if a.name in self.fresh:
                left, right = strip_frames(self.strip)
                assert (start, n) == (left, right - left), op
                assert info["scene_fps"] == self.scene.render.fps, op
            sig = (a["thunder_seed"], start, n, info["scene_fps"])
            curves = {(self._slot_of(a, fc), fc.data_path, fc.array_index): curve_values(fc)[1].tobytes()
                      for fc in fcurves(a)}
            if sig in self.curves:
                assert curves == self.curves[sig], (op, sig)
                self.seen_same_seed += 1
            else:
                self.curves[sig] = curves
        if self.grid.find_grid() is None:
            assert not any("thunder_grid" in o for o in bpy.data.objects), op
            assert not any("thunder_grid" in d for d in list(bpy.data.meshes) + list(bpy.data.curves)), op

    def check_fbx(self) -> int:
        """Re-import every exported FBX (resets the file). Returns how many were checked."""
        bpy = self.bpy
        n = 0
        for out, expect, fps in self.exports:
            assert sorted(p.name for p in out.iterdir()) == sorted(
                ["takes.glb"] * self.glb + [f"takes_take_{number}.fbx" for number, _ in expect])
            for number, per_mesh in expect:
                bpy.ops.wm.read_homefile(use_empty=True)
                bpy.context.scene.render.fps = fps
                bpy.ops.import_scene.fbx(filepath=str(out / f"takes_take_{number}.fbx"))
                objs = {o.name: o for o in bpy.context.scene.objects if o.type == "MESH"}
                for mname, curves in per_mesh.items():
                    act = objs[mname].data.shape_keys.animation_data.action
                    got = {fc.data_path: fc for fc in fcurves(act)}
                    for path, (frames, values) in curves.items():
                        assert_reimported_curve(got[path], frames, values)  # the FBX starts at frame 1
                n += 1
        return n


def _common(scene):
    scene.render.fps = 24
    scene.thunder.n_takes = 3
    scene.thunder.seed = 21
    se = scene.sequence_editor_create()
    se.strips.new_sound("speech", str(DEMO_SPEECH), channel=1, frame_start=37)


def _demo_head(bpy, tmp_path):
    scene = bpy.context.scene
    _common(scene)
    face = addon_module("blender.demo_head").build_demo_head(bpy.context)
    key = face.data.shape_keys
    key.key_blocks["browInnerUp"].value = 0.2
    key.key_blocks["browInnerUp"].keyframe_insert("value", frame=1)
    face.rotation_euler = (0.0, 0.0, 0.1)  # a posed head: takes rotate relative to it
    return Afternoon(bpy, scene, face, [face], face, {"actions": [key.animation_data.action], "tracks": []},
                     tmp_path)


def _user_layer(bpy, arm):
    pb = arm.pose.bones["spine"]
    pb.rotation_mode = "XYZ"
    pb.rotation_euler = (0.0, 0.1, 0.0)
    pb.keyframe_insert("rotation_euler", frame=1)
    pb.rotation_euler = (0.0, -0.1, 0.0)
    pb.keyframe_insert("rotation_euler", frame=100)
    ad = arm.animation_data
    act = ad.action
    ad.action = None
    tr = ad.nla_tracks.new()
    tr.name = "user sway"
    st = tr.strips.new("sway", 1, act)
    st.action_slot = act.slots[0]
    return act


def _multi_mesh(bpy, tmp_path):
    scene = bpy.context.scene
    _common(scene)
    arm, meshes = make_character(bpy)
    act = _user_layer(bpy, arm)
    return Afternoon(bpy, scene, arm, meshes, arm, {"actions": [act], "tracks": [(arm, "user sway")]}, tmp_path)


def _override(bpy, tmp_path):
    arm, meshes = overridden_character(bpy, tmp_path)
    scene = bpy.context.scene
    _common(scene)
    # The user animates the rig, so made it editable (Library Override > Make Editable): Blender 5.3 refuses
    # keys on a system override, as its UI always did.
    arm.override_library.is_system_override = False
    act = _user_layer(bpy, arm)
    bpy.context.view_layer.objects.active = meshes[1]  # the teeth: the whole character is the target
    return Afternoon(bpy, scene, meshes[1], meshes, arm, {"actions": [act], "tracks": [(arm, "user sway")]},
                     tmp_path)


@pytest.mark.parametrize("character", ["demo_head", "multi_mesh", "library_override"])
def test_an_afternoon_of_takes(bpy, empty_scene, tmp_path, character):
    make = {"demo_head": _demo_head, "multi_mesh": _multi_mesh, "library_override": _override}[character]
    day = make(bpy, tmp_path)
    assert len(AFTERNOON) == 25
    for op in AFTERNOON:
        day.run(op)
    assert day.seen_same_seed > 0  # the same seed really came back at least once
    n_fbx = day.check_fbx()
    print(f"{character}: 25 operations, {day.seen_same_seed} same-seed repeats compared, {n_fbx} FBX re-imported")
    assert n_fbx == 3 + 1
    if not day.glb:
        pytest.skip(f"glTF part not checked: Blender {bpy.app.version_string}'s glTF exporter mislabels shape-key "
                    "NLA tracks, so several takes are not exported to glTF there (FBX checked)")
