"""Audio from sound strips, decoded with Blender's ``aud``: trims, offsets, fps_base, // paths, packed sounds."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from tests.blender.helpers import addon_module, write_wav

RATE = 22050  # not 16 kHz, so aud's resampling is exercised
BURST_AT = 1.0  # seconds into the file


@pytest.fixture
def marker_wav(tmp_path):
    """3 s of low noise with a 20 ms 1 kHz burst at 1.0 s, at 22.05 kHz."""
    rng = np.random.default_rng(0)
    n = int(3.0 * RATE)
    pcm = rng.normal(0, 0.005, n)
    i0 = int(BURST_AT * RATE)
    t = np.arange(int(0.02 * RATE)) / RATE
    pcm[i0:i0 + t.size] += 0.8 * np.sin(2 * np.pi * 1000 * t)
    return write_wav(tmp_path / "marker.wav", pcm, RATE)


def _burst_time(clip) -> float:
    env = np.convolve(np.abs(clip.pcm), np.ones(64) / 64, mode="same")
    return float(np.argmax(env)) / clip.sample_rate


def _strip(scene, path, frame_start):
    se = scene.sequence_editor_create()
    return se.strips.new_sound("speech", str(path), channel=1, frame_start=frame_start)


def test_untrimmed_strip(bpy, empty_scene, marker_wav):
    strips = addon_module("blender.strips")
    empty_scene.render.fps = 24
    s = _strip(empty_scene, marker_wav, 37)
    assert strips.active_sound_strip(empty_scene) == s
    clip = strips.strip_audio(empty_scene, s)
    assert clip.start_frame == 37 and clip.n_frames == s.frame_final_end - 37 == 72
    assert clip.sample_rate == 16000 and clip.pcm.dtype == np.float32
    assert clip.pcm.shape[0] == pytest.approx(3.0 * 16000, abs=2)
    assert _burst_time(clip) == pytest.approx(BURST_AT + 0.01, abs=0.004)


def test_trimmed_offset_strip_and_fps_base(bpy, empty_scene, marker_wav):
    strips = addon_module("blender.strips")
    empty_scene.render.fps = 30
    empty_scene.render.fps_base = 1.001  # 29.97 fps
    fps = 30 / 1.001
    s = _strip(empty_scene, marker_wav, 10)
    s.frame_final_start = 10 + 15  # trim the first 15 frames (0.5005 s)
    s.frame_final_end = 10 + 75
    clip = strips.strip_audio(empty_scene, s)
    assert clip.start_frame == 25 and clip.n_frames == 60
    assert clip.scene_fps == pytest.approx(fps)
    assert clip.pcm.shape[0] == round(60 / fps * 16000)
    assert _burst_time(clip) == pytest.approx(BURST_AT + 0.01 - 15 / fps, abs=0.004)
    s.sound_offset = 0.25  # the file starts 0.25 s later into the strip's content
    clip2 = strips.strip_audio(empty_scene, s)
    assert _burst_time(clip2) == pytest.approx(BURST_AT + 0.01 - 15 / fps - 0.25, abs=0.004)


def test_relative_path_and_packed_sound(bpy, empty_scene, marker_wav, tmp_path):
    strips = addon_module("blender.strips")
    proj = tmp_path / "proj"
    proj.mkdir()
    shutil.copy(marker_wav, proj / "speech.wav")
    bpy.ops.wm.save_as_mainfile(filepath=str(proj / "scene.blend"))
    scene = bpy.context.scene
    scene.render.fps = 25
    s = _strip(scene, proj / "speech.wav", 1)
    s.sound.filepath = "//speech.wav"
    clip = strips.strip_audio(scene, s)
    assert _burst_time(clip) == pytest.approx(BURST_AT + 0.01, abs=0.004)
    s.sound.pack()
    (proj / "speech.wav").unlink()
    clip_packed = strips.strip_audio(scene, s)
    np.testing.assert_allclose(clip_packed.pcm, clip.pcm, atol=1e-6)
    with pytest.raises(strips.AudioError, match="not found"):
        strips.decode_file(str(proj / "speech.wav"))


def test_silent_and_missing_audio_messages(bpy, empty_scene, tmp_path):
    strips = addon_module("blender.strips")
    silent = write_wav(tmp_path / "silent.wav", np.zeros(16000), 16000)
    s = _strip(empty_scene, silent, 1)
    with pytest.raises(strips.AudioError, match="silent"):
        strips.strip_audio(empty_scene, s)
    with pytest.raises(strips.AudioError, match="no sound strip"):
        strips.strip_audio(empty_scene, None)
    with pytest.raises(strips.AudioError, match="not found"):
        strips.file_audio(empty_scene, str(tmp_path / "nope.wav"), 1)
