"""``thunder generate`` through headless Blender: demo head and file targets, glb/fbx/blend outputs.

Runs the shipped model; every format is compared with the runtime's takes for the same request, resampled
to the scene rate.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.blender.test_export import accessor, read_glb, validate_gltf
from tests.test_cli import _read, expected_takes, model, short_wav  # noqa: F401 (fixtures)
from thunder_blender.core.channels import ARKIT_52
from thunder_blender.core.resample import resample
from thunder_cli import cli

pytestmark = pytest.mark.blender
FPS = 30


def _expected(wav, model, n_takes: int, seed: int):  # noqa: F811
    takes = expected_takes(wav, model, n_takes, seed)
    return takes, np.stack([resample(w, takes.fps, FPS) for w in takes.weights])


@pytest.fixture(scope="module")
def demo_run(bpy, tmp_path_factory, short_wav):  # noqa: F811
    """One CLI run on the demo head writing every format (module-scoped: Blender work is shared)."""
    out = tmp_path_factory.mktemp("cli") / "out"
    code = cli.main(["generate", str(short_wav), "--takes", "4", "--seed", "3", "--target", "demo",
                     "--out", str(out), "--name", "demo", "--format", "blend,glb,fbx,csv,json,png"])
    assert code == 0
    return out


def test_demo_run_writes_every_file(demo_run):
    names = sorted(p.name for p in demo_run.iterdir())
    assert names == sorted(["demo.blend", "demo.glb", "demo.json", "demo.png"]
                           + [f"demo_take_{k}.{ext}" for k in range(1, 5) for ext in ("csv", "fbx")])


@pytest.mark.node
def test_demo_glb_is_valid_with_four_takes_of_52_targets(demo_run, short_wav):  # noqa: F811
    report = validate_gltf(demo_run / "demo.glb")
    assert report["issues"]["numErrors"] == 0, report["issues"]["messages"][:5]
    assert report["info"]["animationCount"] == 4


def test_demo_glb_weights_and_timing(demo_run, short_wav, model):  # noqa: F811
    _, scene = _expected(short_wav, model, 4, 3)
    doc, blob = read_glb(demo_run / "demo.glb")
    assert doc["meshes"][0]["extras"]["targetNames"] == list(ARKIT_52)
    anims = sorted(doc["animations"], key=lambda a: a["name"])
    assert len(anims) == 4
    for k, anim in enumerate(anims):
        assert {c["target"]["path"] for c in anim["channels"]} == {"weights", "rotation"}  # head motion too
        chan = next(c for c in anim["channels"] if c["target"]["path"] == "weights")
        sampler = anim["samplers"][chan["sampler"]]
        times = accessor(doc, blob, sampler["input"])[:, 0]
        m = scene.shape[1]
        np.testing.assert_allclose(times, np.arange(m) / FPS, atol=1e-5)  # take time 0 = audio time 0
        values = accessor(doc, blob, sampler["output"]).reshape(m, 52)
        np.testing.assert_allclose(values, scene[k, :, :52], atol=1e-4)


def test_demo_fbx_take_round_trip(bpy, demo_run, short_wav, model):  # noqa: F811
    _, scene = _expected(short_wav, model, 4, 3)
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.context.scene.render.fps = FPS
    bpy.ops.import_scene.fbx(filepath=str(demo_run / "demo_take_3.fbx"))  # default +1 frame offset
    (obj,) = [o for o in bpy.context.scene.objects if o.type == "MESH"]
    act = obj.data.shape_keys.animation_data.action
    curves = {fc.data_path: fc for bag in act.layers[0].strips[0].channelbags for fc in bag.fcurves}
    fc = curves['key_blocks["jawOpen"].value']
    co = np.empty(2 * len(fc.keyframe_points), np.float32)
    fc.keyframe_points.foreach_get("co", co)
    np.testing.assert_allclose(co[0::2], 1 + np.arange(scene.shape[1]), atol=1e-3)
    np.testing.assert_allclose(co[1::2], scene[2, :, ARKIT_52.index("jawOpen")], atol=2e-4)
    # Head rotation of the same take on the object (write_takes: X = pitch, Y = roll, Z = yaw).
    rot = {fc.array_index: fc for bag in obj.animation_data.action.layers[0].strips[0].channelbags
           for fc in bag.fcurves if fc.data_path == "rotation_euler"}
    for axis, channel in ((0, 53), (1, 54), (2, 52)):
        co = np.empty(2 * len(rot[axis].keyframe_points), np.float32)
        rot[axis].keyframe_points.foreach_get("co", co)
        np.testing.assert_allclose(co[1::2], scene[2, :, channel], atol=1e-4)


def test_demo_blend_has_takes_and_sound(bpy, demo_run, short_wav):  # noqa: F811
    bpy.ops.wm.open_mainfile(filepath=str(demo_run / "demo.blend"), load_ui=False)
    scene = bpy.context.scene
    assert scene.render.fps / scene.render.fps_base == FPS
    (strip,) = list(scene.sequence_editor.strips)
    assert strip.type == "SOUND" and strip.frame_start == scene.frame_start == 1
    assert strip.sound.packed_file is not None
    # The sound is named after the input and points next to the .blend, where unpacking writes it.
    assert (strip.sound.name, strip.sound.filepath) == (short_wav.name, f"//{short_wav.name}")
    takes = [a for a in bpy.data.actions if "thunder_take" in a]
    assert len(takes) == 4
    assert scene.frame_end == 1 + round(1.6 * FPS) - 1


def test_demo_blend_sound_unpacks_next_to_the_blend(bpy, demo_run, short_wav, tmp_path):  # noqa: F811
    import shutil

    blend = tmp_path / "moved" / "demo.blend"  # anywhere: the path is relative to the .blend
    blend.parent.mkdir()
    shutil.copy(demo_run / "demo.blend", blend)
    bpy.ops.wm.open_mainfile(filepath=str(blend), load_ui=False)
    assert bpy.ops.file.unpack_all(method="USE_ORIGINAL") == {"FINISHED"}
    (sound,) = bpy.data.sounds
    assert sound.packed_file is None and bpy.path.abspath(sound.filepath) == str(blend.parent / short_wav.name)
    unpacked = _read(blend.parent / short_wav.name)
    assert abs(len(unpacked) - len(_read(short_wav))) <= 1


def test_blend_target_is_not_modified_and_keeps_its_fps(bpy, tmp_path, short_wav, model):  # noqa: F811
    from tests.blender.test_export import make_face

    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.context.scene.render.fps = 24
    make_face(bpy, "MyRig")
    src = tmp_path / "rig.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(src))
    before = src.read_bytes()
    out = tmp_path / "out"
    assert cli.main(["generate", str(short_wav), "--takes", "2", "--target", str(src), "--out", str(out),
                     "--name", "rig_takes", "--format", "blend,glb"]) == 0
    assert src.read_bytes() == before
    bpy.ops.wm.open_mainfile(filepath=str(out / "rig_takes.blend"), load_ui=False)
    assert bpy.context.scene.render.fps == 24
    assert "MyRig" in bpy.data.objects and len([a for a in bpy.data.actions if "thunder_take" in a]) == 2


def test_mapping_command(bpy, tmp_path, capsys):
    from tests.blender.test_export import make_face

    bpy.ops.wm.read_homefile(use_empty=True)
    obj = make_face(bpy, "Rig")
    obj.shape_key_add(name="viseme_aa")
    obj.shape_key_add(name="Wrinkles")
    src = tmp_path / "rig.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(src))
    assert cli.main(["mapping", str(src)]) == 0
    text = capsys.readouterr().out
    assert "ARKit: 52/52 shape keys" in text
    assert "jawOpen" in text and "viseme_aa" in text
    assert "not driven: Wrinkles" in text


def test_blender_audio_reader_in_a_child_process(tmp_path):
    """Without ffmpeg, non-WAV audio goes through Blender's aud in a child process; a file aud cannot
    decode (which aborts the process that tries) gives a one-line error instead of killing the CLI."""
    import subprocess

    from tests.test_cli import DEMO_WAV, write_wav
    from thunder_cli.audio_file import AudioFileError, read_with_blender

    wav = tmp_path / "a.wav"
    pcm = _read(DEMO_WAV)[:16000]
    write_wav(wav, pcm)
    ogg = tmp_path / "a.ogg"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), str(ogg)], check=True, timeout=60)
    back, rate = read_with_blender(ogg)
    assert rate == 16000 and abs(len(back) - len(pcm)) < 400
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"\x00\x01" * 500)
    with pytest.raises(AudioFileError, match="cannot read audio bad.mp3"):
        read_with_blender(bad)


def test_convert_live_link_csvs_to_glb(demo_run, short_wav, tmp_path, model):  # noqa: F811
    """The CLI's CSVs, converted back onto the demo head, give the same glTF weights: a full round trip
    Blender-less CSV export -> CSV import -> Blender keys -> glTF."""
    _, scene = _expected(short_wav, model, 4, 3)
    csvs = [str(demo_run / f"demo_take_{k}.csv") for k in (1, 2)]
    out = tmp_path / "conv"
    assert cli.main(["convert", *csvs, "--audio", str(short_wav), "--fps", "30", "--out", str(out),
                     "--name", "conv", "--format", "glb,blend"]) == 0
    doc, blob = read_glb(out / "conv.glb")
    anims = sorted(doc["animations"], key=lambda a: a["name"])
    assert len(anims) == 2
    for k, anim in enumerate(anims):
        chan = next(c for c in anim["channels"] if c["target"]["path"] == "weights")
        sampler = anim["samplers"][chan["sampler"]]
        values = accessor(doc, blob, sampler["output"]).reshape(-1, 52)
        np.testing.assert_allclose(values, scene[k, :, :52], atol=1e-4)


def _streamed_run(monkeypatch, tmp_path, wav, *args):
    """``thunder generate --format glb`` with every take streamed (``headless.STREAM_SECONDS`` at 0)."""
    from thunder_cli import headless

    monkeypatch.setattr(headless, "STREAM_SECONDS", 0.0)
    out = tmp_path / "streamed"
    code = cli.main(["generate", str(wav), "--target", "demo", "--out", str(out), "--name", "demo",
                     "--format", "glb", *args])
    return code, out


def test_streamed_glb_equals_blenders_export(bpy, demo_run, short_wav, tmp_path, monkeypatch):  # noqa: F811
    """Long takes are written one at a time with samples computed from the keys: the file holds the same
    scene and the same animations as Blender's exporter writes with every take keyed at once."""
    code, out = _streamed_run(monkeypatch, tmp_path, short_wav, "--takes", "4", "--seed", "3")
    assert code == 0
    ref, ref_blob = read_glb(demo_run / "demo.glb")
    doc, blob = read_glb(out / "demo.glb")
    assert doc["meshes"] == ref["meshes"] and doc.get("skins") == ref.get("skins")
    assert [n["name"] for n in doc["nodes"]] == [n["name"] for n in ref["nodes"]]
    assert sorted(a["name"] for a in doc["animations"]) == sorted(a["name"] for a in ref["animations"])
    for anim in doc["animations"]:
        ref_anim = next(a for a in ref["animations"] if a["name"] == anim["name"])
        assert [c["target"] for c in anim["channels"]] == [c["target"] for c in ref_anim["channels"]]
        for ch, ref_ch in zip(anim["channels"], ref_anim["channels"], strict=True):
            s, r = anim["samplers"][ch["sampler"]], ref_anim["samplers"][ref_ch["sampler"]]
            np.testing.assert_allclose(accessor(doc, blob, s["input"]), accessor(ref, ref_blob, r["input"]),
                                       atol=1e-6)
            # weights: both quantized to 16 bits (one step 1.5e-5); rotation: float32
            np.testing.assert_allclose(accessor(doc, blob, s["output"]), accessor(ref, ref_blob, r["output"]),
                                       atol=2e-5)


@pytest.mark.node
def test_streamed_glb_is_valid(bpy, short_wav, tmp_path, monkeypatch):  # noqa: F811
    code, out = _streamed_run(monkeypatch, tmp_path, short_wav, "--takes", "2")
    assert code == 0
    report = validate_gltf(out / "demo.glb")
    assert report["issues"]["numErrors"] == 0, report["issues"]["messages"][:5]
    assert report["issues"]["numWarnings"] == 0, report["issues"]["messages"][:5]
    assert report["info"]["animationCount"] == 2


def test_streamed_glb_refuses_a_head_bone_it_cannot_reproduce(bpy, short_wav, tmp_path, monkeypatch,  # noqa: F811
                                                               capsys):
    """Bone rotation is not computed from the keys: the check against the coarse export refuses the take with
    one line instead of writing a wrong file, and nothing is left in --out."""
    from tests.blender.test_export import make_face

    bpy.ops.wm.read_homefile(use_empty=True)
    arm = bpy.data.objects.new("Rig", bpy.data.armatures.new("Rig"))
    bpy.context.scene.collection.objects.link(arm)
    bpy.context.view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode="EDIT")
    bone = arm.data.edit_bones.new("Head")
    bone.head, bone.tail = (0, 0, 0), (0, 0, 1)
    bpy.ops.object.mode_set(mode="OBJECT")
    face = make_face(bpy, "BoneFace")
    face.parent = arm
    face.modifiers.new("Armature", "ARMATURE").object = arm
    face.vertex_groups.new(name="Head").add(list(range(len(face.data.vertices))), 1.0, "REPLACE")
    src = tmp_path / "bone_rig.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(src))
    monkeypatch.setattr("thunder_cli.headless.STREAM_SECONDS", 0.0)
    out = tmp_path / "o"
    assert cli.main(["generate", str(short_wav), "--takes", "2", "--target", str(src), "--out", str(out),
                     "--format", "glb"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("thunder: error: bone_rig.blend: rotation of Head") and "streamed" in err[-1]
    assert not out.exists()


@pytest.mark.parametrize("content, message", [
    (b"BLENDER-v405 but not really a blend file" * 10, "cannot open bad.blend"),
    (None, "has no mesh with shape keys"),
])
def test_bad_target_fails_before_generation(bpy, tmp_path, short_wav, monkeypatch, capsys,  # noqa: F811
                                            content, message):
    def never(*a, **k):
        raise AssertionError("generation must not start with a bad target")

    monkeypatch.setattr("thunder_blender.runtime.generate.generate", never)
    src = tmp_path / "bad.blend"
    if content is None:
        bpy.ops.wm.read_homefile(use_empty=True)
        bpy.ops.mesh.primitive_cube_add()
        bpy.ops.wm.save_as_mainfile(filepath=str(src))
    else:
        src.write_bytes(content)
    out = tmp_path / "out"
    assert cli.main(["generate", str(short_wav), "--target", str(src), "--out", str(out),
                     "--format", "fbx"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("thunder: error: ") and message in last
    assert not out.exists()


def test_glb_target_gets_exactly_the_new_takes(bpy, demo_run, tmp_path, short_wav, model):  # noqa: F811
    """Re-targeting a .glb that already holds 4 animations: the new glb holds only the 2 new takes."""
    out = tmp_path / "out"
    assert cli.main(["generate", str(short_wav), "--takes", "2", "--target", str(demo_run / "demo.glb"),
                     "--out", str(out), "--name", "again", "--format", "glb,fbx"]) == 0
    doc, _ = read_glb(out / "again.glb")
    assert len(doc["animations"]) == 2
    assert len(doc["meshes"][0]["extras"]["targetNames"]) == 52
    assert sorted(p.name for p in out.iterdir()) == ["again.glb", "again_take_1.fbx", "again_take_2.fbx"]


def test_fbx_target_is_used_as_a_rig(bpy, demo_run, tmp_path, short_wav, model):  # noqa: F811
    """An FBX that carries animation (our own take export) is imported as a rig: its animation is
    dropped, so the new takes get head rotation too."""
    out = tmp_path / "out"
    assert cli.main(["generate", str(short_wav), "--takes", "2", "--target", str(demo_run / "demo_take_1.fbx"),
                     "--out", str(out), "--name", "fromfbx", "--format", "glb"]) == 0
    doc, _ = read_glb(out / "fromfbx.glb")
    assert len(doc["animations"]) == 2
    for anim in doc["animations"]:
        assert {c["target"]["path"] for c in anim["channels"]} == {"weights", "rotation"}


def test_a_rig_with_a_failing_python_driver_does_not_hang_at_exit(bpy, tmp_path):
    """Blender's shutdown deadlocks after a Python driver failed in restricted mode; the command must still
    end (it leaves with os._exit once its work is done)."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT
    from thunder_blender.blender.demo_head import build_demo_head

    bpy.ops.wm.read_homefile(use_empty=True)
    face = build_demo_head(bpy.context, "Face")
    fc = face.data.shape_keys.key_blocks["jawOpen"].driver_add("value")
    fc.driver.type = "SCRIPTED"
    fc.driver.expression = "__import__('os').getpid() * 0"  # refused: auto-run of scripts is off
    rig = tmp_path / "driver.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(rig))
    res = subprocess.run([sys.executable, "-m", "thunder_cli", "mapping", str(rig)], capture_output=True, text=True,
                         timeout=120, cwd=ROOT, env={**os.environ, "BLENDER_USER_RESOURCES": str(tmp_path / "u")})
    assert res.returncode == 0, res.stderr[-2000:]
    assert "jawOpen" in res.stdout and "52 shape keys" in res.stdout


def test_shaping_options_in_blender_outputs(bpy, tmp_path, short_wav, model):  # noqa: F811
    """--offset-ms moves the keys of the .blend by N ms at 24 fps, --reduce-keys thins them within the
    tolerance, --strength brows=0 keeps the brows at rest; the glb stays valid and follows the offset."""
    out = tmp_path / "o"
    assert cli.main(["generate", str(short_wav), "--takes", "2", "--seed", "3", "--target", "demo", "--fps", "24",
                     "--out", str(out), "--name", "s", "--format", "blend,glb", "--offset-ms", "-40",
                     "--reduce-keys", "--strength", "brows=0"]) == 0
    takes, _ = _expected(short_wav, model, 2, 3)
    bpy.ops.wm.open_mainfile(filepath=str(out / "s.blend"), load_ui=False)
    acts = sorted((a for a in bpy.data.actions if "thunder_take" in a), key=lambda a: a["thunder_take"])
    assert len(acts) == 2
    m = round(1.6 * 24)
    for k, act in enumerate(acts):
        info = json.loads(act["thunder_settings"])
        assert info["shaping"]["offset_ms"] == -40.0 and info["shaping"]["reduce_keys"] is True
        perf = resample(takes.weights[k], takes.fps, 24.0, m)
        n_keys = 0
        for layer in act.layers:
            for bag in layer.strips[0].channelbags:
                for fc in bag.fcurves:
                    n = len(fc.keyframe_points)
                    co = np.empty(2 * n, np.float32)
                    fc.keyframe_points.foreach_get("co", co)
                    n_keys += n
                    assert co[0] == pytest.approx(1 - 0.96, abs=1e-4)  # first key 40 ms (0.96 frames) early
                    name = fc.data_path.split('"')[1] if fc.data_path.startswith("key_blocks") else None
                    if name in ARKIT_52:
                        got = np.array([fc.evaluate(1 - 0.96 + f) for f in range(m)])
                        want = 0.0 * perf[:, ARKIT_52.index(name)] if name.startswith("brow") else \
                            perf[:, ARKIT_52.index(name)]
                        assert np.abs(got - want).max() <= 0.01 + 1e-5, name
        assert n_keys < 55 * m / 3  # the shipped model's takes reduce well (>= 5x on longer clips)
    report = validate_gltf(out / "s.glb")
    assert report["issues"]["numErrors"] == 0, report["issues"]["messages"][:5]
    # glTF time 0 is still audio time 0; the face shows at time t what the take does at t + 40 ms
    doc, blob = read_glb(out / "s.glb")
    for k, anim in enumerate(sorted(doc["animations"], key=lambda a: a["name"])):
        chan = next(c for c in anim["channels"] if c["target"]["path"] == "weights")
        sampler = anim["samplers"][chan["sampler"]]
        times = accessor(doc, blob, sampler["input"])[:, 0]
        np.testing.assert_allclose(times, np.arange(m) / 24, atol=1e-5)
        values = accessor(doc, blob, sampler["output"]).reshape(m, 52)
        perf = resample(takes.weights[k], takes.fps, 24.0, m)
        pos = np.arange(m) + 0.96
        want = np.stack([np.interp(pos, np.arange(m), perf[:, c]) for c in range(52)], 1)
        want[:, [i for i, n in enumerate(ARKIT_52) if n.startswith("brow")]] = 0.0
        assert np.abs(values - want).max() <= 0.01 + 1e-4
