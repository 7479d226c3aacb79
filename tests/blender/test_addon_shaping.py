"""Write-time controls in real Blender: offset, key reduction, strength / mouth-only, stored on each take.

Takes come from the shipped model on the demo clip (real onnxruntime) and are keyed on the demo head by
``write_takes``; curves are read back and evaluated by Blender itself (``FCurve.evaluate``).
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.blender.helpers import DEMO_SPEECH, addon_module, curve_values, fcurves, model_available

pytestmark = [pytest.mark.blender,
              pytest.mark.skipif(not model_available(), reason="no trained model in models/ (model.json)")]


@pytest.fixture(scope="module")
def demo_takes():
    gen = addon_module("runtime.generate")
    pcm, sr = _read(DEMO_SPEECH)
    model = addon_module("runtime.model").load_model()
    return gen.generate(gen.GenerateRequest(pcm=pcm, sample_rate=sr, n_takes=4, seed=3), model)


def _read(path):
    from thunder_cli.audio_file import read_audio

    return read_audio(str(path))


def _head(bpy):
    return addon_module("blender.demo_head").build_demo_head(bpy.context)


def _shaping(**kw):
    return addon_module("core.shaping").Shaping(**kw)


def _set_fps(scene, fps):
    from thunder_cli.headless import set_scene_fps

    set_scene_fps(scene, fps)
    return scene.render.fps / scene.render.fps_base


def frames_full(act) -> np.ndarray:
    """Scene frames a take covers (from its stored settings)."""
    info = json.loads(act["thunder_settings"])
    return np.arange(info["n_frames"]) + info["start_frame"]


def _curves_by_path(act):
    return {(fc.data_path, fc.array_index): fc for fc in fcurves(act)}


@pytest.mark.parametrize("fps", [24.0, 30000 / 1001, 30.0, 60.0])
@pytest.mark.parametrize("ms", [-50.0, 33.0])
def test_offset_moves_every_key_by_n_ms(bpy, empty_scene, demo_takes, fps, ms):
    kf = addon_module("blender.keyframes")
    fps = _set_fps(empty_scene, fps)
    face = _head(bpy)
    plain = kf.write_takes(face, demo_takes, 10, fps)
    ref = {k: curve_values(fc) for k, fc in _curves_by_path(plain[0]).items()}
    moved = kf.write_takes(face, demo_takes, 10, fps, shaping=_shaping(offset_ms=ms))
    curves = _curves_by_path(moved[0])
    assert set(curves) == set(ref) and len(curves) == 55
    shift = ms * fps / 1000.0
    for k, fc in curves.items():
        frames, vals = curve_values(fc)
        np.testing.assert_allclose((frames - ref[k][0]) / fps * 1000.0, ms, atol=1e-3)  # every key, in ms
        np.testing.assert_array_equal(vals, ref[k][1])
    # Blender evaluates the moved curve at t + N ms as the original at t, and the NLA strip moved with it
    jaw = curves[('key_blocks["jawOpen"].value', 0)]
    for f in (12, 40, 80):
        assert jaw.evaluate(f + shift) == pytest.approx(float(ref[('key_blocks["jawOpen"].value', 0)][1][f - 10]),
                                                        abs=1e-5)
    strip = next(tr for tr in face.data.shape_keys.animation_data.nla_tracks
                 if tr.name == "THUNDER take 1").strips[0]
    # the take still covers the audio's frames: the NLA strip maps action frames 1:1 from frame 10
    assert strip.frame_start == 10 and strip.action_frame_start == 10
    assert strip.frame_end == 10 + len(ref[('key_blocks["jawOpen"].value', 0)][0]) - 1
    info = json.loads(moved[0]["thunder_settings"])
    assert info["shaping"]["offset_ms"] == ms


def test_key_reduction_bound_closures_and_ratio_in_blender(bpy, empty_scene, demo_takes):
    kf = addon_module("blender.keyframes")
    closures = addon_module("core.closures")
    resample = addon_module("core.resample")
    face = _head(bpy)
    full = kf.write_takes(face, demo_takes, 1, 30.0)
    ref = [{k: curve_values(fc) for k, fc in _curves_by_path(a).items()} for a in full]
    tol = 0.01
    reduced = kf.write_takes(face, demo_takes, 1, 30.0, shaping=_shaping(reduce_keys=True, key_tolerance=tol))
    n_full = sum(len(v[0]) for r in ref for v in r.values())
    n_red = 0
    seal_paths = {f'key_blocks["{n}"].value' for n in ("jawOpen", "mouthClose") + closures.LIP_OPENING}
    for k, act in enumerate(reduced):
        perf = resample.resample(demo_takes.weights[k], demo_takes.fps, 30.0)
        sealed = np.flatnonzero(closures.sealed_frames(perf)) + 1  # scene frames (start 1)
        assert sealed.size > 0
        curves = _curves_by_path(act)
        assert set(curves) == set(ref[k])
        for key, fc in curves.items():
            frames, _ = curve_values(fc)
            n_red += len(frames)
            rf, rv = ref[k][key]
            got = np.array([fc.evaluate(float(f)) for f in rf])
            assert np.abs(got - rv).max() <= tol + 1e-5, key  # on every channel, Blender's own evaluation
            if key[0] in seal_paths:
                assert set(sealed.tolist()) <= set(np.round(frames).astype(int).tolist()), key
    assert n_full / n_red >= 5.0, (n_full, n_red)
    info = json.loads(reduced[0]["thunder_settings"])
    assert info["shaping"]["reduce_keys"] is True and info["shaping"]["key_tolerance"] == tol


def test_strength_and_mouth_only_are_written_and_kept_by_a_reroll(bpy, empty_scene, demo_takes):
    kf = addon_module("blender.keyframes")
    rig_mod = addon_module("blender.rig")
    face = _head(bpy)
    shaping = _shaping(mouth_only=True, strength={"mouth": 2.0}, smooth_hz={"mouth": 6.0})
    acts = kf.write_takes(face, demo_takes, 1, 30.0, shaping=shaping)

    def check(act):
        curves = _curves_by_path(act)
        for (path, _), fc in curves.items():
            vals = curve_values(fc)[1]
            if any(s in path for s in ("brow", "eyeBlink", "cheekSquint", "noseSneer")):
                assert np.all(vals == 0.0), path
        jaw = curve_values(curves[('key_blocks["jawOpen"].value', 0)])[1]
        assert jaw.max() > 0.6  # doubled (the model's jaw peaks near 0.6 on this clip)
        rot = [curve_values(fc)[1] for (p, _), fc in curves.items() if p == "rotation_euler"]
        assert all(np.all(r == 0.0) for r in rot)  # head at rest (the demo head's rest rotation is 0)

    check(acts[0])
    assert json.loads(acts[0]["thunder_settings"])["shaping"] == shaping.to_dict()
    # Re-roll take 2 from a fresh performance: the take's stored controls are applied again.
    rig = rig_mod.detect_rig(face)
    new = kf.replace_take(rig, acts[1], demo_takes.weights[3], demo_takes.fps, 99, {"rerolls": 1})
    check(new)
    assert json.loads(new["thunder_settings"])["shaping"] == shaping.to_dict()


def test_panel_controls_are_stored_and_reroll_keeps_them(bpy, empty_scene):
    scene = empty_scene
    face = _head(bpy)
    se = scene.sequence_editor_create()
    se.strips.new_sound("speech", str(DEMO_SPEECH), channel=1, frame_start=1)
    s = scene.thunder
    s.n_takes = 2
    s.strength_brows = 0.0
    s.strength_head = 2.0
    s.smooth_head = 3.0
    s.offset_ms = -40.0
    s.reduce_keys = True
    bpy.context.view_layer.objects.active = face
    assert bpy.ops.thunder.generate() == {"FINISHED"}
    want = {"strength": {"mouth": 1.0, "cheeks": 1.0, "brows": 0.0, "eyes": 1.0, "head": 2.0},
            "mouth_only": False, "smooth_hz": {"mouth": 0.0, "cheeks": 0.0, "brows": 0.0, "eyes": 0.0, "head": 3.0},
            "offset_ms": -40.0, "reduce_keys": True, "key_tolerance": pytest.approx(0.01)}
    for item in face.thunder.takes:
        assert json.loads(item.action["thunder_settings"])["shaping"] == want
    # the panel changes; a re-roll still writes the take with its own stored controls
    s.strength_brows = 1.0
    s.offset_ms = 0.0
    s.reduce_keys = False
    assert bpy.ops.thunder.take_reroll(index=1) == {"FINISHED"}
    act = face.thunder.takes[1].action
    assert json.loads(act["thunder_settings"])["shaping"] == want
    curves = _curves_by_path(act)
    brow = curve_values(curves[('key_blocks["browInnerUp"].value', 0)])[1]
    assert np.all(brow == 0.0)
    frames = curve_values(curves[('key_blocks["jawOpen"].value', 0)])[0]
    assert frames[0] == pytest.approx(1 - 0.04 * 30, abs=1e-4)  # moved 40 ms earlier
    n_keys = sum(len(fc.keyframe_points) for fc in curves.values())
    assert n_keys < 0.3 * len(curves) * len(frames_full(face.thunder.takes[0].action))  # reduced
