"""glTF and FBX export of keyed takes in real headless Blender: timing, values, validator, state restore."""
from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from thunder_blender.core.channels import ARKIT_52

ROOT = Path(__file__).resolve().parents[2]
FPS = 30
N_FRAMES = 45
N_TAKES = 3


def read_glb(path: Path) -> tuple[dict, bytes]:
    """Minimal GLB reader: (JSON chunk, BIN chunk)."""
    data = path.read_bytes()
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    assert magic == b"glTF" and version == 2 and length == len(data)
    jlen, jtype = struct.unpack_from("<I4s", data, 12)
    doc = json.loads(data[20:20 + jlen])
    blen, btype = struct.unpack_from("<I4s", data, 20 + jlen)
    assert jtype == b"JSON" and btype == b"BIN\x00"
    return doc, data[28 + jlen:28 + jlen + blen]


def accessor(doc: dict, blob: bytes, index: int) -> np.ndarray:
    acc = doc["accessors"][index]
    assert acc["componentType"] == 5126  # float32
    view = doc["bufferViews"][acc["bufferView"]]
    width = {"SCALAR": 1, "VEC3": 3, "VEC4": 4}[acc["type"]]
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    return np.frombuffer(blob, "<f4", acc["count"] * width, start).reshape(acc["count"], width)


def validate_gltf(path: Path) -> dict:
    """Run the Khronos glTF validator (node_modules/gltf-validator) and return its report."""
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "gltf-validator").is_dir():
        pytest.skip("node or node_modules/gltf-validator missing (run `npm ci`)")
    script = (
        "const v = require('gltf-validator'); const fs = require('fs');"
        "v.validateBytes(new Uint8Array(fs.readFileSync(process.argv[1])))"
        ".then(r => console.log(JSON.stringify(r))).catch(e => { console.error(String(e)); process.exit(1); });"
    )
    res = subprocess.run([node, "-e", script, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def make_face(bpy, name: str = "Face"):
    """A small grid with Basis + the 52 ARKit shape keys, each moving one vertex."""
    bpy.ops.mesh.primitive_grid_add(x_subdivisions=9, y_subdivisions=8, size=2.0)
    obj = bpy.context.active_object
    obj.name = name
    obj.shape_key_add(name="Basis")
    for i, n in enumerate(ARKIT_52):
        kb = obj.shape_key_add(name=n, from_mix=False)
        kb.data[i].co.z += 0.1
    return obj


def key_takes(bpy, obj, weights: np.ndarray, start: int = 1) -> list:
    """Key (N, T, 52) weights as one slotted action per take + a muted NLA track each (like the add-on)."""
    key = obj.data.shape_keys
    ad = key.animation_data_create()
    actions = []
    for k, w in enumerate(weights):
        act = bpy.data.actions.new(f"take_{k + 1}")
        slot = act.slots.new(id_type="KEY", name=key.name)
        bag = act.layers.new("Layer").strips.new(type="KEYFRAME").channelbag(slot, ensure=True)
        frames = start + np.arange(w.shape[0], dtype=np.float32)
        for c, n in enumerate(ARKIT_52):
            fc = bag.fcurves.new(f'key_blocks["{n}"].value')
            fc.keyframe_points.add(len(frames))
            fc.keyframe_points.foreach_set("co", np.stack([frames, w[:, c]], 1).ravel())
            fc.keyframe_points.foreach_set("interpolation", np.full(len(frames), 1, np.int32))  # LINEAR
            fc.update()
        track = ad.nla_tracks.new()
        track.name = act.name
        track.strips.new(act.name, start, act)
        track.mute = True
        actions.append(act)
    ad.action = actions[0]
    ad.action_slot = actions[0].slots[0]
    return actions


@pytest.fixture
def keyed(bpy, empty_scene):
    rng = np.random.default_rng(3)
    weights = rng.uniform(0, 1, (N_TAKES, N_FRAMES, 52)).astype(np.float32)
    obj = make_face(bpy)
    actions = key_takes(bpy, obj, weights)
    empty_scene.frame_start, empty_scene.frame_end = 1, N_FRAMES
    return obj, actions, weights


def test_glb_has_every_take_with_audio_timing(bpy, keyed, tmp_path):
    from thunder_blender.blender import export

    obj, actions, weights = keyed
    path = tmp_path / "takes.glb"
    export.export_glb(path, obj)
    ad = obj.data.shape_keys.animation_data
    assert ad.action == actions[0] and all(t.mute for t in ad.nla_tracks)  # scene state restored
    doc, blob = read_glb(path)
    mesh = doc["meshes"][0]
    assert mesh["extras"]["targetNames"] == list(ARKIT_52)
    assert len(mesh["primitives"][0]["targets"]) == 52
    assert sorted(a["name"] for a in doc["animations"]) == [f"take_{k + 1}" for k in range(N_TAKES)]
    for anim in doc["animations"]:
        k = int(anim["name"].split("_")[1]) - 1
        (chan,) = anim["channels"]
        assert chan["target"]["path"] == "weights"
        sampler = anim["samplers"][chan["sampler"]]
        times = accessor(doc, blob, sampler["input"])[:, 0]
        # Take time 0 is glTF time 0, frames 1/fps apart.
        np.testing.assert_allclose(times, np.arange(N_FRAMES) / FPS, atol=1e-5)
        values = accessor(doc, blob, sampler["output"]).reshape(N_FRAMES, 52)
        np.testing.assert_allclose(values, weights[k], atol=1e-5)


@pytest.mark.node
def test_glb_passes_khronos_validator(bpy, keyed, tmp_path):
    from thunder_blender.blender import export

    path = tmp_path / "takes.glb"
    export.export_glb(path, keyed[0])
    report = validate_gltf(path)
    assert report["issues"]["numErrors"] == 0, report["issues"]["messages"][:5]
    assert report["info"]["animationCount"] == N_TAKES
    assert report["info"]["hasMorphTargets"] is True


def _imported_curves(bpy, path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.context.scene.render.fps = FPS
    bpy.ops.import_scene.fbx(filepath=str(path))  # default anim_offset = 1 frame
    (obj,) = [o for o in bpy.context.scene.objects if o.type == "MESH"]
    act = obj.data.shape_keys.animation_data.action
    out = {}
    for layer in act.layers:
        for strip in layer.strips:
            for bag in strip.channelbags:
                for fc in bag.fcurves:
                    co = np.empty(2 * len(fc.keyframe_points), np.float32)
                    fc.keyframe_points.foreach_get("co", co)
                    name = fc.data_path.split('"')[1]
                    out[name] = (co[0::2], co[1::2])
    return out


def test_fbx_per_take_round_trip(bpy, keyed, tmp_path):
    from thunder_blender.blender import export

    obj, actions, weights = keyed
    n_actions = len(bpy.data.actions)
    path = tmp_path / "take_2.fbx"
    export.export_fbx_take(path, obj, actions[1])
    # The scene is back as it was: take 1 active, tracks muted, no temporary actions left.
    ad = obj.data.shape_keys.animation_data
    assert ad.action == actions[0] and all(t.mute for t in ad.nla_tracks)
    assert len(bpy.data.actions) == n_actions
    assert (bpy.context.scene.frame_start, bpy.context.scene.frame_end) == (1, N_FRAMES)

    curves = _imported_curves(bpy, path)
    assert set(curves) == set(ARKIT_52)
    for c, n in enumerate(ARKIT_52):
        frames, values = curves[n]
        # FBX time 0 = take start; the importer's +1 offset brings it back to frame 1.
        np.testing.assert_allclose(frames, 1 + np.arange(N_FRAMES), atol=1e-3)
        np.testing.assert_allclose(values, weights[1, :, c], atol=2e-4)
    assert not np.allclose(curves["jawOpen"][1], weights[0, :, ARKIT_52.index("jawOpen")], atol=1e-2)


def test_fbx_rejects_mesh_without_shape_keys(bpy, empty_scene, tmp_path):
    from thunder_blender.blender import export

    bpy.ops.mesh.primitive_cube_add()
    act = bpy.data.actions.new("x")
    with pytest.raises(ValueError, match="no shape keys"):
        export.export_fbx_take(tmp_path / "x.fbx", bpy.context.active_object, act)
    assert not (tmp_path / "x.fbx").exists()


def test_glb_adds_takes_without_tracks_temporarily(bpy, keyed, tmp_path):
    from thunder_blender.blender import export

    obj, actions, weights = keyed
    ad = obj.data.shape_keys.animation_data
    ad.nla_tracks.remove(ad.nla_tracks[2])  # take 3 now only exists as an action
    path = tmp_path / "takes.glb"
    export.export_glb(path, obj, actions)
    assert len(ad.nla_tracks) == 2
    doc, blob = read_glb(path)
    by_name = {a["name"]: a for a in doc["animations"]}
    assert set(by_name) == {"take_1", "take_2", "take_3"}
    sampler = by_name["take_3"]["samplers"][0]
    values = accessor(doc, blob, sampler["output"]).reshape(N_FRAMES, 52)
    np.testing.assert_allclose(values, weights[2], atol=1e-5)


def test_head_bone_rig_exports_bone_rotation(bpy, empty_scene, tmp_path):
    """A face skinned to an armature with a Head bone: takes written by the add-on's keyer rotate the bone;
    glTF animations carry the bone rotation and the weights, the FBX take carries the bone curves."""
    from thunder_blender.blender import export
    from thunder_blender.blender.keyframes import write_takes
    from thunder_blender.runtime.generate import Takes

    arm_data = bpy.data.armatures.new("Rig")
    arm = bpy.data.objects.new("Rig", arm_data)
    empty_scene.collection.objects.link(arm)
    bpy.context.view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode="EDIT")
    bone = arm_data.edit_bones.new("Head")
    bone.head, bone.tail = (0, 0, 0), (0, 0, 1)
    bpy.ops.object.mode_set(mode="OBJECT")
    face = make_face(bpy)
    face.parent = arm
    mod = face.modifiers.new("Armature", "ARMATURE")
    mod.object = arm
    group = face.vertex_groups.new(name="Head")
    group.add(list(range(len(face.data.vertices))), 1.0, "REPLACE")

    rng = np.random.default_rng(5)
    w = rng.uniform(0, 1, (2, 20, 55)).astype(np.float32)
    w[:, :, 52:] = rng.uniform(-0.2, 0.2, (2, 20, 3))
    actions = write_takes(face, Takes(weights=w, fps=30.0, seeds=(1, 2)), 1, 30.0)
    empty_scene.frame_end = 20

    path = tmp_path / "rig.glb"
    export.export_glb(path, face)
    doc, blob = read_glb(path)
    assert len(doc["animations"]) == 2
    head_node = next(i for i, n in enumerate(doc["nodes"]) if n.get("name") == "Head")
    for anim in doc["animations"]:
        targets = {(c["target"]["path"], c["target"].get("node")) for c in anim["channels"]}
        assert ("rotation", head_node) in targets and any(p == "weights" for p, _ in targets)
        rot = next(c for c in anim["channels"] if c["target"] == {"node": head_node, "path": "rotation"})
        quats = accessor(doc, blob, anim["samplers"][rot["sampler"]]["output"])
        assert np.ptp(quats, axis=0).max() > 0.01  # the head actually turns

    fbx = tmp_path / "rig_take_2.fbx"
    export.export_fbx_take(fbx, face, actions[1])
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.context.scene.render.fps = 30
    bpy.ops.import_scene.fbx(filepath=str(fbx))
    (arm2,) = [o for o in bpy.context.scene.objects if o.type == "ARMATURE"]
    paths = {fc.data_path for bag in arm2.animation_data.action.layers[0].strips[0].channelbags
             for fc in bag.fcurves}
    assert any(p.startswith('pose.bones["Head"].rotation') for p in paths)
    (mesh,) = [o for o in bpy.context.scene.objects if o.type == "MESH"]
    jaw = next(fc for bag in mesh.data.shape_keys.animation_data.action.layers[0].strips[0].channelbags
               for fc in bag.fcurves if fc.data_path == 'key_blocks["jawOpen"].value')
    co = np.empty(2 * len(jaw.keyframe_points), np.float32)
    jaw.keyframe_points.foreach_get("co", co)
    np.testing.assert_allclose(co[1::2], w[1, :, ARKIT_52.index("jawOpen")], atol=2e-4)  # take 2, not 1


def test_glb_timing_at_fractional_frame_rate(bpy, keyed, tmp_path):
    """29.97 fps (30 / 1.001): glTF times are frame / 29.97 and the scene's rate is left as it was."""
    from thunder_blender.blender import export

    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.001
    path = tmp_path / "ntsc.glb"
    export.export_glb(path, keyed[0])
    assert (scene.render.fps, scene.render.fps_base) == (30, pytest.approx(1.001))
    doc, blob = read_glb(path)
    times = accessor(doc, blob, doc["animations"][0]["samplers"][0]["input"])[:, 0]
    np.testing.assert_allclose(times, np.arange(N_FRAMES) * 1.001 / 30, atol=1e-5)
