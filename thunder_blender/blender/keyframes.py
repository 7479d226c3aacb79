"""Write generated takes as keyframes (take management is in ``blender.takes`` and re-exported here).

Public API (used by the add-on's operators and by the command line, ``thunder_cli/headless.py``)::

    from thunder_blender.blender.keyframes import write_takes
    actions = write_takes(obj, takes, start_frame=37, scene_fps=24.0)   # -> list[bpy.types.Action]

* ``obj``: the face mesh (or its armature). The rig is detected with ``blender.rig.detect_rig`` unless
  ``mapping`` is given (a ``RigTarget``, or a ``core.rig_names.ShapeKeyMapping`` to override the
  shape-key part only).
* ``takes``: ``runtime.generate.Takes`` (weights (N, T, 55) at ``takes.fps``). Each take is resampled to
  ``scene_fps`` with the closure-preserving ``core.resample.resample`` and keyed on frames
  ``start_frame .. start_frame + M - 1`` (``M = n_frames`` or the take's duration at ``scene_fps``).
* ``names``: action names (default ``"<object>_take<k>"``).
* Returns one Action per take, in take order; take ``active`` (default 0) is left assigned.

Each take is ONE Action. With slotted actions (Blender 4.4+) it has a ``KEY`` slot for each driven mesh's
shape keys (named after the shape-key datablock: a character's head, teeth and tongue are keyed together) and,
when head motion (or a FLAME jaw) is written, an ``OBJECT`` slot for the object or armature that receives
rotation; every ID gets the action with its slot set explicitly. Rotation is written relative to the rest
pose recorded before the first take (``takes.stored_rest``), never the current frame's pose. Keys are written in bulk
(``keyframe_points.add`` + ``foreach_set``), linear interpolation, one key per scene frame. Every take also
sits on its own muted NLA track named ``"THUNDER take <k>"`` on each ID it animates. The seed and the
generation settings are stored on the action (``thunder_seed`` as a decimal string, ``thunder_take``, ``thunder_settings``
JSON) so a take can be re-rolled.

Write-time controls (``core.shaping.Shaping``: strength per region, mouth-only, smoothing, offset, key
reduction) are applied to each take after resampling, and stored in ``thunder_settings["shaping"]`` so a
re-roll (``replace_take``) writes the new take the same way. With key reduction, each curve keeps the fewest
linear keys within the tolerance (``core.keyreduce``); frames with sealed lips (``core.closures``) stay keyed on
every curve the lip seal drives. An offset moves the keys off the take's frames; the action's manual frame
range stays on the take's frames, so NLA strips and exports keep audio time 0.

Writing takes replaces the previous takes of the same target (never duplicates them). A take that was
kept (``keep_take``) is not deleted by a later generation: it moves to a muted ``"THUNDER kept ..."`` track.
An action the user had assigned before the first generation is moved to a muted ``"pre-THUNDER ..."`` track.
If the rotation target already has its own (non-THUNDER) action, head rotation is skipped, not overwritten.
"""
from __future__ import annotations

import json

import bpy
import numpy as np

from ..core.channels import HEAD_CHANNELS, INDEX, N_CHANNELS
from ..core.closures import SEAL_CHANNELS, sealed_frames
from ..core.flame import joint_rotations, pose_correctives
from ..core.keyreduce import reduce_keys
from ..core.resample import n_output_frames, resample
from ..core.rig_names import ShapeKeyMapping, flame_pose_keys
from ..core.shaping import Shaping
from ..core.visemes import SpeechCues
from .rig import RigTarget, detect_rig, ensure_writable
from .takes import (  # noqa: F401 - re-exported: the take API is also reachable from here
    PROP_KEPT,
    PROP_REST,
    PROP_SEED,
    PROP_SETTINGS,
    PROP_TAKE,
    TRACK_PREFIX,
    add_track,
    anim_ids,
    anim_targets,
    capture_rest,
    clear_takes,
    find_takes,
    is_take,
    keep_take,
    own_action,
    push_user_action,
    remove_takes,
    rest_transform,
    retarget_tracks,
    set_active_take,
    slot_for,
    stored_rest,
    sync_list,
)

_N_ARKIT = 52
_LINEAR = 1  # index of 'LINEAR' in the keyframe interpolation enum (foreach_set takes enum indices)


# -- quaternion helpers (numpy, w x y z) ----------------------------------------------------------------
def _quat_from_euler_xyz(e: np.ndarray) -> np.ndarray:
    """(T, 3) XYZ Euler (radians, Blender order: X then Y then Z) -> (T, 4) quaternions."""
    hx, hy, hz = (0.5 * e[:, i] for i in range(3))
    cx, sx, cy, sy, cz, sz = np.cos(hx), np.sin(hx), np.cos(hy), np.sin(hy), np.cos(hz), np.sin(hz)
    return np.stack([
        cz * cy * cx + sz * sy * sx,
        cz * cy * sx - sz * sy * cx,
        cz * sy * cx + sz * cy * sx,
        sz * cy * cx - cz * sy * sx,
    ], axis=1)


def _quat_from_axis_angle(aa) -> np.ndarray:
    """Blender axis-angle (angle, x, y, z) -> (4,) quaternion (w x y z)."""
    angle, axis = float(aa[0]), np.asarray(aa[1:4], dtype=np.float64)
    norm = np.linalg.norm(axis)
    if norm < 1e-12:
        return np.array([1.0, 0.0, 0.0, 0.0])
    return np.concatenate([[np.cos(angle / 2)], np.sin(angle / 2) * axis / norm])


def _axis_angle_from_quat(q: np.ndarray) -> np.ndarray:
    """(T, 4) quaternions -> (T, 4) Blender axis-angle (angle, x, y, z). Where the angle is ~0 the axis of the
    previous frame is kept (Blender's default Y axis at the start), so the curves do not jump."""
    q = np.where(q[:, :1] < 0, -q, q)
    s = np.linalg.norm(q[:, 1:], axis=1)
    angle = 2.0 * np.arctan2(s, q[:, 0])
    out = np.zeros((q.shape[0], 4))
    out[:, 0] = angle
    axis = np.array([0.0, 1.0, 0.0])
    for i in range(q.shape[0]):
        if s[i] > 1e-9:
            axis = q[i, 1:] / s[i]
        out[i, 1:] = axis
    return out


def _quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product of (4,) or (T, 4) quaternions."""
    a, b = np.broadcast_arrays(np.atleast_2d(a), np.atleast_2d(b))
    aw, ax, ay, az = a.T
    bw, bx, by, bz = b.T
    return np.stack([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw], axis=1)


# -- curves ---------------------------------------------------------------------------------------------
class _Writer:
    """F-curve factory for one take's action: one layer, one keyframe strip, a channelbag per slot."""

    def __init__(self, action: bpy.types.Action, tol: float = 0.0, sealed: np.ndarray | None = None,
                 closure_groups: frozenset[str] = frozenset()) -> None:
        self.action = action
        self.slots: dict[str, object] = {}
        self._bags: dict[str, object] = {}
        self._groups: dict[tuple, object] = {}
        self._strip = action.layers.new("Layer").strips.new(type="KEYFRAME")
        # key reduction: curves are collected and reduced together in flush_all (all curves share the frames)
        self.tol, self.sealed, self.closure_groups = float(tol), sealed, closure_groups
        self._pending: list[tuple] = []

    def curve(self, idb, path: str, index: int, frames: np.ndarray, values: np.ndarray, group: str,
              slot_name: str | None = None, closure: bool = False) -> None:
        """Key one curve; with key reduction on, it is written by ``flush_all``. ``closure``: keep sealed
        frames keyed on it."""
        if self.tol > 0:
            self._pending.append((idb, path, index, frames, values, group, slot_name,
                                  closure or group in self.closure_groups))
            return
        self._write(idb, path, index, frames, values, group, slot_name)

    def flush(self) -> None:
        """Reduce and write the collected curves (no-op without key reduction)."""
        flush_all([self])

    def _write(self, idb, path: str, index: int, frames: np.ndarray, values: np.ndarray, group: str,
               slot_name: str | None = None) -> None:
        slot_name = slot_name or idb.name
        key = (idb.id_type, slot_name)
        if key not in self._bags:
            slot = self.action.slots.new(id_type=idb.id_type, name=slot_name)
            self.slots[key] = slot
            self._bags[key] = self._strip.channelbag(slot, ensure=True)
        bag = self._bags[key]
        fc = bag.fcurves.new(path, index=index)
        if group:  # the Graph Editor's channel groups ("Shape Keys", "Pose correctives", ...)
            if (key, group) not in self._groups:
                self._groups[(key, group)] = bag.groups.new(group)
            fc.group = self._groups[(key, group)]
        n = frames.shape[0]
        fc.keyframe_points.add(n)
        co = np.empty(2 * n, dtype=np.float32)
        co[0::2] = frames
        co[1::2] = values
        fc.keyframe_points.foreach_set("co", co)
        fc.keyframe_points.foreach_set("interpolation", np.full(n, _LINEAR, dtype=np.int32))
        fc.update()


def flush_all(writers: list[_Writer]) -> None:
    """Reduce the collected curves of several writers (takes of the same length) in one pass, and write them.

    One ``reduce_keys`` call over every curve of every take: the same keys as one call per take, with the
    per-frame work shared."""
    pending = [(w, p) for w in writers for p in w._pending]
    if not pending:
        return
    vals = np.stack([np.asarray(p[4], dtype=np.float64) for _, p in pending], axis=1)
    keep = np.zeros(vals.shape, dtype=bool)
    for j, (w, p) in enumerate(pending):
        if p[7] and w.sealed is not None:
            keep[:, j] = w.sealed
    mask = reduce_keys(vals, pending[0][0].tol, keep)
    for j, (w, (idb, path, index, frames, values, group, slot_name, _)) in enumerate(pending):
        m = mask[:, j]
        w._write(idb, path, index, frames[m], np.asarray(values)[m], group, slot_name)
    for w in writers:
        w._pending.clear()


def _write_rotation(w: _Writer, rig: RigTarget, perf: np.ndarray, frames: np.ndarray, head: bool,
                    rest: dict) -> list[str]:
    """Head rotation (object or head/neck bone) and FLAME jaw bone keys. Returns notes."""
    notes: list[str] = []
    target = rig.head_target
    if own_action(target):
        return [f"rotation skipped: '{target.name}' already has its own action"]
    if rig.jaw_bone and rig.flame is not None:
        rot = flame_rotations(rig, perf, head)
        # Bone space of a bone pointing forward (jaw, eyes): X sideways (pitch), Z up (turn left/right).
        for joint, bone in (("jaw", rig.jaw_bone), *zip(("left_eye", "right_eye"), rig.eye_bones or (), strict=False)):
            if rig.rotation_gain(f"bone {bone}") == 0.0:
                continue  # switched off in the mapping list: left alone
            r = rot[joint]
            _bone_rotation(w, target, bone, np.stack([r[:, 0], np.zeros_like(r[:, 0]), r[:, 1]], 1), frames, rest)
    if head and rig.rotation_gain(rig.head_row()) != 0.0:
        gain = rig.rotation_gain(rig.head_row())
        yaw, pitch, roll = (perf[:, INDEX[h]] * gain for h in HEAD_CHANNELS)
        if rig.head_bone and rig.armature is not None:
            # Bone space: Y along the bone (up the neck), X sideways, Z forward.
            _bone_rotation(w, target, rig.head_bone, np.stack([pitch, yaw, roll], 1), frames, rest)
        else:
            _object_rotation(w, target, np.stack([pitch, roll, yaw], 1), frames, rest)  # world Z up, -Y front
    return notes


def flame_rotations(rig: RigTarget, perf: np.ndarray, head: bool) -> dict[str, np.ndarray]:
    """FLAME joint rotations (``core.flame.joint_rotations``) with the mapping list's gains and toggles of the
    neck (head), jaw and eye rows applied: what the bones are keyed with and the correctives follow."""
    fm = rig.flame
    rot = joint_rotations(perf, fm.jaw_open_radians, fm.jaw_lateral_radians, fm.look_radians, head)
    rows = {"neck": rig.head_row(), "jaw": f"bone {rig.jaw_bone}"}
    rows.update(zip(("left_eye", "right_eye"), (f"bone {b}" for b in rig.eye_bones or ()), strict=False))
    return {j: r * rig.rotation_gain(rows[j]) if j in rows else r for j, r in rot.items()}


def _rest_rotation(t, rec: dict | None) -> tuple[np.ndarray, np.ndarray]:
    """(quaternion, Euler) rest rotation: the recorded one, else the current value (first take). In
    AXIS_ANGLE mode the quaternion is the rest axis-angle's."""
    if rec is not None:
        q, e = np.array(rec["quat"], dtype=np.float64), np.array(rec["euler"], dtype=np.float64)
        if rec.get("mode") == "AXIS_ANGLE" and "aa" in rec:
            q = _quat_from_axis_angle(rec["aa"])
        return q, e
    q = np.array(t.rotation_quaternion[:], dtype=np.float64)
    if t.rotation_mode == "AXIS_ANGLE":
        q = _quat_from_axis_angle(t.rotation_axis_angle[:])
    return q, np.array(t.rotation_euler[:], dtype=np.float64)


def _keyed_rotation(w: _Writer, idb, t, path: str, euler: np.ndarray, frames: np.ndarray, rec: dict | None,
                    group: str) -> None:
    """Key ``euler`` (T, 3) on top of the rest rotation, in the rotation mode ``t`` (object or pose bone) uses."""
    rq, re = _rest_rotation(t, rec)
    if t.rotation_mode in ("QUATERNION", "AXIS_ANGLE"):
        q = _quat_mul(rq, _quat_from_euler_xyz(euler))
        if t.rotation_mode == "AXIS_ANGLE":
            aa = _axis_angle_from_quat(q)
            for i in range(4):
                w.curve(idb, path + "rotation_axis_angle", i, frames, aa[:, i], group)
        else:
            for i in range(4):
                w.curve(idb, path + "rotation_quaternion", i, frames, q[:, i], group)
    else:
        for i in range(3):
            w.curve(idb, path + "rotation_euler", i, frames, re[i] + euler[:, i], group)


def _bone_rotation(w: _Writer, arm, bone: str, euler: np.ndarray, frames: np.ndarray, rest: dict) -> None:
    pb = arm.pose.bones[bone]
    path = f'pose.bones["{bpy.utils.escape_identifier(bone)}"].'
    _keyed_rotation(w, arm, pb, path, euler, frames, rest_transform(rest, arm, bone), bone)


def _object_rotation(w: _Writer, obj, euler: np.ndarray, frames: np.ndarray, rest: dict) -> None:
    _keyed_rotation(w, obj, obj, "", euler, frames, rest_transform(rest, obj), "Head")


def check_writable(rig: RigTarget, head_motion: bool) -> None:
    """Raise ValueError (one line) for rotation setups the writer cannot key, before anything changes.
    (Every rotation mode can be keyed: Euler, quaternion and axis-angle are written in their own mode.)"""
    if not (head_motion or rig.jaw_bone) or own_action(rig.head_target):
        return
    if rig.armature is not None:
        for b in (rig.jaw_bone, rig.head_bone if head_motion else None, *(rig.eye_bones or ())):
            if b and b not in rig.armature.pose.bones:
                raise ValueError(f"bone '{b}' is missing from '{rig.armature.name}'")


def _closure_targets(mapping: ShapeKeyMapping) -> np.ndarray:
    """(K,) bool: shape keys driven by a channel of the lip seal (or by a viseme, which the mouth drives)."""
    mat = np.asarray(mapping.matrix)
    return (mat[:, list(SEAL_CHANNELS)] != 0).any(axis=1) | (mat[:, _N_ARKIT:] != 0).any(axis=1)


def build_take_action(rig: RigTarget, perf: np.ndarray, start_frame: int, name: str,
                      head_motion: bool = True, rest: dict | None = None, shaping: Shaping | None = None,
                      scene_fps: float = 0.0, writers: list | None = None,
                      cues: SpeechCues | None = None) -> tuple[bpy.types.Action, list[str]]:
    """One take's Action from a scene-rate performance ``perf`` (M, 55): a KEY slot per driven mesh, plus
    rotation relative to ``rest`` (``takes.capture_rest``). Returns (action, notes).

    ``shaping`` (needs ``scene_fps``): strength and smoothing change the values, the offset moves every key by
    ``offset_ms`` (fractional frames), key reduction thins the keys. With key reduction and ``writers`` given,
    the curves are left pending on a writer appended to ``writers``, for one ``flush_all`` over all takes.
    ``cues``: the audio's ``SpeechCues`` at the same rate (drive viseme keys; None = visemes from the ARKit
    mouth)."""
    m = perf.shape[0]
    frames = start_frame + np.arange(m, dtype=np.float64)
    tol, sealed = 0.0, None
    if shaping is not None:
        perf = shaping.shape(perf, scene_fps)
        frames = frames + shaping.offset_frames(scene_fps)
        tol = shaping.tolerance()
        sealed = sealed_frames(perf) if tol > 0 else None
    rest = rest if rest is not None else stored_rest(rig)
    act = bpy.data.actions.new(name)
    w = _Writer(act, tol, sealed, frozenset({rig.jaw_bone}) if rig.jaw_bone else frozenset())
    notes = []
    parts = rig.parts
    correctives = None
    if rig.flame is not None:
        correctives = pose_correctives(flame_rotations(rig, perf, head_motion))  # (M, 36)
    for part in parts:
        values = part.mapping.evaluate(perf, cues)  # (M, K)
        closure = _closure_targets(part.mapping) if tol > 0 else np.zeros(len(part.mapping.targets), bool)
        for i, kname in enumerate(part.mapping.targets):
            path = f'key_blocks["{bpy.utils.escape_identifier(kname)}"].value'
            w.curve(part.key, path, 0, frames, values[:, i], "Shape Keys", slot_name=part.key.name,
                    closure=bool(closure[i]))
        if correctives is not None:
            widened = []
            for kname, col in flame_pose_keys([kb.name for kb in part.key.key_blocks]).items():
                kb = part.key.key_blocks[kname]
                if kb.slider_min > -1.0 or kb.slider_max < 1.0:  # R - I is signed: keep it from being clamped
                    kb.slider_min, kb.slider_max = min(kb.slider_min, -1.0), max(kb.slider_max, 1.0)
                    widened.append(kname)
                path = f'key_blocks["{bpy.utils.escape_identifier(kname)}"].value'
                w.curve(part.key, path, 0, frames, correctives[:, col], "Pose correctives", slot_name=part.key.name)
            if widened:
                notes.append(f"slider range of {len(widened)} Pose keys on '{part.mesh.name}' widened to -1..1 "
                             "(pose correctives are signed)")
    if head_motion or (rig.jaw_bone and rig.flame is not None):
        notes += _write_rotation(w, rig, perf, frames, head_motion, rest)
    if writers is not None and tol > 0:
        writers.append(w)
    else:
        w.flush()
    if shaping is not None and shaping.offset_ms:
        # Moved keys sit off the take's frames; its frame range stays the take's frames, so NLA strips and
        # exports (which start where the range starts) keep the audio's timing and carry the offset.
        act.use_frame_range = True
        act.frame_start, act.frame_end = float(start_frame), float(start_frame + max(m - 1, 1))
    return act, notes


def _stamp(act, seed: int, k: int, info: dict, rest: dict, kept: bool = False) -> None:
    act[PROP_SEED] = str(int(seed))  # seeds can exceed 32 bits (ID properties are C ints)
    act[PROP_TAKE] = k
    act[PROP_SETTINGS] = json.dumps(info)
    act[PROP_REST] = json.dumps(rest)
    if kept:
        act[PROP_KEPT] = True
    act.use_fake_user = False


def _add_tracks(rig: RigTarget, k: int, act) -> None:
    for idb, name in anim_targets(rig):
        if slot_for(act, idb, name) is not None:
            add_track(idb, f"{TRACK_PREFIX}{k + 1}", act, name)


def write_takes(obj, takes, start_frame: int, scene_fps: float, mapping=None, names=None, *,
                n_frames: int | None = None, active: int = 0, head_motion: bool | None = None,
                settings: dict | None = None, shaping: Shaping | None = None) -> list[bpy.types.Action]:
    """Key every take on ``obj``; see the module docstring. Raises ``RigError``/``ValueError`` on bad input
    before anything is changed. ``shaping`` defaults to ``settings["shaping"]`` (a ``Shaping.to_dict()``)."""
    rig = mapping if isinstance(mapping, RigTarget) else detect_rig(obj)
    if isinstance(mapping, ShapeKeyMapping):
        rig.mapping = mapping
    weights = np.asarray(takes.weights, dtype=np.float32)
    if weights.ndim != 3 or weights.shape[2] < N_CHANNELS or weights.shape[1] == 0:
        raise ValueError(f"takes.weights must be (N, T, 55), got {weights.shape}")
    n_takes, t_src = weights.shape[:2]
    if names is not None and len(names) != n_takes:
        raise ValueError(f"{len(names)} names for {n_takes} takes")
    m = int(n_frames) if n_frames else n_output_frames(t_src, takes.fps, scene_fps)
    base = dict(getattr(takes, "settings", {}) or {})
    base.update(settings or {})
    if head_motion is None:
        head_motion = bool(base.get("head_motion", True))
    base.setdefault("model_fps", float(takes.fps))
    base.update(start_frame=int(start_frame), n_frames=m, scene_fps=float(scene_fps))
    shaping = shaping if shaping is not None else Shaping.from_dict(base.get("shaping"))
    base["shaping"] = shaping.to_dict()
    check_writable(rig, head_motion)
    pre_notes = ensure_writable(rig)
    rest = stored_rest(rig)  # before anything of this generation is written
    remove_takes(rig)
    for part in rig.parts:
        push_user_action(part.key)
    actions = []
    writers: list[_Writer] = []  # with key reduction: every take's curves are reduced together below
    cues = scene_cues(getattr(takes, "cues", None), t_src, takes.fps, scene_fps, m)
    for k in range(n_takes):
        perf = resample(weights[k, :, :N_CHANNELS], takes.fps, scene_fps, m)
        name = names[k] if names is not None else f"{rig.obj.name}_take{k + 1}"
        act, notes = build_take_action(rig, perf, int(start_frame), name, head_motion, rest, shaping, scene_fps,
                                       writers, cues)
        seed = int(takes.seeds[k]) if k < len(takes.seeds) else 0
        _stamp(act, seed, k, {**base, "seed": seed, "take": k, "notes": pre_notes + notes,
                              "meshes": [p.mesh.name for p in rig.parts]}, rest)
        actions.append(act)
    flush_all(writers)
    for k, act in enumerate(actions):
        _add_tracks(rig, k, act)
    active = min(max(int(active), 0), n_takes - 1)
    set_active_take(rig, actions[active])
    sync_list(rig, active)
    return actions


def scene_cues(cues: SpeechCues | None, t_src: int, src_fps: float, scene_fps: float, m: int) -> SpeechCues | None:
    """The audio's cues (T frames at the model rate) -> m frames at the scene rate (None passes through)."""
    if cues is None:
        return None
    if len(cues) != t_src:
        raise ValueError(f"speech cues must cover the take's {t_src} frames, got {len(cues)}")
    return cues.resampled(src_fps, scene_fps, m)


def replace_take(rig: RigTarget, old: bpy.types.Action, perf_src: np.ndarray, src_fps: float,
                 seed: int, settings: dict, *, start_frame: int | None = None, n_frames: int | None = None,
                 scene_fps: float | None = None, cues: SpeechCues | None = None) -> bpy.types.Action:
    """Re-roll: swap take ``old`` for a new performance ``perf_src`` (T, 55) at ``src_fps``.

    The new take lands on ``start_frame .. start_frame + n_frames - 1`` at ``scene_fps`` (the sound strip's
    current range: a moved or trimmed strip moves the take; default: the old take's range). It keeps the
    take index, the kept flag, the rest record and the track positions; returns the new action (now active)."""
    k = int(old[PROP_TAKE])
    info = json.loads(old.get(PROP_SETTINGS, "{}"))
    start = int(start_frame if start_frame is not None else info["start_frame"])
    m = int(n_frames if n_frames is not None else info["n_frames"])
    fps = float(scene_fps if scene_fps is not None else info["scene_fps"])
    perf = resample(perf_src[:, :N_CHANNELS], src_fps, fps, m)
    head = bool(settings.get("head_motion", info.get("head_motion", True)))
    check_writable(rig, head)
    pre_notes = ensure_writable(rig)
    rest = json.loads(old[PROP_REST]) if PROP_REST in old else stored_rest(rig)
    rest = capture_rest(rig, only_missing=rest)
    name = old.name
    shaping = Shaping.from_dict(info.get("shaping"))  # the take's own controls: a re-roll keeps them
    act, notes = build_take_action(rig, perf, start, name + "_reroll", head, rest, shaping, fps,
                                   cues=scene_cues(cues, perf_src.shape[0], src_fps, fps, m))
    info.update(settings, seed=int(seed), take=k, notes=pre_notes + notes, start_frame=start, n_frames=m,
                scene_fps=fps, meshes=[p.mesh.name for p in rig.parts])
    _stamp(act, seed, k, info, rest, kept=bool(old.get(PROP_KEPT)))
    had_track = {idb.as_pointer() for idb, _ in anim_targets(rig) if idb.animation_data is not None and any(
        st.action is old for tr in idb.animation_data.nla_tracks for st in tr.strips)}
    retarget_tracks(rig, old, act)
    bpy.data.actions.remove(old)
    act.name = name
    for idb, sname in anim_targets(rig):  # a mesh checked since the take was made gets its track too
        if idb.as_pointer() not in had_track and slot_for(act, idb, sname) is not None:
            add_track(idb, f"{TRACK_PREFIX}{k + 1}", act, sname)
    set_active_take(rig, act)
    sync_list(rig, k)
    return act
