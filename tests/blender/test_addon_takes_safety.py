"""Generate / Re-roll / Keep / Clear never damage the character (real operator, shipped model).

Rotation is written relative to the pose recorded before the first take (so it never builds up), Clear puts
back exactly what was there, a re-rolled kept take stays kept, re-rolled takes follow a moved or trimmed
strip, generation notes reach the report, and a character made of several meshes is keyed as one.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.blender.helpers import (
    DEMO_SPEECH,
    addon_module,
    curve_values,
    fcurves,
    make_armature,
    make_mesh,
    model_available,
    move_strip,
    snapshot,
    strip_frames,
    trim_strip_start,
)
from tests.blender.layout import RecordingLayout

pytestmark = pytest.mark.skipif(not model_available(), reason="no trained model in models/ (model.json)")


def _strip(scene, frame_start=37):
    se = scene.sequence_editor_create()
    return se.strips.new_sound("speech", str(DEMO_SPEECH), channel=1, frame_start=frame_start)


def _demo(bpy, scene, n_takes=2, seed=3):
    face = addon_module("blender.demo_head").build_demo_head(bpy.context)
    scene.thunder.n_takes = n_takes
    scene.thunder.seed = seed
    bpy.context.view_layer.objects.active = face
    return face


def _state(bpy, objs) -> dict:
    """Values a take can change, read from the data (not the take): shape keys, transforms, pose."""
    out = {}
    for o in objs:
        out[o.name] = (tuple(o.location), tuple(o.rotation_euler), tuple(o.rotation_quaternion), tuple(o.scale))
        key = o.data.shape_keys if o.type == "MESH" else None
        if key is not None:
            out[o.name + ":keys"] = tuple(round(kb.value, 6) for kb in key.key_blocks)
        if o.type == "ARMATURE":
            for pb in o.pose.bones:
                out[f"{o.name}:{pb.name}"] = (tuple(pb.rotation_quaternion), tuple(pb.rotation_euler))
    return out


def _curves(act) -> dict:
    return {(bag_slot, fc.data_path, fc.array_index): curve_values(fc)[1].copy()
            for bag_slot, fc in ((fc_slot(act, fc), fc) for fc in fcurves(act))}


def fc_slot(act, fc) -> str:
    for layer in act.layers:
        for strip in layer.strips:
            for bag in strip.channelbags:
                if any(f == fc for f in bag.fcurves):
                    return bag.slot.identifier
    return ""


def test_rotation_never_builds_up_and_clear_restores(bpy, empty_scene):
    scene = empty_scene
    face = _demo(bpy, scene)
    _strip(scene, 37)
    before_state = _state(bpy, [face])
    before = snapshot(bpy)
    assert bpy.ops.thunder.generate() == {"FINISHED"}
    first = _curves(face.thunder.takes[0].action)
    assert any(p == "rotation_euler" for _s, p, _i in first)
    for frame in (200, 120, 60):  # stop somewhere in the take, generate again with the same seed
        scene.frame_set(frame)
        assert bpy.ops.thunder.generate() == {"FINISHED"}
        again = _curves(face.thunder.takes[0].action)
        assert again.keys() == first.keys()
        for k in first:
            np.testing.assert_array_equal(again[k], first[k])
    scene.frame_set(150)
    assert bpy.ops.thunder.takes_clear() == {"FINISHED"}
    assert _state(bpy, [face]) == before_state
    scene.frame_set(1)
    assert _state(bpy, [face]) == before_state
    assert snapshot(bpy) == before
    assert face.data.shape_keys.animation_data is None and face.animation_data is None


def test_clear_restores_user_action_nla_and_pose(bpy, empty_scene):
    scene = empty_scene
    face = _demo(bpy, scene)
    _strip(scene, 1)
    key = face.data.shape_keys
    key.key_blocks["browInnerUp"].value = 0.4
    key.key_blocks["browInnerUp"].keyframe_insert("value", frame=1)
    user_act, user_slot = key.animation_data.action, key.animation_data.action_slot
    track = key.animation_data.nla_tracks.new()
    track.name = "user layer"
    track.strips.new("u", 1, user_act)
    track.mute = False
    key.key_blocks["cheekPuff"].value = 0.25  # a static value, no animation
    face.rotation_euler = (0.05, 0.0, -0.1)
    before_state, before = _state(bpy, [face]), snapshot(bpy)
    assert bpy.ops.thunder.generate() == {"FINISHED"}
    assert key.animation_data.action != user_act
    scene.frame_set(90)
    assert bpy.ops.thunder.take_reroll(index=1) == {"FINISHED"}
    assert bpy.ops.thunder.takes_clear() == {"FINISHED"}
    assert key.animation_data.action == user_act and key.animation_data.action_slot == user_slot
    assert [(t.name, t.mute) for t in key.animation_data.nla_tracks] == [("user layer", False)]
    assert snapshot(bpy) == before
    assert _state(bpy, [face]) == before_state


def _flame(bpy):
    from tests.blender.test_addon_keyframes import _flame_rig

    arm, mesh = _flame_rig(bpy)
    bpy.context.view_layer.objects.active = mesh
    return arm, mesh


def test_flame_jaw_closes_after_regenerating_at_an_open_vowel(bpy, empty_scene):
    scene = empty_scene
    scene.thunder.n_takes = 1
    _strip(scene, 1)
    arm, mesh = _flame(bpy)
    rest = _state(bpy, [arm])
    assert bpy.ops.thunder.generate() == {"FINISHED"}

    def jaw_angles():
        act = mesh.thunder.takes[0].action
        w = curve_values(next(fc for fc in fcurves(act, "OBJECT")
                              if fc.data_path == 'pose.bones["jaw"].rotation_quaternion' and fc.array_index == 0))
        return w[0], 2 * np.degrees(np.arccos(np.clip(w[1], -1, 1)))

    frames, ang = jaw_angles()
    widest = int(frames[int(np.argmax(ang))])
    for _ in range(3):
        scene.frame_set(widest)
        assert arm.pose.bones["jaw"].rotation_quaternion[0] < 0.999  # the jaw is open on this frame
        assert bpy.ops.thunder.generate() == {"FINISHED"}
        _f, again = jaw_angles()
        assert again.min() == pytest.approx(ang.min(), abs=1e-4) and ang.min() < 1.0
    assert bpy.ops.thunder.takes_clear() == {"FINISHED"}
    assert _state(bpy, [arm]) == rest


def test_reroll_keeps_kept_flag_and_follows_moved_and_trimmed_strip(bpy, empty_scene):
    scene = empty_scene
    face = _demo(bpy, scene, n_takes=3)
    strip = _strip(scene, 37)
    assert bpy.ops.thunder.generate() == {"FINISHED"}
    assert bpy.ops.thunder.take_keep(index=1) == {"FINISHED"}
    (kept,) = [t.action for t in face.thunder.takes]
    name = kept.name
    assert bpy.ops.thunder.take_reroll(index=0) == {"FINISHED"}
    rerolled = face.thunder.takes[0].action
    assert rerolled.name == name and rerolled.get("thunder_kept")
    assert bpy.ops.thunder.generate() == {"FINISHED"}
    assert bpy.data.actions.get(name) is rerolled  # survived the new generation
    assert "THUNDER kept " + name in [t.name for t in face.data.shape_keys.animation_data.nla_tracks]
    # Move the strip from 37 to 60: the re-rolled take lands on the strip's new frames.
    length = strip_frames(strip)[1] - strip_frames(strip)[0]
    move_strip(strip, to=60)
    assert bpy.ops.thunder.take_reroll(index=1) == {"FINISHED"}
    act = face.thunder.takes[1].action
    for fc in fcurves(act):
        f, _v = curve_values(fc)
        assert f[0] == 60 and f[-1] == 60 + length - 1
    for tr in face.data.shape_keys.animation_data.nla_tracks:
        for st in tr.strips:
            if st.action == act:
                assert st.frame_start == 60
    # Trim 10 frames off the start: the re-rolled take covers what is heard.
    trim_strip_start(strip, to=10)
    assert bpy.ops.thunder.take_reroll(index=1) == {"FINISHED"}
    act = face.thunder.takes[1].action
    f, _v = curve_values(fcurves(act, "KEY")[0])
    assert f[0] == 70 and f[-1] == strip_frames(strip)[1] - 1
    info = json.loads(act["thunder_settings"])
    assert info["start_frame"] == 70 and info["n_frames"] == length - 10


def test_notes_reach_the_report(bpy, empty_scene, capsys):
    scene = empty_scene
    face = _demo(bpy, scene)
    _strip(scene, 1)
    face.rotation_euler = (0.0, 0.0, 0.2)
    face.keyframe_insert("rotation_euler", frame=1)  # the user animates the head: rotation is skipped
    assert bpy.ops.thunder.generate() == {"FINISHED"}
    out = capsys.readouterr().out
    assert f"rotation skipped: '{face.name}' already has its own action" in out
    ui = addon_module("blender.ui")
    layout = RecordingLayout()
    ui.draw_thunder(layout, bpy.context)
    assert any("rotation skipped" in t for t in layout.texts())


def test_small_texts(bpy, empty_scene):
    rig_mod = addon_module("blender.rig")
    empty = bpy.data.objects.new("Face_inst", None)
    empty_scene.collection.objects.link(empty)
    with pytest.raises(rig_mod.RigError, match="'Face_inst' is an empty;"):
        rig_mod.detect_rig(empty)
    props = empty_scene.thunder.bl_rna.properties
    for name in ("audio_source", "emotion", "intensity"):
        assert len(props[name].description) > 20, name


# -- a character of several meshes -------------------------------------------------------------------------
def make_character(bpy, name="Char"):
    """Head (52 ARKit keys) + teeth (jaw/mouth keys) + tongue (jawOpen, tongueOut) parented to an armature
    with a head bone, plus an eye mesh without shape keys."""
    from thunder_blender.core.channels import ARKIT_52

    arm = make_armature(bpy, f"{name}_Rig", [("spine", (0, 0, 0), (0, 0, 0.5), None),
                                             ("head", (0, 0, 0.5), (0, 0, 0.8), "spine")])
    head = make_mesh(bpy, f"{name}_Head", list(ARKIT_52))
    teeth = make_mesh(bpy, f"{name}_Teeth", ["jawOpen", "mouthClose", "jawLeft", "jawRight", "jawForward"])
    tongue = make_mesh(bpy, f"{name}_Tongue", ["jawOpen", "tongueOut"])
    eyes = bpy.data.objects.new(f"{name}_Eyes", bpy.data.meshes.new(f"{name}_Eyes"))
    bpy.context.scene.collection.objects.link(eyes)
    for m in (head, teeth, tongue, eyes):
        m.parent = arm
        mod = m.modifiers.new("Armature", "ARMATURE")
        mod.object = arm
    return arm, [head, teeth, tongue]


@pytest.mark.parametrize("pick", ["armature", "head", "teeth", "collection"])
def test_every_mesh_of_a_character_is_keyed(bpy, empty_scene, pick):
    scene = empty_scene
    scene.thunder.n_takes = 2
    _strip(scene, 11)
    arm, meshes = make_character(bpy)
    head, teeth, tongue = meshes
    if pick == "collection":
        coll = bpy.data.collections.new("CharColl")
        scene.collection.children.link(coll)
        for o in [arm, *meshes]:
            coll.objects.link(o)
        scene.thunder.character = coll
    else:
        bpy.context.view_layer.objects.active = {"armature": arm, "head": head, "teeth": teeth}[pick]
    before = _state(bpy, [arm, *meshes])
    assert bpy.ops.thunder.generate() == {"FINISHED"}
    rig = addon_module("blender.rig").detect_rig(
        scene.thunder.character or bpy.context.view_layer.objects.active)
    assert [p.mesh for p in rig.parts][0] is head and {p.mesh for p in rig.parts} == set(meshes)
    takes = addon_module("blender.takes").find_takes(rig)
    assert len(takes) == 2
    for act in takes:
        slots = sorted(s.identifier for s in act.slots)
        assert slots == sorted(["KE" + m.data.shape_keys.name for m in meshes] + ["OB" + arm.name])
    for m in meshes:
        ad = m.data.shape_keys.animation_data
        assert ad.action == takes[0] and ad.action_slot.identifier == "KE" + m.data.shape_keys.name
        assert [t.name for t in ad.nla_tracks] == ["THUNDER take 1", "THUNDER take 2"]
    scene.frame_set(60)
    for m in meshes:  # the teeth and tongue open with the jaw
        assert m.data.shape_keys.key_blocks["jawOpen"].value == pytest.approx(
            head.data.shape_keys.key_blocks["jawOpen"].value, abs=1e-6)
    assert head.data.shape_keys.key_blocks["jawOpen"].value > 0.01 or any(
        curve_values(fc)[1].max() > 0.05 for fc in fcurves(takes[0], "KEY") if "jawOpen" in fc.data_path)
    # Keep / Re-roll / Clear act on the whole take, on every mesh.
    assert bpy.ops.thunder.take_keep(index=1) == {"FINISHED"}
    assert len(bpy.data.actions) == 1
    assert bpy.ops.thunder.take_reroll(index=0) == {"FINISHED"}
    act = bpy.data.actions[0]
    assert act.get("thunder_kept") and all(m.data.shape_keys.animation_data.action == act for m in meshes)
    assert bpy.ops.thunder.takes_clear() == {"FINISHED"}
    assert len(bpy.data.actions) == 0
    assert _state(bpy, [arm, *meshes]) == before
    assert all(m.data.shape_keys.animation_data is None for m in meshes) and arm.animation_data is None


def test_unchecked_mesh_is_left_alone(bpy, empty_scene):
    scene = empty_scene
    scene.thunder.n_takes = 2
    _strip(scene, 1)
    arm, (head, teeth, tongue) = make_character(bpy)
    bpy.context.view_layer.objects.active = arm
    assert bpy.ops.thunder.generate() == {"FINISHED"}
    tongue.thunder.drive = False
    assert bpy.ops.thunder.take_reroll(index=0) == {"FINISHED"}  # re-roll without the tongue
    assert bpy.ops.thunder.generate() == {"FINISHED"}
    assert tongue.data.shape_keys.animation_data is None or (
        tongue.data.shape_keys.animation_data.action is None
        and len(tongue.data.shape_keys.animation_data.nla_tracks) == 0)
    for act in bpy.data.actions:
        assert "KE" + tongue.data.shape_keys.name not in [s.identifier for s in act.slots]
    layout = RecordingLayout()
    addon_module("blender.ui").draw_thunder(layout, bpy.context)
    drive_rows = [c for c in layout.called("prop") if c.args[1:2] == ("drive",)]
    assert sorted(c.kwargs["text"] for c in drive_rows) == sorted([head.name, teeth.name, tongue.name])
    tongue.thunder.drive = head.thunder.drive = teeth.thunder.drive = False
    with pytest.raises(RuntimeError, match="no mesh of this character is checked"):
        bpy.ops.thunder.generate()


# -- library overrides ---------------------------------------------------------------------------------------
def overridden_character(bpy, tmp_path):
    """The multi-mesh character written to a library, linked back and made a library override (objects only,
    as Object > Library Override > Make does: the meshes' data stays linked)."""
    arm, meshes = make_character(bpy, "Lib")
    coll = bpy.data.collections.new("LibChar")
    for o in [arm, *meshes]:
        coll.objects.link(o)
    lib = tmp_path / "char_lib.blend"
    bpy.data.libraries.write(str(lib), {coll}, fake_user=True)
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps = 30
    with bpy.data.libraries.load(str(lib), link=True) as (_src, dst):
        dst.collections = ["LibChar"]
    linked = dst.collections[0]
    inst = bpy.data.objects.new("LibChar_inst", None)
    inst.instance_type, inst.instance_collection = "COLLECTION", linked
    scene.collection.objects.link(inst)
    ov = linked.override_hierarchy_create(scene, bpy.context.view_layer)
    bpy.data.objects.remove(inst)
    objs = {o.name: o for o in ov.all_objects}
    return objs["Lib_Rig"], [objs["Lib_Head"], objs["Lib_Teeth"], objs["Lib_Tongue"]]


def test_library_override_character(bpy, empty_scene, tmp_path):
    arm, meshes = overridden_character(bpy, tmp_path)
    scene = bpy.context.scene
    scene.thunder.n_takes = 2
    _strip(scene, 1)
    assert all(m.override_library is not None and m.data.library is not None for m in meshes)
    bpy.context.view_layer.objects.active = arm
    assert bpy.ops.thunder.generate() == {"FINISHED"}
    for m in meshes:
        key = m.data.shape_keys
        assert key.library is None and m.data.override_library is not None  # mesh data overridden
        assert key.animation_data.action is not None
    act = meshes[0].data.shape_keys.animation_data.action
    assert "made a library override of mesh" in act["thunder_settings"]
    act_name = act.name
    path = tmp_path / "shot.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.open_mainfile(filepath=str(path))
    head = next(o for o in bpy.data.objects if o.name == "Lib_Head" and o.override_library is not None)
    assert head.data.shape_keys.animation_data.action.name == act_name
    assert len(head.thunder.takes) == 2
    # No replacement of the whole takes group is left over from reading the file (5.0+ records one there).
    assert "thunder" not in [p.rna_path for p in head.override_library.properties]
    bpy.context.view_layer.objects.active = head
    assert bpy.ops.thunder.take_reroll(index=1) == {"FINISHED"}
    # A second save of the re-read file keeps the list too (the references are read again from the library).
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.open_mainfile(filepath=str(path))
    head = next(o for o in bpy.data.objects if o.name == "Lib_Head" and o.override_library is not None)
    assert [t.action.name for t in head.thunder.takes] == [a.name for a in addon_module("blender.takes").find_takes(
        addon_module("blender.rig").detect_rig(head))]
    assert len(head.thunder.takes) == 2
    bpy.context.view_layer.objects.active = head
    assert bpy.ops.thunder.takes_clear() == {"FINISHED"}
    assert not any(a.get("thunder_seed") for a in bpy.data.actions)


def test_linked_collection_instance_explains_override(bpy, empty_scene, tmp_path):
    arm, meshes = make_character(bpy, "Lib")
    coll = bpy.data.collections.new("LibChar")
    for o in [arm, *meshes]:
        coll.objects.link(o)
    lib = tmp_path / "char_lib.blend"
    bpy.data.libraries.write(str(lib), {coll}, fake_user=True)
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    with bpy.data.libraries.load(str(lib), link=True) as (_src, dst):
        dst.collections = ["LibChar"]
    inst = bpy.data.objects.new("Face_inst", None)
    inst.instance_type, inst.instance_collection = "COLLECTION", dst.collections[0]
    scene.collection.objects.link(inst)
    bpy.context.view_layer.objects.active = inst
    _strip(scene, 1)
    before = snapshot(bpy)
    with pytest.raises(RuntimeError, match=r"'Face_inst' is an empty that instances .*Library Override > Make"):
        bpy.ops.thunder.generate()
    assert snapshot(bpy) == before
