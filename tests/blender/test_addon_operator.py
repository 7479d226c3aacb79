"""The real ``thunder.generate`` operator in headless Blender.

Bad input (missing strip, mesh without shape keys, linked object, silent audio) is refused with a clear
message and changes nothing. With the shipped model: takes land on the strip's frames at 24 fps, switching
takes changes the evaluated face, cancelling leaves the scene exactly as before, and re-rolling replaces one
take only.
"""
from __future__ import annotations

import json
import time
from types import SimpleNamespace

import numpy as np
import pytest

from tests.blender.helpers import (
    DEMO_SPEECH,
    addon_module,
    curve_values,
    espeak_wav,
    fcurves,
    make_mesh,
    model_available,
    snapshot,
    write_wav,
)

needs_model = pytest.mark.skipif(not model_available(), reason="no trained model in models/ (model.json)")


def _demo_head(bpy):
    return addon_module("blender.demo_head").build_demo_head(bpy.context)


def _sound_strip(scene, wav, frame_start):
    se = scene.sequence_editor_create()
    return se.strips.new_sound("speech", str(wav), channel=1, frame_start=frame_start)


@pytest.fixture
def speech_wav(tmp_path):
    if DEMO_SPEECH.is_file():
        return DEMO_SPEECH
    return espeak_wav(tmp_path / "speech.wav", "Bob made a map of the moon.")


# -- bad input: clear message, nothing changed ------------------------------------------------------------
def test_missing_strip_is_refused(bpy, empty_scene):
    _demo_head(bpy)
    before = snapshot(bpy)
    with pytest.raises(RuntimeError, match="no sound strip"):
        bpy.ops.thunder.generate()
    assert snapshot(bpy) == before


def test_mesh_without_shape_keys_is_refused(bpy, empty_scene, speech_wav):
    _sound_strip(empty_scene, speech_wav, 1)
    me = bpy.data.meshes.new("plain")
    obj = bpy.data.objects.new("plain", me)
    empty_scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    before = snapshot(bpy)
    with pytest.raises(RuntimeError, match="'plain' has no shape keys"):
        bpy.ops.thunder.generate()
    assert snapshot(bpy) == before


def test_silent_audio_is_refused(bpy, empty_scene, tmp_path):
    _demo_head(bpy)
    _sound_strip(empty_scene, write_wav(tmp_path / "silence.wav", np.zeros(32000), 16000), 1)
    before = snapshot(bpy)
    with pytest.raises(RuntimeError, match="silent"):
        bpy.ops.thunder.generate("INVOKE_DEFAULT")
    assert snapshot(bpy) == before


def test_linked_object_is_refused(bpy, empty_scene, tmp_path, speech_wav):
    from thunder_blender.core.channels import ARKIT_52

    face = make_mesh(bpy, "LibFace", list(ARKIT_52[:5]))
    lib = tmp_path / "lib.blend"
    bpy.data.libraries.write(str(lib), {face}, fake_user=True)
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    with bpy.data.libraries.load(str(lib), link=True) as (_src, dst):
        dst.objects = ["LibFace"]
    linked = dst.objects[0]
    scene.collection.objects.link(linked)
    bpy.context.view_layer.objects.active = linked
    _sound_strip(scene, speech_wav, 1)
    before = snapshot(bpy)
    with pytest.raises(RuntimeError, match=r"linked from library .lib.blend.*make a library override"):
        bpy.ops.thunder.generate()
    assert snapshot(bpy) == before


def test_bad_mapping_file_is_refused(bpy, empty_scene, tmp_path, speech_wav):
    _demo_head(bpy)
    _sound_strip(empty_scene, speech_wav, 1)
    bad = tmp_path / "map.json"
    bad.write_text('{"shape_keys": {"jawOpen": {"jawOpn": 1}}}')
    empty_scene.thunder.mapping_file = str(bad)
    before = snapshot(bpy)
    with pytest.raises(RuntimeError, match="unknown channel 'jawOpn'"):
        bpy.ops.thunder.generate()
    assert snapshot(bpy) == before


class _ModalHarness:
    """Stands in for the operator instance: the real ``modal``/``_finish`` code, with reports recorded."""

    def __init__(self, session):
        ops = addon_module("blender.ops_generate")
        cls = ops.THUNDER_OT_generate
        self._session, self._timer, self.reports = session, None, []
        self.modal = cls.modal.__get__(self)
        self._finish = cls._finish.__get__(self)
        self._stop_timer = cls._stop_timer.__get__(self)

    def report(self, _kind, message):
        self.reports.append(message)


# -- with the shipped model -------------------------------------------------------------------------------
@needs_model
def test_generate_on_strip_at_frame_37_24fps(bpy, empty_scene, speech_wav):
    from thunder_blender.core.channels import ARKIT_52

    scene = empty_scene
    scene.render.fps = 24
    face = _demo_head(bpy)
    strip = _sound_strip(scene, speech_wav, 37)
    scene.thunder.n_takes = 3
    scene.thunder.seed = 5
    bpy.context.view_layer.objects.active = face
    t0 = time.perf_counter()
    assert bpy.ops.thunder.generate("INVOKE_DEFAULT") == {"FINISHED"}
    first, end = addon_module("blender.compat").strip_span(strip)
    print(f"generate 3 takes of {(end - first) / 24:.2f} s: {time.perf_counter() - t0:.1f} s")
    key = face.data.shape_keys
    takes = [item.action for item in face.thunder.takes]
    assert len(takes) == 3 and len({a.name for a in takes}) == 3
    for act in takes:
        curves = fcurves(act, "KEY")
        assert {fc.data_path for fc in curves} == {f'key_blocks["{n}"].value' for n in ARKIT_52}
        for fc in curves:
            frames, vals = curve_values(fc)
            assert frames[0] == 37 and frames[-1] == end - 1
            assert np.all(np.diff(frames) == 1) and np.all(np.isfinite(vals))
    jaw = [curve_values(next(fc for fc in fcurves(a, "KEY") if "jawOpen" in fc.data_path))[1] for a in takes]
    assert max(j.max() for j in jaw) > 0.1  # the mouth opens while speaking
    assert not np.allclose(jaw[0], jaw[1])  # takes differ
    # Switching takes changes the evaluated shape-key values and the evaluated mesh.
    depsgraph = bpy.context.evaluated_depsgraph_get()

    def evaluated(take_index):
        face.thunder.active_take = take_index
        scene.frame_set(37 + 30)
        vals = np.array([kb.value for kb in key.key_blocks[1:]])
        ev = face.evaluated_get(depsgraph)
        co = np.empty(len(ev.data.vertices) * 3, dtype=np.float32)
        ev.data.vertices.foreach_get("co", co)
        return vals, co

    v0, c0 = evaluated(0)
    v1, c1 = evaluated(1)
    assert key.animation_data.action == takes[1]
    assert np.max(np.abs(v0 - v1)) > 1e-3 and np.max(np.abs(c0 - c1)) > 1e-5
    # Generating again replaces the takes instead of adding more.
    n_actions = len(bpy.data.actions)
    assert bpy.ops.thunder.generate() == {"FINISHED"}
    assert len(bpy.data.actions) == n_actions and len(face.thunder.takes) == 3


@needs_model
def test_cancel_leaves_scene_unchanged_and_worker_path_writes(bpy, empty_scene, speech_wav):
    ops = addon_module("blender.ops_generate")
    scene = empty_scene
    face = _demo_head(bpy)
    _sound_strip(scene, speech_wav, 1)
    scene.thunder.n_takes = 2
    scene.thunder.mouth_variation = 0.3
    bpy.context.view_layer.objects.active = face
    before = snapshot(bpy)
    # Drive the operator's own modal handler (there is no window headless, so Blender cannot): Esc, then
    # timer ticks until the job reports back.
    op = _ModalHarness(ops.GenerationSession(bpy.context))
    op._session.start()
    assert ops.STATUS["running"]
    assert op.modal(bpy.context, SimpleNamespace(type="ESC", value="PRESS")) == {"RUNNING_MODAL"}
    deadline = time.time() + 120
    result = {"PASS_THROUGH"}
    while result == {"PASS_THROUGH"} and time.time() < deadline:
        time.sleep(0.05)
        result = op.modal(bpy.context, SimpleNamespace(type="TIMER", value="NOTHING"))
    assert result == {"CANCELLED"} and op.reports == ["Generation cancelled; nothing changed"]
    assert op._session.result is None and not ops.STATUS["running"]
    assert snapshot(bpy) == before
    # The same worker-thread path, not cancelled, delivers progress and takes that apply in one step.
    session = ops.GenerationSession(bpy.context)
    session.start()
    seen_progress = False
    while not session.poll() and time.time() < deadline:
        seen_progress |= ops.STATUS["total"] > 0
        time.sleep(0.05)
    session.close()
    assert session.result is not None and not session.error
    assert session.result.weights.shape[0] == 2
    session.apply(bpy.context)
    assert len(face.thunder.takes) == 2
    # Re-roll take 2: a new seed, take 1 untouched.
    first = face.thunder.takes[0].action
    first_vals = curve_values(fcurves(first, "KEY")[0])[1].copy()
    old_seed = face.thunder.takes[1].action["thunder_seed"]
    assert bpy.ops.thunder.take_reroll(index=1) == {"FINISHED"}
    assert len(face.thunder.takes) == 2
    new = face.thunder.takes[1].action
    assert new["thunder_seed"] != old_seed and new.name.endswith("_take2")
    # the re-roll reuses the take's recorded settings, the panel's mouth variation included
    assert json.loads(new["thunder_settings"])["mouth_temperature"] == pytest.approx(0.3)
    np.testing.assert_array_equal(curve_values(fcurves(face.thunder.takes[0].action, "KEY")[0])[1], first_vals)
    # Re-rolling needs the take's audio: with the strip gone it is refused and nothing changes.
    scene.sequence_editor.strips.remove(scene.sequence_editor.strips["speech"])
    before = snapshot(bpy)
    with pytest.raises(RuntimeError, match="no longer exists"):
        bpy.ops.thunder.take_reroll(index=0)
    assert snapshot(bpy) == before


@needs_model
def test_operator_on_viseme_and_flame_rigs(bpy, empty_scene, speech_wav):
    from tests.blender.test_addon_keyframes import _flame_rig

    vis = addon_module("core.visemes")
    scene = empty_scene
    scene.render.fps = 30
    strip = _sound_strip(scene, speech_wav, 1)
    scene.thunder.n_takes = 2
    rpm = make_mesh(bpy, "RPM", list(vis.VISEME_KEYS))
    assert bpy.ops.thunder.generate() == {"FINISHED"}
    act = rpm.thunder.takes[0].action
    paths = {fc.data_path for fc in fcurves(act, "KEY")}
    assert paths == {f'key_blocks["{k}"].value' for k in vis.VISEME_KEYS}
    aa = curve_values(next(fc for fc in fcurves(act, "KEY") if "viseme_aa" in fc.data_path))[1]
    sil = curve_values(next(fc for fc in fcurves(act, "KEY") if "viseme_sil" in fc.data_path))[1]
    assert aa.max() > 0.05 and sil.min() < 0.95  # speech moves the mouth away from silence
    arm, mesh = _flame_rig(bpy)
    bpy.context.view_layer.objects.active = mesh
    assert bpy.ops.thunder.generate() == {"FINISHED"}
    act = mesh.thunder.takes[0].action
    jaw = [fc for fc in fcurves(act, "OBJECT") if fc.data_path == 'pose.bones["jaw"].rotation_quaternion']
    assert len(jaw) == 4
    frames, w = curve_values(jaw[0])
    assert frames[0] == 1 and frames[-1] == addon_module("blender.compat").strip_span(strip)[1] - 1
    assert np.ptp(2 * np.arccos(np.clip(w, -1, 1))) > 0.02  # the jaw opens and closes (radians)
    assert arm.animation_data.action == act


@needs_model
def test_a_muted_strip_is_generated_from_with_a_notice(bpy, empty_scene, speech_wav, capfd):
    scene = empty_scene
    face = _demo_head(bpy)
    strip = _sound_strip(scene, speech_wav, 1)
    strip.mute = True
    scene.thunder.n_takes = 1
    bpy.context.view_layer.objects.active = face
    capfd.readouterr()
    assert bpy.ops.thunder.generate() == {"FINISHED"}
    out = capfd.readouterr()
    reported = [x for x in (out.out + out.err).splitlines() if "takes on" in x]
    assert reported and "is muted" in reported[-1] and reported[-1].startswith("Warning"), reported
    assert len(face.thunder.takes) == 1
