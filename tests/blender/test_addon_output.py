"""Take output from the panel: Export Takes (glTF + FBX per take), Bake to Active Action, the preview grid.

Real operators, real exporters and importers, the Khronos glTF validator, the shipped model.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.blender.helpers import (
    addon_module,
    assert_reimported_curve,
    curve_values,
    fcurves,
    model_available,
    snapshot,
    strip_frames,
)
from tests.blender.layout import RecordingLayout
from tests.blender.test_addon_takes_safety import _strip, make_character
from tests.blender.test_export import accessor, read_glb, validate_gltf

pytestmark = pytest.mark.skipif(not model_available(), reason="no trained model in models/ (model.json)")

FPS = 24


def _generate_character(bpy, scene, n_takes=3, start=37):
    scene.render.fps = FPS
    scene.thunder.n_takes = n_takes
    scene.thunder.seed = 11
    strip = _strip(scene, start)
    arm, meshes = make_character(bpy)
    bpy.context.view_layer.objects.active = arm
    assert bpy.ops.thunder.generate() == {"FINISHED"}
    return arm, meshes, strip


def _take_keys(act, slot_identifier) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for layer in act.layers:
        for st in layer.strips:
            for bag in st.channelbags:
                if bag.slot.identifier == slot_identifier:
                    for fc in bag.fcurves:
                        f, v = curve_values(fc)
                        out[fc.data_path.split('"')[1]] = (f.copy(), v.copy())
    return out


def test_export_takes_from_the_panel(bpy, empty_scene, tmp_path):
    scene = empty_scene
    arm, meshes, strip = _generate_character(bpy, scene)
    head, teeth, tongue = meshes
    takes = [t.action for t in arm.thunder.takes]
    expect = {(k, m.name): _take_keys(a, "KE" + m.data.shape_keys.name) for k, a in enumerate(takes) for m in meshes}
    start, end = strip_frames(strip)
    n = end - start
    before = snapshot(bpy)
    glb = not addon_module("blender.compat").GLTF_MISLABELS_SHAPE_KEY_TRACKS
    if not glb:  # refused as a whole: nothing written, the scene untouched
        with pytest.raises(RuntimeError, match="export several takes from Blender 4.5 or newer"):
            bpy.ops.thunder.takes_export(directory=str(tmp_path), filename="shot")
        assert not any(tmp_path.iterdir()) and snapshot(bpy) == before
    assert bpy.ops.thunder.takes_export(directory=str(tmp_path), filename="shot", use_glb=glb) == {"FINISHED"}
    assert snapshot(bpy) == before  # exporting changes nothing in the scene
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["shot.glb"] * glb + ["shot_take_1.fbx", "shot_take_2.fbx", "shot_take_3.fbx"]
    if glb:
        _check_panel_glb(bpy, tmp_path / "shot.glb", meshes, expect, n)
    # Each FBX re-imports with its take starting on frame 1 (= the strip start), every mesh keyed.
    for k in range(3):
        bpy.ops.wm.read_homefile(use_empty=True)
        bpy.context.scene.render.fps = FPS
        bpy.ops.import_scene.fbx(filepath=str(tmp_path / f"shot_take_{k + 1}.fbx"))
        imported = {o.name: o for o in bpy.context.scene.objects if o.type == "MESH"}
        for m in ("Char_Head", "Char_Teeth", "Char_Tongue"):
            act = imported[m].data.shape_keys.animation_data.action
            got = {fc.data_path.split('"')[1]: fc for fc in fcurves(act)}
            for kname, (frames, values) in expect[(k, m)].items():
                assert frames[0] == start
                if kname not in got:  # the FBX exporter leaves constant curves out (export.FBX_SIMPLIFY)
                    assert np.ptp(values) == 0.0, kname
                    assert imported[m].data.shape_keys.key_blocks[kname].value == pytest.approx(values[0], abs=2e-4)
                    continue
                assert_reimported_curve(got[kname], frames, values)
    if not glb:
        pytest.skip(f"glTF part not checked: Blender {bpy.app.version_string}'s glTF exporter mislabels shape-key "
                    "NLA tracks, so several takes are not exported to glTF there (refusal and FBX checked)")


def _check_panel_glb(bpy, path, meshes, expect, n):
    """The Export Takes glTF: valid, one animation per take, every driven mesh's weights = the take's keys."""
    report = validate_gltf(path)
    assert report["issues"]["numErrors"] == 0, report["issues"]["messages"][:5]
    doc, blob = read_glb(path)
    print(f"glTF validator: {report['issues']['numErrors']} errors, {report['issues']['numWarnings']} warnings")
    node_of = {nd["name"]: i for i, nd in enumerate(doc["nodes"])}
    anims = {a["name"]: a for a in doc["animations"]}
    assert sorted(anims) == [f"THUNDER take {k}" for k in (1, 2, 3)]
    for k in range(3):
        anim = anims[f"THUNDER take {k + 1}"]
        targets = {(doc["nodes"][c["target"]["node"]]["name"], c["target"]["path"]) for c in anim["channels"]}
        assert {(m.name, "weights") for m in meshes} <= targets  # every driven mesh animated
        for c in anim["channels"]:
            if c["target"]["path"] != "weights":
                continue
            name = doc["nodes"][c["target"]["node"]]["name"]
            m = bpy.data.objects[name]
            sampler = anim["samplers"][c["sampler"]]
            times = accessor(doc, blob, sampler["input"])[:, 0]
            np.testing.assert_allclose(times, np.arange(n) / FPS, atol=1e-5)  # t = 0 at the strip start
            names = doc["meshes"][doc["nodes"][node_of[name]]["mesh"]]["extras"]["targetNames"]
            vals = accessor(doc, blob, sampler["output"]).reshape(n, len(names))
            for j, kname in enumerate(names):
                if kname in expect[(k, m.name)]:
                    np.testing.assert_allclose(vals[:, j], expect[(k, m.name)][kname][1], atol=1e-5)


def test_export_refuses_without_folder_and_writes_nothing_on_error(bpy, empty_scene, tmp_path):
    _generate_character(bpy, empty_scene, n_takes=1)
    with pytest.raises(RuntimeError, match="choose a folder"):
        bpy.ops.thunder.takes_export(directory="")
    blocker = tmp_path / "shot_take_1.fbx"
    blocker.mkdir()  # a folder where the FBX should go: the move fails, nothing else is left behind
    with pytest.raises(RuntimeError, match="export failed, nothing written"):
        bpy.ops.thunder.takes_export(directory=str(tmp_path), filename="shot")
    assert sorted(p.name for p in tmp_path.iterdir()) in (["shot_take_1.fbx"], ["shot.glb", "shot_take_1.fbx"])


def test_bake_to_active_action(bpy, empty_scene):
    arm, meshes, _strip_ = _generate_character(bpy, empty_scene, n_takes=3)
    take2 = arm.thunder.takes[1].action
    expect = _take_keys(take2, "KE" + meshes[1].data.shape_keys.name)
    assert bpy.ops.thunder.take_bake(index=1) == {"FINISHED"}
    (baked,) = bpy.data.actions
    assert "thunder_seed" not in baked and len(arm.thunder.takes) == 0
    for m in meshes:
        ad = m.data.shape_keys.animation_data
        assert ad.action == baked and ad.action_slot.identifier == "KE" + m.data.shape_keys.name and len(ad.nla_tracks) == 0
    assert arm.animation_data.action == baked
    got = _take_keys(baked, "KE" + meshes[1].data.shape_keys.name)
    for kname, (f, v) in expect.items():
        np.testing.assert_array_equal(got[kname][0], f)
        np.testing.assert_array_equal(got[kname][1], v)


def _counts(bpy) -> dict:
    return {k: len(getattr(bpy.data, k)) for k in ("objects", "meshes", "shape_keys", "curves", "collections",
                                                     "actions", "armatures", "materials")}


def test_preview_grid_plays_each_take_and_keep_on_a_copy(bpy, empty_scene):
    scene = empty_scene
    arm, meshes, strip = _generate_character(bpy, scene, n_takes=3)
    cam = bpy.data.objects.new("Cam", bpy.data.cameras.new("Cam"))
    scene.collection.objects.link(cam)
    cam.location, cam.rotation_euler = (0.3, -3.0, 0.2), (np.radians(90), 0, np.radians(10))
    scene.camera = cam
    counts, before = _counts(bpy), snapshot(bpy)
    layout = RecordingLayout()
    addon_module("blender.ui").draw_thunder(layout, bpy.context)
    ops = [c.args[0] for c in layout.called("operator")]
    assert {"thunder.takes_export", "thunder.take_bake", "thunder.preview_grid"} <= set(ops)
    assert bpy.ops.thunder.preview_grid() == {"FINISHED"}
    grid = addon_module("blender.grid")
    coll = grid.find_grid()
    copies = [o for o in coll.objects if o.get("thunder_grid_take") is not None and o.type != "FONT"]
    labels = sorted(o.data.body for o in coll.objects if o.type == "FONT")
    seeds = [t.action["thunder_seed"] for t in arm.thunder.takes]
    assert labels == [f"Take {k + 1}\nseed {s}" for k, s in enumerate(seeds)]
    assert len(copies) == 3 * 5  # armature + head + teeth + tongue + eyes per take
    assert all(m.hide_viewport and m.hide_render for m in [arm, *meshes])
    # Each copy plays its own take: evaluated jawOpen equals that take's key at the frame.
    frame = strip_frames(strip)[0] + 40
    scene.frame_set(frame)
    heads = sorted((o for o in copies if o.name.startswith("Char_Head")), key=lambda o: o["thunder_grid_take"])
    vals = []
    for k, h in enumerate(heads):
        take = arm.thunder.takes[k].action
        f, v = _take_keys(take, "KE" + meshes[0].data.shape_keys.name)["jawOpen"]
        assert h.data.shape_keys.key_blocks["jawOpen"].value == pytest.approx(float(v[f == frame][0]), abs=1e-5)
        vals.append(h.data.shape_keys.key_blocks["browInnerUp"].value)
        assert h.data != meshes[0].data and h.data.shape_keys != meshes[0].data.shape_keys
    assert len(set(np.round(vals, 5))) > 1  # the takes differ
    # Side by side across the camera's horizontal axis, facing it.
    right = np.array(cam.matrix_world.to_3x3().col[0])
    xs = [np.dot(np.array(o.matrix_world.translation), right) for o in heads]
    assert np.all(np.diff(xs) > 0)
    # Removing the grid leaves no datablock behind and shows the character again.
    assert bpy.ops.thunder.preview_grid() == {"FINISHED"}
    assert _counts(bpy) == counts and snapshot(bpy) == before
    assert not any(m.hide_viewport or m.hide_render for m in [arm, *meshes])
    # Keep on a copy keeps that take on the character, and removes the grid.
    assert bpy.ops.thunder.preview_grid() == {"FINISHED"}
    copy = next(o for o in grid.find_grid().objects if o.get("thunder_grid_take") == 2 and o.type == "MESH")
    bpy.context.view_layer.objects.active = copy
    kept_name = arm.thunder.takes[2].action.name
    assert bpy.ops.thunder.take_keep() == {"FINISHED"}
    assert grid.find_grid() is None and [t.action.name for t in arm.thunder.takes] == [kept_name]
    assert meshes[0].data.shape_keys.animation_data.action.name == kept_name
    assert _counts(bpy)["objects"] == counts["objects"] and _counts(bpy)["meshes"] == counts["meshes"]
    assert json.loads(bpy.data.actions[kept_name]["thunder_settings"])["take"] == 2
