"""A rig with the FLAME Blender add-on's structure, driven end to end in real Blender: mesh ``FLAME-generic``
with ``Shape000..``, ``Exp000..Exp049`` and ``Pose1..Pose36`` keys, parented (with an Armature modifier) to an
armature with bones root, neck, jaw, left_eye, right_eye, every pose bone in AXIS_ANGLE mode (as the add-on
leaves them)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.blender.helpers import addon_module, fcurves, make_armature, make_mesh

N_EXP = 50


def flame_addon_rig(bpy, exp_digits: int = 3):
    arm = make_armature(bpy, "FLAME-generic-armature", [
        ("root", (0, 0, 0), (0, 0, 0.05), None),
        ("neck", (0, 0, 0.05), (0, 0, 0.12), "root"),
        ("jaw", (0, 0, 0.12), (0, -0.08, 0.08), "neck"),
        ("left_eye", (0.03, -0.07, 0.17), (0.03, -0.09, 0.17), "neck"),
        ("right_eye", (-0.03, -0.07, 0.17), (-0.03, -0.09, 0.17), "neck"),
    ])
    for pb in arm.pose.bones:
        pb.rotation_mode = "AXIS_ANGLE"
    keys = [f"Shape{i:0{exp_digits}d}" for i in range(10)] + [f"Exp{i:0{exp_digits}d}" for i in range(N_EXP)] \
        + [f"Pose{i}" for i in range(1, 37)]
    mesh = make_mesh(bpy, "FLAME-generic", keys)
    mesh.parent = arm
    mesh.modifiers.new("Armature", "ARMATURE").object = arm
    return arm, mesh


def _full_map(tmp_path):
    """A map driving all 50 Exp keys (keys written unpadded: padding must not matter)."""
    from thunder_blender.core.channels import ARKIT_52

    rng = np.random.default_rng(3)
    exprs = {f"Exp{i}": {ARKIT_52[j]: round(float(rng.uniform(-1, 1)), 3) for j in rng.choice(52, 3, replace=False)}
             for i in range(N_EXP)}
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"format": "thunder-flame-map/1", "expressions": exprs,
                                "jaw": {"open_radians": 0.3, "lateral_radians": 0.1}, "eyes": {"look_radians": 0.4}}))
    return path, exprs


def _takes(t=60):
    gen = addon_module("runtime.generate")
    rng = np.random.default_rng(1)
    w = rng.random((1, t, 55)).astype(np.float32) * 0.8
    w[..., 52:] = (rng.random((1, t, 3)) - 0.5) * 0.3
    return gen.Takes(weights=w, fps=50.0, seeds=(7,))


def _aa_quat(values):
    from mathutils import Quaternion

    return Quaternion(tuple(values[1:4]), values[0])


def test_flame_addon_rig_driven_end_to_end(bpy, empty_scene, tmp_path):
    from mathutils import Euler, Matrix, Vector

    kf, rig_mod = addon_module("blender.keyframes"), addon_module("blender.rig")
    arm, mesh = flame_addon_rig(bpy)
    map_path, exprs = _full_map(tmp_path)
    rig = rig_mod.detect_rig(mesh, flame_map_path=str(map_path))
    lines = rig.summary_lines()
    assert rig.kind == "FLAME" and rig.jaw_bone == "jaw" and rig.head_bone == "neck"
    assert rig.eye_bones == ("left_eye", "right_eye")
    assert rig.mapping.count("flame") == N_EXP and not rig.mapping.unmatched
    assert any("axis-angle" in line for line in lines) and any("Pose correctives: 36" in line for line in lines)
    assert not any(line.startswith("Not driven") for line in lines)

    takes = _takes()
    w = takes.weights[0]
    empty_scene.render.fps = 50
    (act,) = kf.write_takes(mesh, takes, 1, 50.0, mapping=rig)
    notes = json.loads(act["thunder_settings"])["notes"]
    assert any("36 Pose keys" in n and "widened" in n for n in notes)
    assert mesh.data.shape_keys.key_blocks["Pose12"].slider_min == -1.0
    # Clear puts the character back as it was, slider ranges included (checked at the end of the test)
    obj_paths = {(fc.data_path, fc.array_index) for fc in fcurves(act, "OBJECT")}
    for bone in ("neck", "jaw", "left_eye", "right_eye"):
        assert {(f'pose.bones["{bone}"].rotation_axis_angle', i) for i in range(4)} <= obj_paths
    assert not any("rotation_quaternion" in p or "rotation_euler" in p for p, _ in obj_paths)
    key = {fc.data_path: fc for fc in fcurves(act, "KEY")}
    assert len([p for p in key if "Exp" in p]) == N_EXP and not any("Shape" in p for p in key)
    assert {fc.group.name for fc in key.values()} == {"Shape Keys", "Pose correctives"}  # Graph Editor groups

    from thunder_blender.core.channels import INDEX

    f = 23
    empty_scene.frame_set(f + 1)
    pb = arm.pose.bones
    assert all(pb[b].rotation_mode == "AXIS_ANGLE" for b in ("neck", "jaw", "left_eye", "right_eye"))
    # Exp keys: the map's linear combination of the channels
    e7 = sum(v * w[f, INDEX[k]] for k, v in exprs["Exp7"].items())
    assert mesh.data.shape_keys.key_blocks["Exp007"].value == pytest.approx(e7, abs=1e-5)
    # jaw: opening about bone X, lateral about bone Z
    jaw = (w[f, INDEX["jawOpen"]] * 0.3, (w[f, INDEX["jawLeft"]] - w[f, INDEX["jawRight"]]) * 0.1)
    want = Euler((jaw[0], 0.0, jaw[1]), "XYZ").to_quaternion()
    assert _aa_quat(pb["jaw"].rotation_axis_angle).rotation_difference(want).angle < 1e-4
    # left eye: looking out (to the subject's left) and up
    up = w[f, INDEX["eyeLookUpLeft"]] - w[f, INDEX["eyeLookDownLeft"]]
    left = w[f, INDEX["eyeLookOutLeft"]] - w[f, INDEX["eyeLookInLeft"]]
    want = Euler((-up * 0.4, 0.0, left * 0.4), "XYZ").to_quaternion()
    assert _aa_quat(pb["left_eye"].rotation_axis_angle).rotation_difference(want).angle < 1e-4
    # Pose correctives: (R - I) of neck, jaw, left eye, right eye (FLAME's joint order), row-major,
    # from the axis-angle vectors (pitch, yaw, roll) in FLAME's frame
    right_left = -(w[f, INDEX["eyeLookOutRight"]] - w[f, INDEX["eyeLookInRight"]])
    right_up = w[f, INDEX["eyeLookUpRight"]] - w[f, INDEX["eyeLookDownRight"]]
    vecs = [(w[f, INDEX["headPitch"]], w[f, INDEX["headYaw"]], w[f, INDEX["headRoll"]]), (jaw[0], jaw[1], 0.0),
            (-up * 0.4, left * 0.4, 0.0), (-right_up * 0.4, right_left * 0.4, 0.0)]
    expect = []
    for v in vecs:
        v = Vector(v)
        r = Matrix.Rotation(v.length, 3, v.normalized()) if v.length > 0 else Matrix.Identity(3)
        expect += [r[i][j] - (1.0 if i == j else 0.0) for i in range(3) for j in range(3)]
    got = [mesh.data.shape_keys.key_blocks[f"Pose{i}"].value for i in range(1, 37)]
    np.testing.assert_allclose(got, expect, atol=1e-5)
    assert max(abs(x) for x in expect[9:18]) > 1e-3  # the jaw really moves the correctives

    # clearing the takes puts every bone back in its rest mode and pose
    kf.clear_takes(rig)
    assert all(pb[b].rotation_mode == "AXIS_ANGLE" and tuple(pb[b].rotation_axis_angle) == (0.0, 0.0, 1.0, 0.0)
               for b in ("neck", "jaw", "left_eye", "right_eye"))
    # ... and the Pose keys' slider ranges as they were before the first take
    assert all((kb.slider_min, kb.slider_max) == (0.0, 1.0)
               for kb in mesh.data.shape_keys.key_blocks if kb.name.startswith("Pose"))


@pytest.mark.parametrize("digits", [1, 2, 3])
def test_flame_exp_keys_found_in_any_padding_with_the_example_map(bpy, empty_scene, digits):
    rig_mod = addon_module("blender.rig")
    _arm, mesh = flame_addon_rig(bpy, exp_digits=digits)
    rig = rig_mod.detect_rig(mesh)
    fmap = json.loads(open(rig_mod.EXAMPLE_FLAME_MAP).read())
    assert rig.kind == "FLAME" and rig.mapping.count("flame") == len(fmap["expressions"])
    assert any(f"{N_EXP - len(fmap['expressions'])} of {N_EXP} Exp keys" in line for line in rig.summary_lines())


def test_panel_offers_the_flame_map_on_a_flame_rig(bpy, empty_scene):
    from tests.blender.layout import RecordingLayout

    ui = addon_module("blender.ui")
    _arm, mesh = flame_addon_rig(bpy)
    bpy.context.view_layer.objects.active = mesh
    ui._RIG_CACHE.clear()
    layout = RecordingLayout()
    ui.draw_thunder(layout, bpy.context)
    assert any(c.args[1:2] == ("flame_map_file",) for c in layout.called("prop"))
    assert any(t.startswith("bone jaw <- ") for t in layout.texts())
    assert any(t.startswith("bone left_eye <- ") for t in layout.texts())


def test_mapping_list_turns_flame_bones_off_and_scales_them(bpy, empty_scene, tmp_path):
    from mathutils import Euler

    from thunder_blender.core.channels import INDEX

    kf, rig_mod = addon_module("blender.keyframes"), addon_module("blender.rig")
    _arm, mesh = flame_addon_rig(bpy)
    bpy.context.view_layer.objects.active = mesh
    assert bpy.ops.thunder.mapping_edit() == {"FINISHED"}
    rows = {r.target: r for r in mesh.thunder.map_rows}
    assert {"bone jaw", "bone left_eye", "bone right_eye", "bone neck"} <= set(rows)
    rows["bone jaw"].gain = 0.5
    rows["bone left_eye"].enabled = False
    rig = rig_mod.detect_rig(mesh)
    table = {r[0]: r for r in rig.table()}
    assert table["bone left_eye"][3] == "off" and table["bone jaw"][2] == "edited"
    takes = _takes()
    w = takes.weights[0]
    (act,) = kf.write_takes(mesh, takes, 1, 50.0, mapping=rig)
    paths = {fc.data_path for fc in fcurves(act, "OBJECT")}
    assert not any("left_eye" in p for p in paths) and any("right_eye" in p for p in paths)
    f = 11
    empty_scene.frame_set(f + 1)
    pb = _arm.pose.bones
    fm = rig.flame
    half = (0.5 * w[f, INDEX["jawOpen"]] * fm.jaw_open_radians,
            0.5 * (w[f, INDEX["jawLeft"]] - w[f, INDEX["jawRight"]]) * fm.jaw_lateral_radians)
    want = Euler((half[0], 0.0, half[1]), "XYZ").to_quaternion()
    assert _aa_quat(pb["jaw"].rotation_axis_angle).rotation_difference(want).angle < 1e-4
    keys = mesh.data.shape_keys.key_blocks
    assert all(abs(keys[f"Pose{i}"].value) < 1e-6 for i in range(19, 28))  # left eye switched off: no corrective
    assert any(abs(keys[f"Pose{i}"].value) > 1e-4 for i in range(28, 37))
