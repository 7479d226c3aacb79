"""All Video Sequence Editor access, and audio decoding with Blender's own ``aud`` module.

Every strip lookup goes through this module; the strip timing names that differ between Blender versions
are read through ``blender.compat``.

Timing. A sound strip's content starts at ``content_start`` (``frame_start`` before 5.1; it can lie before
the visible part when the strip is trimmed) plus ``sound_offset`` seconds into the file; it is heard from the
left handle up to, not including, the right handle (``frame_final_start`` / ``frame_final_end`` before 5.1).
Scene frame ``k`` plays file time ``(k - content_start) / fps + sound_offset`` with
``fps = render.fps / render.fps_base``. ``strip_audio`` returns exactly the samples heard on frames
``[left, right)`` so that generated frame 0 is keyed on the left handle. Retimed (speed-changed) strips are
refused with a message.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import bpy
import numpy as np

from ..core import resample
from ..core.features import SAMPLE_RATE, SILENCE_PEAK
from ..runtime.generate import format_duration
from .compat import strip_content_start, strip_span


class AudioError(ValueError):
    """The audio source is missing, unreadable or silent. The message is user-facing (one line)."""


@dataclass(frozen=True)
class AudioClip:
    """Mono audio heard on scene frames ``[start_frame, start_frame + n_frames)``.

    pcm: (S,) float32 in [-1, 1] at ``sample_rate``.
    """

    pcm: np.ndarray
    sample_rate: int
    start_frame: int
    n_frames: int
    scene_fps: float
    source: str  # "strip:<name>" or "file:<path>"
    notes: tuple[str, ...] = ()  # shown with the result, e.g. a muted strip


def scene_fps(scene: bpy.types.Scene) -> float:
    """The scene's effective frame rate (``core.resample.scene_fps``)."""
    return resample.scene_fps(scene.render.fps, scene.render.fps_base)


def _all_strips(scene: bpy.types.Scene) -> list:
    se = scene.sequence_editor
    if se is None:
        return []
    return list(se.strips_all)


def sound_strips(scene: bpy.types.Scene) -> list:
    return [s for s in _all_strips(scene) if s.type == "SOUND"]


def active_sound_strip(scene: bpy.types.Scene):
    """The active strip if it is a sound strip, else the first selected sound strip, else the only one."""
    se = scene.sequence_editor
    if se is None:
        return None
    act = getattr(se, "active_strip", None)
    if act is not None and act.type == "SOUND":
        return act
    strips = sound_strips(scene)
    selected = [s for s in strips if s.select]
    if selected:
        return min(selected, key=lambda s: (strip_span(s)[0], s.channel))
    return strips[0] if len(strips) == 1 else None


def find_strip(scene: bpy.types.Scene, name: str):
    return next((s for s in sound_strips(scene) if s.name == name), None)


# The add-on keys every frame of every take into the scene; longer audio belongs to the command line
# (``thunder generate --format csv,json`` handles an hour).
MAX_SECONDS = 600.0


def _check_length(seconds: float, what: str) -> None:
    if seconds > MAX_SECONDS:
        raise AudioError(f"{what} is {format_duration(seconds)} long; the add-on's limit is "
                         f"{format_duration(MAX_SECONDS)} (split it, or use the thunder command line)")


def _decode(path: str) -> np.ndarray:
    import aud

    try:
        src = aud.Sound(path)
        _check_length(src.length / float(src.specs[0]), f"audio {os.path.basename(path)}")  # before decoding
        snd = src.rechannel(1).resample(SAMPLE_RATE, True)
        data = np.asarray(snd.data(), dtype=np.float32)
    except AudioError:
        raise
    except Exception as exc:  # noqa: BLE001 - aud raises its own error types
        raise AudioError(f"cannot decode audio {os.path.basename(path)}: {exc}") from None
    if data.ndim == 2:
        data = data.mean(axis=1)
    return np.ascontiguousarray(data.reshape(-1), dtype=np.float32)


def decode_sound(sound: bpy.types.Sound) -> np.ndarray:
    """(S,) float32 mono at 16 kHz from a Sound datablock (file, ``//`` relative path, or packed)."""
    if sound.packed_file is not None:
        ext = os.path.splitext(sound.filepath)[1] or ".wav"
        fd, tmp = tempfile.mkstemp(suffix=ext, prefix="thunder-packed-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(bytes(sound.packed_file.data))
            return _decode(tmp)
        finally:
            os.unlink(tmp)
    path = bpy.path.abspath(sound.filepath, library=sound.library)
    if not os.path.isfile(path):
        raise AudioError(f"sound file not found: {path}")
    return _decode(path)


def decode_file(path: str) -> np.ndarray:
    """(S,) float32 mono at 16 kHz from a file path (``//`` paths are relative to the .blend)."""
    p = bpy.path.abspath(path)
    if not p or not os.path.isfile(p):
        raise AudioError(f"audio file not found: {p or '(empty path)'}")
    return _decode(p)


def _cut(pcm: np.ndarray, t0: float, n_samples: int) -> np.ndarray:
    """Samples [t0, t0 + n) of ``pcm`` (seconds -> samples at 16 kHz), zero-padded outside the file."""
    out = np.zeros(n_samples, dtype=np.float32)
    s0 = int(round(t0 * SAMPLE_RATE))
    lo, hi = max(s0, 0), min(s0 + n_samples, pcm.shape[0])
    if hi > lo:
        out[lo - s0:hi - s0] = pcm[lo:hi]
    return out


def check_audible(pcm: np.ndarray, what: str) -> None:
    if pcm.size == 0:
        raise AudioError(f"{what} is empty")
    if float(np.max(np.abs(pcm))) < SILENCE_PEAK:
        raise AudioError(f"{what} is silent (peak below -60 dBFS); nothing to animate")


def strip_audio(scene: bpy.types.Scene, strip) -> AudioClip:
    """The audio heard while ``strip`` plays, with its frame range (see the module docstring)."""
    if strip is None:
        raise AudioError("no sound strip: select a sound strip in the Sequencer or choose an audio file")
    if strip.type != "SOUND" or strip.sound is None:
        raise AudioError(f"strip {strip.name!r} is not a sound strip")
    if len(getattr(strip, "retiming_keys", ())) > 2:
        raise AudioError(f"strip {strip.name!r} is retimed; remove its retiming keys first")
    fps = scene_fps(scene)
    start, end = strip_span(strip)
    n_frames = end - start
    if n_frames <= 0:
        raise AudioError(f"strip {strip.name!r} has no length")
    _check_length(n_frames / fps, f"strip {strip.name!r}")
    pcm = decode_sound(strip.sound)
    t0 = (start - strip_content_start(strip)) / fps + float(getattr(strip, "sound_offset", 0.0))
    clip = _cut(pcm, t0, int(round(n_frames / fps * SAMPLE_RATE)))
    check_audible(clip, f"the audio of strip {strip.name!r}")
    notes = (f"strip {strip.name!r} is muted: its takes were made from it anyway",) if strip.mute else ()
    return AudioClip(clip, SAMPLE_RATE, start, n_frames, fps, f"strip:{strip.name}", notes)


def file_audio(scene: bpy.types.Scene, path: str, start_frame: int) -> AudioClip:
    """A whole audio file placed at ``start_frame``."""
    pcm = decode_file(path)
    check_audible(pcm, f"audio file {os.path.basename(path)}")
    fps = scene_fps(scene)
    n_frames = max(1, int(round(pcm.shape[0] / SAMPLE_RATE * fps)))
    return AudioClip(pcm, SAMPLE_RATE, int(start_frame), n_frames, fps, f"file:{path}")
