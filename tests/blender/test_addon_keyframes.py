"""write_takes and take management in real Blender, with constructed Takes (no model needed).

Covers name matching on real meshes (mixed ARKit spellings, viseme-only, FLAME-structured rig), head
rotation targets, replacing/keeping/clearing takes, preserving the user's own animation, and that a brief
closure survives resampling to 24 fps in the written keys.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

from tests.blender.helpers import addon_module, curve_values, fcurves, make_armature, make_mesh


def _takes(n=3, t=100, seed=0, fps=50.0):
    gen = addon_module("runtime.generate")
    rng = np.random.default_rng(seed)
    w = rng.random((n, t, 55)).astype(np.float32)
    w[..., 52:] = (rng.random((n, t, 3)) - 0.5) * 0.2
    return gen.Takes(weights=w, fps=fps, seeds=tuple(range(10, 10 + n)))


def _snake(n):
    return re.sub(r"(?<!^)([A-Z])", r"_\1", n).lower()


def _mixed_names():
    from thunder_blender.core.channels import ARKIT_52

    out = []
    for i, n in enumerate(ARKIT_52):
        if n == "jawOpen":
            out.append("JawOpen")
        elif n == "mouthSmileLeft":
            out.append("mouthSmile_L")
        elif n == "jawForward":
            out.append("jaw_forward")
        elif i % 3 == 0:
            out.append(n[0].upper() + n[1:])
        elif i % 3 == 1:
            out.append(_snake(n))
        else:
            out.append(n.replace("Left", "_L").replace("Right", "_R"))
    return out


def test_mixed_spellings_fully_mapped_and_keyed(bpy, empty_scene):
    kf, rig_mod = addon_module("blender.keyframes"), addon_module("blender.rig")
    names = _mixed_names()
    assert "JawOpen" in names and "jaw_forward" in names and "mouthSmile_L" in names
    obj = make_mesh(bpy, "Face", names)
    rig = rig_mod.detect_rig(obj)
    assert "ARKit: 52/52 shape keys" in rig.summary_lines()
    takes = _takes(n=2, t=100)
    empty_scene.render.fps = 50
    acts = kf.write_takes(obj, takes, 1, 50.0)
    key_curves = fcurves(acts[0], "KEY")
    assert len(key_curves) == 52
    jaw = next(fc for fc in key_curves if fc.data_path == 'key_blocks["JawOpen"].value')
    frames, vals = curve_values(jaw)
    np.testing.assert_allclose(frames, np.arange(1, 101))
    np.testing.assert_allclose(vals, takes.weights[0, :, 17], atol=1e-6)
    smile = next(fc for fc in key_curves if fc.data_path == 'key_blocks["mouthSmile_L"].value')
    np.testing.assert_allclose(curve_values(smile)[1], takes.weights[0, :, 23], atol=1e-6)
    # Head rotation: no armature, so it goes to the object through the action's OBJECT slot.
    rot = fcurves(acts[0], "OBJECT")
    assert sorted((fc.data_path, fc.array_index) for fc in rot) == [("rotation_euler", i) for i in range(3)]
    assert obj.animation_data.action == acts[0] and obj.animation_data.action_slot.target_id_type == "OBJECT"
    assert obj.data.shape_keys.animation_data.action_slot.target_id_type == "KEY"


def test_viseme_only_mesh_gets_viseme_keys(bpy, empty_scene):
    kf, rig_mod = addon_module("blender.keyframes"), addon_module("blender.rig")
    vis = addon_module("core.visemes")
    obj = make_mesh(bpy, "RPM", list(vis.VISEME_KEYS))
    lines = rig_mod.detect_rig(obj).summary_lines()
    assert "Oculus visemes: 15/15" in lines and any(line.startswith("Not driven: brows") for line in lines)
    takes = _takes(n=1, t=60)
    w = np.zeros_like(takes.weights)
    w[0, 20:40, :52] = vis.prototype_vector("aa")
    takes.weights = w
    empty_scene.render.fps = 50
    (act,) = kf.write_takes(obj, takes, 1, 50.0, head_motion=False)
    curves = {fc.data_path: fc for fc in fcurves(act, "KEY")}
    assert len(curves) == 15 and all("viseme_" in p for p in curves)
    aa = curve_values(curves['key_blocks["viseme_aa"].value'])[1]
    sil = curve_values(curves['key_blocks["viseme_sil"].value'])[1]
    assert aa[25] > 0.9 and sil[25] < 0.1  # frame 26 = source frame 25 (inside the 'aa' stretch)
    assert aa[5] < 0.01 and sil[5] > 0.99
    assert fcurves(act, "OBJECT") == []  # head motion off


def test_viseme_rig_follows_the_phone_posteriors_of_the_takes(bpy, empty_scene):
    kf = addon_module("blender.keyframes")
    vis = addon_module("core.visemes")
    obj = make_mesh(bpy, "RPM", list(vis.VISEME_KEYS) + ["aa", "neutral"])
    takes = _takes(n=1, t=60)
    w = np.zeros_like(takes.weights)
    w[0, :, 17] = 0.3  # the ARKit mouth alone would say an open vowel everywhere
    takes.weights = w
    p = np.zeros((60, 10), np.float32)
    p[:, 0] = 1.0  # silence...
    p[20:40, 0], p[20:40, vis.PHONE_CLASSES.index("dorsal")] = 0.0, 1.0  # ...with a /k/ in the middle
    takes.cues = vis.SpeechCues(p)
    empty_scene.render.fps = 25  # half the model's rate: the posteriors are resampled with the takes
    (act,) = kf.write_takes(obj, takes, 1, 25.0, head_motion=False)
    curves = {fc.data_path: curve_values(fc)[1] for fc in fcurves(act, "KEY")}
    kk, sil = curves['key_blocks["viseme_kk"].value'], curves['key_blocks["viseme_sil"].value']
    assert len(kk) == 30 and kk[15] > 0.9 and kk[3] < 0.01 and sil[3] > 0.99
    assert curves['key_blocks["neutral"].value'][3] > 0.99 and curves['key_blocks["aa"].value'][3] < 0.01


def _flame_rig(bpy):
    arm = make_armature(bpy, "FLAME-generic", [("root", (0, 0, 0), (0, 0, 0.1), None),
                                               ("neck", (0, 0, 0.1), (0, 0, 0.2), "root"),
                                               ("jaw", (0, 0, 0.2), (0, -0.1, 0.15), "neck")])
    keys = ["Shape0", "Shape1"] + [f"Exp{i}" for i in range(50)] + [f"Pose{i}" for i in range(1, 19)]
    mesh = make_mesh(bpy, "FLAME-mesh", keys)
    mesh.parent = arm
    mod = mesh.modifiers.new("Armature", "ARMATURE")
    mod.object = arm
    return arm, mesh


def test_flame_rig_gets_jaw_bone_rotation_and_exp_keys(bpy, empty_scene):
    kf, rig_mod = addon_module("blender.keyframes"), addon_module("blender.rig")
    arm, mesh = _flame_rig(bpy)
    rig = rig_mod.detect_rig(mesh)
    lines = rig.summary_lines()
    assert rig.kind == "FLAME" and rig.jaw_bone == "jaw" and rig.head_bone == "neck"
    assert "FLAME rig" in lines and any(line.startswith("Not driven") for line in lines)
    assert any("illustrative" in line for line in lines)
    takes = _takes(n=2, t=80)
    empty_scene.render.fps = 50
    acts = kf.write_takes(mesh, takes, 1, 50.0)
    obj_curves = {(fc.data_path, fc.array_index): fc for fc in fcurves(acts[0], "OBJECT")}
    jaw_w = curve_values(obj_curves[('pose.bones["jaw"].rotation_quaternion', 0)])[1]
    angle = 2 * np.arccos(np.clip(jaw_w, -1, 1))
    expect = np.hypot(takes.weights[0, :, 17] * 0.35, (takes.weights[0, :, 15] - takes.weights[0, :, 16]) * 0.08)
    np.testing.assert_allclose(angle, expect, atol=1e-3)
    assert ('pose.bones["neck"].rotation_quaternion', 0) in obj_curves
    key_paths = {fc.data_path for fc in fcurves(acts[0], "KEY")}
    assert 'key_blocks["Exp0"].value' in key_paths and not any("Shape" in p for p in key_paths)
    assert {f'key_blocks["Pose{i}"].value' for i in range(1, 19)} <= key_paths  # correctives follow the joints
    assert arm.animation_data.action == acts[0] and arm.animation_data.action_slot.target_id_type == "OBJECT"
    empty_scene.frame_set(30)
    q = arm.pose.bones["jaw"].rotation_quaternion
    assert abs(2 * np.arccos(min(1.0, q[0])) - expect[29]) < 1e-3


def test_switching_takes_changes_values_and_regenerating_replaces(bpy, empty_scene):
    kf, rig_mod = addon_module("blender.keyframes"), addon_module("blender.rig")
    from thunder_blender.core.channels import ARKIT_52

    obj = make_mesh(bpy, "Face", list(ARKIT_52))
    empty_scene.render.fps = 24
    takes = _takes(n=3, t=150)
    acts = kf.write_takes(obj, takes, 37, 24.0)
    assert [a["thunder_seed"] for a in acts] == ["10", "11", "12"]
    key = obj.data.shape_keys
    assert [t.name for t in key.animation_data.nla_tracks] == ["THUNDER take 1", "THUNDER take 2", "THUNDER take 3"]
    assert all(t.mute for t in key.animation_data.nla_tracks)
    assert len(obj.thunder.takes) == 3
    empty_scene.frame_set(60)
    v0 = [kb.value for kb in key.key_blocks[1:]]
    obj.thunder.active_take = 2  # the list's update callback previews the take
    empty_scene.frame_set(60)
    v2 = [kb.value for kb in key.key_blocks[1:]]
    assert key.animation_data.action == acts[2]
    assert np.max(np.abs(np.array(v0) - np.array(v2))) > 0.1
    frames = curve_values(fcurves(acts[0], "KEY")[0])[0]
    assert frames[0] == 37 and frames[-1] == 37 + 72 - 1  # 3 s at 24 fps
    n_actions = len(bpy.data.actions)
    acts2 = kf.write_takes(obj, _takes(n=3, t=150, seed=1), 37, 24.0)
    assert len(bpy.data.actions) == n_actions
    assert len(key.animation_data.nla_tracks) == 3 and len(kf.find_takes(rig_mod.detect_rig(obj))) == 3
    assert all(a.name.startswith("Face_take") for a in acts2)


def test_keep_clear_and_user_action_preserved(bpy, empty_scene):
    kf, rig_mod = addon_module("blender.keyframes"), addon_module("blender.rig")
    from thunder_blender.core.channels import ARKIT_52

    obj = make_mesh(bpy, "Face", list(ARKIT_52))
    key = obj.data.shape_keys
    key.key_blocks["jawOpen"].value = 0.3
    key.key_blocks["jawOpen"].keyframe_insert("value", frame=1)
    user_action = key.animation_data.action
    obj.rotation_euler = (0.1, 0.0, 0.0)
    obj.keyframe_insert("rotation_euler", frame=1)
    user_obj_action = obj.animation_data.action
    acts = kf.write_takes(obj, _takes(n=3), 1, 30.0)
    assert [t.name for t in key.animation_data.nla_tracks][0] == "pre-THUNDER " + user_action.name
    assert obj.animation_data.action == user_obj_action  # head rotation skipped, not overwritten
    assert fcurves(acts[0], "OBJECT") == []
    assert "rotation skipped" in acts[0]["thunder_settings"]
    rig = rig_mod.detect_rig(obj)
    kf.keep_take(rig, acts[1])
    kept = bpy.data.actions.get("Face_take2")
    assert kf.find_takes(rig) == [kept] and len(obj.thunder.takes) == 1
    assert bpy.data.actions.get("Face_take1") is None and bpy.data.actions.get("Face_take3") is None
    kf.write_takes(obj, _takes(n=2, seed=5), 1, 30.0)  # the kept take survives on its own track
    tracks = [t.name for t in key.animation_data.nla_tracks]
    assert "THUNDER kept Face_take2" in tracks and bpy.data.actions.get("Face_take2") is kept
    assert len(kf.find_takes(rig_mod.detect_rig(obj))) == 2
    bpy.ops.thunder.takes_clear()
    assert kf.find_takes(rig_mod.detect_rig(obj)) == [] and len(obj.thunder.takes) == 0
    assert user_action.name in bpy.data.actions and user_obj_action.name in bpy.data.actions


def test_head_rotation_goes_to_head_bone(bpy, empty_scene):
    kf = addon_module("blender.keyframes")
    from thunder_blender.core.channels import ARKIT_52

    arm = make_armature(bpy, "Rig", [("spine", (0, 0, 0), (0, 0, 0.5), None),
                                     ("head", (0, 0, 0.5), (0, 0, 0.8), "spine")])
    obj = make_mesh(bpy, "Face", list(ARKIT_52))
    obj.parent = arm
    acts = kf.write_takes(obj, _takes(n=1), 1, 30.0)
    paths = {fc.data_path for fc in fcurves(acts[0], "OBJECT")}
    assert paths == {'pose.bones["head"].rotation_quaternion'}
    assert arm.animation_data.action == acts[0] and obj.animation_data is None


def test_brief_closure_survives_24fps_in_the_keys(bpy, empty_scene):
    kf = addon_module("blender.keyframes")
    obj = make_mesh(bpy, "Face", ["mouthClose", "jawOpen"])
    takes = _takes(n=1, t=100)
    w = np.zeros_like(takes.weights)
    w[0, :, 17] = 0.4
    w[0, 51:53, 18] = 1.0  # 40 ms closure between two 24 fps frames (t = 1.02..1.06 s)
    w[0, 51:53, 17] = 0.0
    takes.weights = w
    (act,) = kf.write_takes(obj, takes, 1, 24.0, head_motion=False)
    curves = {fc.data_path: curve_values(fc)[1] for fc in fcurves(act, "KEY")}
    close, jaw = curves['key_blocks["mouthClose"].value'], curves['key_blocks["jawOpen"].value']
    j = int(np.argmax(close))
    assert close[j] == pytest.approx(1.0) and jaw[j] == pytest.approx(0.0)


def test_bad_targets_give_clear_errors(bpy, empty_scene):
    rig_mod = addon_module("blender.rig")
    me = bpy.data.meshes.new("plain")
    plain = bpy.data.objects.new("plain", me)
    empty_scene.collection.objects.link(plain)
    with pytest.raises(rig_mod.RigError, match="has no shape keys"):
        rig_mod.detect_rig(plain)
    with pytest.raises(rig_mod.RigError, match="no target"):
        rig_mod.detect_rig(None)
    odd = make_mesh(bpy, "Odd", ["Key 1", "smile"])
    with pytest.raises(rig_mod.RigError, match="mapping file"):
        rig_mod.detect_rig(odd)


def test_axis_angle_head_is_keyed_in_its_own_mode(bpy, empty_scene):
    kf = addon_module("blender.keyframes")
    from mathutils import Euler, Quaternion

    from thunder_blender.core.channels import ARKIT_52

    obj = make_mesh(bpy, "Face", list(ARKIT_52))
    obj.rotation_mode = "AXIS_ANGLE"
    obj.rotation_axis_angle = (0.3, 0.0, 0.0, 1.0)  # the rest pose: turned 0.3 rad about Z
    takes = _takes(n=2)
    (act, _) = kf.write_takes(obj, takes, 1, 30.0)
    paths = sorted((fc.data_path, fc.array_index) for fc in fcurves(act, "OBJECT"))
    assert paths == [("rotation_axis_angle", i) for i in range(4)]
    empty_scene.frame_set(1)
    got = Quaternion(tuple(obj.rotation_axis_angle)[1:], obj.rotation_axis_angle[0])
    yaw, pitch, roll = (float(v) for v in takes.weights[0, 0, 52:55])
    want = Quaternion((0, 0, 1), 0.3) @ Euler((pitch, roll, yaw), "XYZ").to_quaternion()
    assert got.rotation_difference(want).angle < 1e-4
    assert obj.rotation_mode == "AXIS_ANGLE"


