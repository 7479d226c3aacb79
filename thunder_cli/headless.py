"""Headless Blender for the command line: open a target, key the takes, add the audio, write Blender formats.

Blender runs in-process through the ``bpy`` module. ``import_bpy()`` points ``BLENDER_USER_RESOURCES`` at a
temporary directory first, so the user's Blender configuration is never read or written.

Targets: ``demo`` (the bundled demo head), a ``.blend`` (opened read-only: results are saved under a new
name), a ``.glb``/``.gltf`` or an ``.fbx`` (imported into an empty scene). The target object is the mesh whose
shape keys match the most ARKit channels.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from thunder_blender.core.channels import ARKIT_52

TARGET_SUFFIXES = (".blend", ".glb", ".gltf", ".fbx")
# Takes longer than this are written to glTF one at a time (``_write_glb_streamed``): Blender holds one take's
# keys instead of all, and the samples come from the keys instead of the exporter's frame-by-frame pass.
STREAM_SECONDS = 600.0


class TargetError(ValueError):
    """The target file is unusable (missing, wrong type, no mesh with shape keys). One-line message."""


_ISOLATION: Path | None = None  # temp dir holding Blender's user resources and cache for this process


def import_bpy():
    """Import and return ``bpy`` isolated from the user's Blender setup and home directory.

    Before the first import, Blender's user resources (``BLENDER_USER_RESOURCES``) and its cache
    (thumbnails under ``XDG_CACHE_HOME``) are pointed at a fresh temp dir, which ``shutdown`` removes.
    """
    global _ISOLATION
    if "bpy" not in sys.modules:
        _ISOLATION = Path(tempfile.mkdtemp(prefix="thunder-blender-"))
        os.environ.setdefault("BLENDER_USER_RESOURCES", str(_ISOLATION / "user"))
        os.environ["XDG_CACHE_HOME"] = str(_ISOLATION / "cache")
    import bpy

    return bpy


def shutdown() -> None:
    """Remove this process's Blender temp dirs (call right before the process ends)."""
    import shutil

    bpy = sys.modules.get("bpy")
    tmp = getattr(getattr(bpy, "app", None), "tempdir", "") if bpy is not None else ""
    for d in (tmp, _ISOLATION):
        if d and Path(d).name.startswith(("blender_", "thunder-blender-")):
            shutil.rmtree(d, ignore_errors=True)


# This module is the command line's only way into Blender: bpy is imported here, isolated from the user's
# Blender configuration, before any of the add-on's Blender modules (which import bpy themselves).
import_bpy()

from thunder_blender.blender import export  # noqa: E402
from thunder_blender.blender.demo_head import build_demo_head  # noqa: E402
from thunder_blender.blender.keyframes import write_takes  # noqa: E402
from thunder_blender.blender.rig import RigError, detect_rig  # noqa: E402
from thunder_blender.blender.strips import scene_fps  # noqa: E402

__all__ = ["RigError", "TargetError", "BlenderJob", "check_target", "detect_rig", "load_target", "prepare",
           "stdout_to_stderr", "write_outputs"]


def _norm(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum())


_ARKIT_NORM = {_norm(n) for n in ARKIT_52}


def arkit_score(obj) -> int:
    """How many distinct ARKit channels the object's shape keys name (case and separators ignored)."""
    key = getattr(obj.data, "shape_keys", None) if obj.type == "MESH" else None
    if key is None:
        return 0
    return len({_norm(kb.name) for kb in key.key_blocks} & _ARKIT_NORM)


def find_face(objects) -> object | None:
    """The mesh with shape keys that best matches ARKit names (ties: more shape keys), or None."""
    cands = [o for o in objects if o.type == "MESH" and o.data.shape_keys is not None
             and len(o.data.shape_keys.key_blocks) > 1]
    if not cands:
        return None
    return max(cands, key=lambda o: (arkit_score(o), len(o.data.shape_keys.key_blocks), o.name))


def check_target(target: str) -> None:
    """Validate a --target value without Blender (fast failure before generation)."""
    if target == "demo":
        return
    p = Path(target)
    if p.suffix.lower() not in TARGET_SUFFIXES:
        raise TargetError(f"target must be 'demo' or a {', '.join(TARGET_SUFFIXES)} file, got {target!r}")
    if not p.is_file():
        raise TargetError(f"target file not found: {p}")


def load_target(target: str, name: str):
    """Open/import the target into the current Blender session. Returns the face object."""
    bpy = import_bpy()
    check_target(target)
    if target == "demo":
        bpy.ops.wm.read_homefile(use_empty=True)
        return build_demo_head(bpy.context, name)
    p = Path(target).resolve()
    suffix = p.suffix.lower()
    if suffix == ".blend":
        try:
            bpy.ops.wm.open_mainfile(filepath=str(p), load_ui=False)
        except RuntimeError as err:
            raise TargetError(f"cannot open {p.name}: {str(err).strip().splitlines()[-1]}") from None
    else:
        bpy.ops.wm.read_homefile(use_empty=True)
        try:
            if suffix == ".fbx":
                bpy.ops.import_scene.fbx(filepath=str(p))
            else:
                bpy.ops.import_scene.gltf(filepath=str(p))
        except RuntimeError as err:
            raise TargetError(f"cannot import {p.name}: {str(err).strip().splitlines()[-1]}") from None
        # An imported file is used as a rig: its own animation (e.g. a previous export) would otherwise
        # count as the user's action and block head rotation.
        for ob in bpy.context.scene.objects:
            ob.animation_data_clear()
            key = getattr(ob.data, "shape_keys", None)
            if key is not None:
                key.animation_data_clear()
    face = find_face(bpy.context.scene.objects)
    if face is None:
        raise TargetError(f"{p.name} has no mesh with shape keys to animate")
    return face


def set_scene_fps(scene, fps: float) -> None:
    """Set ``render.fps``/``fps_base`` so that fps / fps_base == ``fps`` (29.97 -> 30 / 1.001)."""
    whole = round(fps)
    if abs(fps - whole) < 1e-6:
        scene.render.fps, scene.render.fps_base = int(whole), 1.0
    else:
        scene.render.fps = int(round(fps * 1.001))
        scene.render.fps_base = scene.render.fps / fps


def write_wav(path: Path, pcm: np.ndarray, sample_rate: int) -> None:
    """(S,) float mono in [-1, 1] -> 16-bit PCM WAV."""
    data = (np.clip(pcm, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(data)


def add_sound(scene, wav: Path, frame_start: int, pack: bool = True, name: str | None = None):
    """Put the speech on the sequencer at ``frame_start`` (packed into the .blend by default).

    name: with ``pack``, the sound datablock's name and file name: its path becomes ``//name``, next to the
    saved .blend (where unpacking writes it), instead of ``wav`` (a temporary file).
    """
    bpy = import_bpy()
    se = scene.sequence_editor or scene.sequence_editor_create()
    channel = 1 + max((s.channel for s in se.strips_all), default=0)  # never overlap the file's strips
    strip = se.strips.new_sound("THUNDER speech", str(wav), channel=channel, frame_start=frame_start)
    if pack:
        strip.sound.pack()
        if name:
            strip.sound.name = name
            strip.sound.filepath = f"//{name}"
    scene.use_audio_scrub = True
    bpy.context.view_layer.update()
    return strip


@dataclass
class BlenderJob:
    """What to write from Blender. ``formats`` is a subset of {"blend", "glb", "fbx"}."""

    target: str
    name: str
    formats: set[str]
    fps: float | None = None          # None: the target .blend's scene rate, else 30
    audio: tuple[np.ndarray, int] | None = None  # (pcm (S,), sample rate) to place on the sequencer
    audio_name: str | None = None     # the input audio's file name: names the sound (as "<stem>.wav")
    face: object | None = field(default=None, repr=False)  # set by prepare()
    shaping: object | None = None     # core.shaping.Shaping applied by write_takes (None: defaults)


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send everything written to file descriptor 1 (Blender's and its exporters' chatter) to stderr, so
    the command line's stdout carries only its own summary."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def prepare(job: BlenderJob) -> None:
    """Open the target and check it can be animated (before generation, so a bad target fails fast).

    Raises TargetError or ``blender.rig.RigError`` with a one-line message.
    """
    with stdout_to_stderr():
        job.face = load_target(job.target, job.name)
        detect_rig(job.face)


def write_outputs(job: BlenderJob, takes, staging: Path) -> list[Path]:
    """Key ``takes`` on the job's target and write the requested Blender formats into ``staging``.

    takes: ``runtime.generate.Takes`` (weights (N, T, 55) at takes.fps). Returns the written paths.
    Blender's console output goes to stderr. Calls ``prepare`` first if it has not run.
    """
    if job.face is None:
        prepare(job)
    with stdout_to_stderr():
        return _write_outputs(job, takes, staging)


def _write_outputs(job: BlenderJob, takes, staging: Path) -> list[Path]:
    bpy = import_bpy()
    face = job.face
    scene = bpy.context.scene
    if job.fps is not None or job.target == "demo" or not job.target.lower().endswith(".blend"):
        set_scene_fps(scene, job.fps or 30.0)
    fps = scene_fps(scene)
    start = int(scene.frame_start)
    if job.formats == {"glb"} and takes.duration > STREAM_SECONDS:
        release_memory()  # what generation and the other formats freed
        return [_write_glb_streamed(job, takes, staging, start, fps)]
    if job.audio is not None:
        wav = staging / f".{job.name}_speech.wav"  # temporary: the sound is packed into the .blend
        write_wav(wav, *job.audio)
        add_sound(scene, wav, start, name=f"{Path(job.audio_name or job.name + '_speech').stem}.wav")
    actions = write_takes(face, takes, start, fps, shaping=job.shaping)
    n_scene = int(round(takes.duration * fps))
    scene.frame_end = max(scene.frame_end if job.target.lower().endswith(".blend") else start,
                          start + n_scene - 1)
    extra = [part.mesh for part in detect_rig(face).extra]  # teeth, tongue... keyed with the face
    out: list[Path] = []
    if "blend" in job.formats:
        out.append(staging / f"{job.name}.blend")
        bpy.ops.wm.save_as_mainfile(filepath=str(out[-1]), compress=True, relative_remap=False)
    if "fbx" in job.formats:
        for k, act in enumerate(actions):
            out.append(staging / f"{job.name}_take_{k + 1}.fbx")
            export.export_fbx_take(out[-1], face, act, extra=extra)
    if "glb" in job.formats:
        # This session is thrown away (the .blend is already saved): drop animations that came with the
        # target so the glTF holds exactly the new takes.
        for mesh in (face, *extra):
            export.remove_other_tracks(mesh, actions)
        out.append(staging / f"{job.name}.glb")
        export.export_glb(out[-1], face, actions, extra=extra)
    return out


def release_memory() -> None:
    """Hand freed heap memory back to the system (glibc ``malloc_trim``; a no-op elsewhere). Blender's freed
    keyframe arrays and Python's freed objects otherwise stay in the process's heap, and the next take's
    keys or the file's samples would come on top of them."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        if libc is not None and hasattr(libc, "malloc_trim"):
            libc.malloc_trim(0)
    except OSError:
        pass


def _write_glb_streamed(job: BlenderJob, takes, staging: Path, start: int, fps: float) -> Path:
    """The glTF of long takes, one take in Blender at a time: key the take, export it coarsely (one sample a
    second) for the scene and a check, compute its full-rate samples from the keys (``export.take_channels``),
    delete it; then put every take's samples into the last coarse file and compact it.
    Peak memory: one take's keys in Blender plus every take's samples as float32."""
    import dataclasses

    from thunder_blender.blender.takes import TRACK_PREFIX
    from thunder_blender.core import gltf_animation, gltf_compact

    from . import INTERRUPT

    face = job.face
    extra = [part.mesh for part in detect_rig(face).extra]
    base: tuple[dict, bytes] | None = None
    animations = []
    for k in range(takes.weights.shape[0]):
        if INTERRUPT.is_set():
            raise KeyboardInterrupt
        one = dataclasses.replace(takes, weights=takes.weights[k:k + 1], seeds=tuple(takes.seeds[k:k + 1]))
        (act,) = write_takes(face, one, start, fps, shaping=job.shaping, names=[f"{face.name}_take{k + 1}"])
        for mesh in (face, *extra):
            export.remove_other_tracks(mesh, [act])
        coarse = staging / f".{job.name}_take{k + 1}.coarse.glb"
        try:
            export.export_glb(coarse, face, [act], extra=extra, compact=False, frame_step=max(1, round(fps)))
            doc, blob = gltf_compact.read_glb(coarse.read_bytes())
        finally:
            coarse.unlink(missing_ok=True)
        try:
            animations.append((f"{TRACK_PREFIX}{k + 1}", export.take_channels(doc, blob, act, fps)))
        except export.StreamError as err:
            raise TargetError(f"{Path(job.target).name}: {err}; write glb for at most "
                              f"{STREAM_SECONDS / 60:g} minutes of audio with this target") from None
        # Free this take's keys now; the emptied action stays (with its rest record) until the next take
        # replaces it, so every take is keyed relative to the same rest pose.
        for bag in export.channelbags(act):
            for fc in list(bag.fcurves):
                bag.fcurves.remove(fc)
        release_memory()
        if base is not None and [n.get("name") for n in doc["nodes"]] != [n.get("name") for n in base[0]["nodes"]]:
            raise RuntimeError("the coarse glTF exports of two takes have different nodes")
        # The last take's file is the base: its rest pose is what Blender's exporter writes with every take on
        # the NLA (the top track holds at frame 0).
        base = (doc, blob)
    doc, blob = base
    blob = gltf_animation.replace_animations(doc, blob, animations)
    del animations
    doc, blob, _ = gltf_compact.compact(doc, blob)
    path = staging / f"{job.name}.glb"
    path.write_bytes(gltf_compact.write_glb(doc, blob))
    return path
