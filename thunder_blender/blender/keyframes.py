"""Write generated takes as keyframes, and manage them (preview, keep, replace, clear).

Public API (used by the add-on's operators and by the command line, ``blender/headless.py``)::

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

Each take is ONE Action. With slotted actions (Blender 4.4+) it has a ``KEY`` slot for the shape keys and,
when head motion (or a FLAME jaw) is written, an ``OBJECT`` slot for the object or armature that receives
rotation; both IDs get the action with their slot set explicitly. Keys are written in bulk
(``keyframe_points.add`` + ``foreach_set``), linear interpolation, one key per scene frame. Every take also
sits on its own muted NLA track named ``"THUNDER take <k>"`` on each ID it animates. The seed and the
generation settings are stored on the action (``thunder_seed`` as a decimal string, ``thunder_take``, ``thunder_settings``
JSON) so a take can be re-rolled.

Writing takes replaces the previous takes of the same target (never duplicates them). A take that was
kept (``keep_take``) is not deleted by a later generation: it moves to a muted ``"THUNDER kept ..."`` track.
An action the user had assigned before the first generation is moved to a muted ``"pre-THUNDER ..."`` track.
If the rotation target already has its own (non-THUNDER) action, head rotation is skipped, not overwritten.
"""
from __future__ import annotations

import json

import bpy
import numpy as np

from ..core.resample import n_output_frames, resample
from ..core.rig_names import ShapeKeyMapping
from .rig import RigTarget, detect_rig

PROP_SEED = "thunder_seed"
PROP_TAKE = "thunder_take"
PROP_SETTINGS = "thunder_settings"
PROP_KEPT = "thunder_kept"
TRACK_PREFIX = "THUNDER take "
KEPT_PREFIX = "THUNDER kept "
PRE_PREFIX = "pre-THUNDER "
_N_ARKIT = 52
_LINEAR = 1  # index of 'LINEAR' in the keyframe interpolation enum (foreach_set takes enum indices)


def slotted_actions() -> bool:
    """True on Blender 4.4+ (layered actions with slots)."""
    return "slots" in bpy.types.Action.bl_rna.properties


def is_take(action) -> bool:
    return action is not None and PROP_SEED in action and PROP_TAKE in action


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


def _quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product of (4,) or (T, 4) quaternions."""
    a, b = np.broadcast_arrays(np.atleast_2d(a), np.atleast_2d(b))
    aw, ax, ay, az = a.T
    bw, bx, by, bz = b.T
    return np.stack([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw], axis=1)


# -- curves ---------------------------------------------------------------------------------------------
class _Writer:
    """F-curve factory for one take's action: a channelbag per slot (4.4+) or the legacy action."""

    def __init__(self, action: bpy.types.Action) -> None:
        self.action = action
        self.slots: dict[str, object] = {}
        self._bags: dict[str, object] = {}
        self._strip = action.layers.new("Layer").strips.new(type="KEYFRAME") if slotted_actions() else None

    def curve(self, idb, path: str, index: int, frames: np.ndarray, values: np.ndarray, group: str) -> None:
        if self._strip is not None:
            key = idb.id_type
            if key not in self._bags:
                slot = self.action.slots.new(id_type=idb.id_type, name=idb.name)
                self.slots[key] = slot
                self._bags[key] = self._strip.channelbag(slot, ensure=True)
            fc = self._bags[key].fcurves.new(path, index=index)
        else:  # Blender 4.2 / 4.3: legacy action, one ID type per action (untested here)
            fc = self.action.fcurves.new(path, index=index, action_group=group)
        n = frames.shape[0]
        fc.keyframe_points.add(n)
        co = np.empty(2 * n, dtype=np.float32)
        co[0::2] = frames
        co[1::2] = values
        fc.keyframe_points.foreach_set("co", co)
        fc.keyframe_points.foreach_set("interpolation", np.full(n, _LINEAR, dtype=np.int32))
        fc.update()


def _own_action(idb) -> bool:
    """True when ``idb`` already plays a user action that THUNDER must not overwrite."""
    ad = idb.animation_data
    return ad is not None and ad.action is not None and not is_take(ad.action)


def _write_rotation(w: _Writer, rig: RigTarget, perf: np.ndarray, frames: np.ndarray, head: bool) -> list[str]:
    """Head rotation (object or head/neck bone) and FLAME jaw bone keys. Returns notes."""
    notes: list[str] = []
    if not slotted_actions():
        return ["head and jaw rotation need Blender 4.4+ (slotted actions)"]
    target = rig.head_target
    if _own_action(target):
        return [f"rotation skipped: '{target.name}' already has its own action"]
    if rig.jaw_bone and rig.flame is not None:
        fm = rig.flame
        jaw_open = perf[:, 17] * fm.jaw_open_radians  # jawOpen
        lateral = (perf[:, 15] - perf[:, 16]) * fm.jaw_lateral_radians  # jawLeft - jawRight
        _bone_rotation(w, target, rig.jaw_bone, np.stack([jaw_open, np.zeros_like(jaw_open), lateral], 1), frames)
    if head:
        yaw, pitch, roll = perf[:, 52], perf[:, 53], perf[:, 54]
        if rig.head_bone and rig.armature is not None:
            # Bone space: Y along the bone (up the neck), X sideways, Z forward.
            _bone_rotation(w, target, rig.head_bone, np.stack([pitch, yaw, roll], 1), frames)
        else:
            _object_rotation(w, target, np.stack([pitch, roll, yaw], 1), frames)  # world Z up, -Y front
    return notes


def _bone_rotation(w: _Writer, arm, bone: str, euler: np.ndarray, frames: np.ndarray) -> None:
    pb = arm.pose.bones[bone]
    path = f'pose.bones["{bpy.utils.escape_identifier(bone)}"]'
    if pb.rotation_mode == "QUATERNION":
        q = _quat_mul(np.array(pb.rotation_quaternion[:], dtype=np.float64), _quat_from_euler_xyz(euler))
        for i in range(4):
            w.curve(arm, path + ".rotation_quaternion", i, frames, q[:, i], bone)
    elif pb.rotation_mode == "AXIS_ANGLE":
        raise ValueError(f"bone '{bone}' uses axis-angle rotation; switch it to quaternion or Euler")
    else:
        base = np.array(pb.rotation_euler[:], dtype=np.float64)
        for i in range(3):
            w.curve(arm, path + ".rotation_euler", i, frames, base[i] + euler[:, i], bone)


def _object_rotation(w: _Writer, obj, euler: np.ndarray, frames: np.ndarray) -> None:
    if obj.rotation_mode == "QUATERNION":
        q = _quat_mul(np.array(obj.rotation_quaternion[:], dtype=np.float64), _quat_from_euler_xyz(euler))
        for i in range(4):
            w.curve(obj, "rotation_quaternion", i, frames, q[:, i], "Head")
    elif obj.rotation_mode == "AXIS_ANGLE":
        raise ValueError(f"'{obj.name}' uses axis-angle rotation; switch it to quaternion or Euler")
    else:
        base = np.array(obj.rotation_euler[:], dtype=np.float64)
        for i in range(3):
            w.curve(obj, "rotation_euler", i, frames, base[i] + euler[:, i], "Head")


# -- takes ----------------------------------------------------------------------------------------------
def _anim_ids(rig: RigTarget) -> list:
    """IDs that may hold take tracks: the shape keys and the rotation target."""
    ids = [rig.key]
    if rig.head_target is not None and rig.head_target not in ids:
        ids.append(rig.head_target)
    return ids


def find_takes(rig: RigTarget) -> list[bpy.types.Action]:
    """The target's current takes, in take order (from its ``THUNDER take`` tracks and active action)."""
    found: dict[str, bpy.types.Action] = {}
    for idb in _anim_ids(rig):
        ad = idb.animation_data
        if ad is None:
            continue
        for tr in ad.nla_tracks:
            if tr.name.startswith(TRACK_PREFIX):
                for st in tr.strips:
                    if is_take(st.action):
                        found[st.action.name] = st.action
        if is_take(ad.action):
            found[ad.action.name] = ad.action
    return sorted(found.values(), key=lambda a: (int(a[PROP_TAKE]), a.name))


def _slot_for(action, idb):
    if not slotted_actions():
        return None
    return next((s for s in action.slots if s.target_id_type == idb.id_type), None)


def _assign(idb, action) -> None:
    """Make ``action`` (or None) the active action of ``idb`` with its slot set explicitly."""
    ad = idb.animation_data
    if action is None:
        if ad is not None and is_take(ad.action):
            ad.action = None
        return
    slot = _slot_for(action, idb)
    if slotted_actions() and slot is None:
        _assign(idb, None)
        return
    if ad is None:
        ad = idb.animation_data_create()
    ad.action = action
    if slot is not None:
        ad.action_slot = slot


def set_active_take(rig: RigTarget, action: bpy.types.Action) -> None:
    """Preview a take: it becomes the active action of every ID it animates."""
    for idb in _anim_ids(rig):
        if _own_action(idb):
            continue
        _assign(idb, action)


def _add_track(idb, name: str, action) -> None:
    ad = idb.animation_data or idb.animation_data_create()
    tr = ad.nla_tracks.new()
    tr.name = name
    start = float(action.frame_range[0])
    st = tr.strips.new(name, int(round(start)), action)
    slot = _slot_for(action, idb)
    if slot is not None:
        st.action_slot = slot
    tr.mute = True


def _remove_tracks(idb, actions: set[str]) -> None:
    ad = idb.animation_data
    if ad is None:
        return
    for tr in list(ad.nla_tracks):
        if tr.name.startswith(TRACK_PREFIX) and any(st.action and st.action.name in actions for st in tr.strips):
            ad.nla_tracks.remove(tr)
    if ad.action is not None and ad.action.name in actions:
        ad.action = None


def remove_takes(rig: RigTarget, keep: bpy.types.Action | None = None, delete_kept: bool = False) -> None:
    """Delete the target's takes except ``keep``. Takes kept earlier (``keep_take``) become plain actions on
    a muted ``THUNDER kept`` track instead, unless ``delete_kept``."""
    takes = find_takes(rig)
    doomed = {a.name for a in takes if a is not keep}
    kept = [a for a in takes if a is not keep and a.get(PROP_KEPT) and not delete_kept]
    doomed -= {a.name for a in kept}
    for idb in _anim_ids(rig):
        _remove_tracks(idb, doomed | {a.name for a in kept})
        for a in kept:
            if _slot_for(a, idb) is not None or not slotted_actions():
                _add_track(idb, KEPT_PREFIX + a.name, a)
    for a in kept:
        del a[PROP_TAKE]
    for a in takes:
        if a.name in doomed:
            bpy.data.actions.remove(a)
    _sync_list(rig)


def keep_take(rig: RigTarget, action: bpy.types.Action) -> None:
    """Keep one take: the others are removed; this one stays active and survives later generations."""
    remove_takes(rig, keep=action)
    action[PROP_KEPT] = True
    set_active_take(rig, action)
    _sync_list(rig)


def _sync_list(rig: RigTarget, active: int | None = None) -> None:
    """Mirror the takes into the object's UI list (only when the add-on's properties are registered)."""
    props = getattr(rig.obj, "thunder", None)
    if props is None:
        return
    takes = find_takes(rig)
    props.takes.clear()
    for a in takes:
        props.takes.add().action = a
    if active is not None:
        props["active_take"] = active  # no update callback: the caller already assigned the action
    elif props.active_take >= len(takes):
        props["active_take"] = max(0, len(takes) - 1)


def _push_user_action(idb) -> None:
    """Move a user's own active action onto a muted track, so assigning takes never loses it."""
    ad = idb.animation_data
    if ad is None or ad.action is None or is_take(ad.action):
        return
    act = ad.action
    tr = ad.nla_tracks.new()
    tr.name = PRE_PREFIX + act.name
    st = tr.strips.new(act.name, int(round(act.frame_range[0])), act)
    if slotted_actions() and ad.action_slot is not None:
        st.action_slot = ad.action_slot
    tr.mute = True
    ad.action = None


def check_writable(rig: RigTarget, head_motion: bool) -> None:
    """Raise ValueError (one line) for rotation setups the writer cannot key, before anything changes."""
    if not (head_motion or rig.jaw_bone) or _own_action(rig.head_target):
        return
    target = rig.head_target
    bones = [b for b in (rig.jaw_bone, rig.head_bone if head_motion else None) if b and rig.armature is not None]
    if head_motion and not rig.head_bone and target.rotation_mode == "AXIS_ANGLE":
        raise ValueError(f"'{target.name}' uses axis-angle rotation; switch it to quaternion or Euler")
    for b in bones:
        if rig.armature.pose.bones[b].rotation_mode == "AXIS_ANGLE":
            raise ValueError(f"bone '{b}' uses axis-angle rotation; switch it to quaternion or Euler")


def build_take_action(rig: RigTarget, perf: np.ndarray, start_frame: int, name: str,
                      head_motion: bool = True) -> tuple[bpy.types.Action, list[str]]:
    """One take's Action from a scene-rate performance ``perf`` (M, 55). Returns (action, notes)."""
    m = perf.shape[0]
    frames = start_frame + np.arange(m, dtype=np.float32)
    values = rig.mapping.evaluate(perf)  # (M, K)
    act = bpy.data.actions.new(name)
    w = _Writer(act)
    key = rig.key
    for i, kname in enumerate(rig.mapping.targets):
        path = f'key_blocks["{bpy.utils.escape_identifier(kname)}"].value'
        w.curve(key, path, 0, frames, values[:, i], "Shape Keys")
    notes = []
    if head_motion or (rig.jaw_bone and rig.flame is not None):
        notes = _write_rotation(w, rig, perf, frames, head_motion)
    return act, notes


def write_takes(obj, takes, start_frame: int, scene_fps: float, mapping=None, names=None, *,
                n_frames: int | None = None, active: int = 0, head_motion: bool | None = None,
                settings: dict | None = None) -> list[bpy.types.Action]:
    """Key every take on ``obj``; see the module docstring. Raises ``RigError``/``ValueError`` on bad input
    before anything is changed."""
    rig = mapping if isinstance(mapping, RigTarget) else detect_rig(obj)
    if isinstance(mapping, ShapeKeyMapping):
        rig.mapping = mapping
    weights = np.asarray(takes.weights, dtype=np.float32)
    if weights.ndim != 3 or weights.shape[2] < 55 or weights.shape[1] == 0:
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
    check_writable(rig, head_motion)
    remove_takes(rig)
    _push_user_action(rig.key)
    actions = []
    for k in range(n_takes):
        perf = resample(weights[k, :, :55], takes.fps, scene_fps, m)
        name = names[k] if names is not None else f"{rig.obj.name}_take{k + 1}"
        act, notes = build_take_action(rig, perf, int(start_frame), name, head_motion)
        seed = int(takes.seeds[k]) if k < len(takes.seeds) else 0
        act[PROP_SEED] = str(seed)  # seeds can exceed 32 bits (ID properties are C ints)
        act[PROP_TAKE] = k
        act[PROP_SETTINGS] = json.dumps({**base, "seed": seed, "take": k, "notes": notes})
        act.use_fake_user = False
        actions.append(act)
    for k, act in enumerate(actions):
        for idb in _anim_ids(rig):
            if _slot_for(act, idb) is not None or (not slotted_actions() and idb is rig.key):
                _add_track(idb, f"{TRACK_PREFIX}{k + 1}", act)
    active = min(max(int(active), 0), n_takes - 1)
    set_active_take(rig, actions[active])
    _sync_list(rig, active)
    return actions


def replace_take(rig: RigTarget, old: bpy.types.Action, perf_src: np.ndarray, src_fps: float,
                 seed: int, settings: dict) -> bpy.types.Action:
    """Re-roll: swap take ``old`` for a new performance ``perf_src`` (T, 55) at ``src_fps``.

    Keeps its take index, frame range and track position; returns the new action (now active)."""
    k = int(old[PROP_TAKE])
    info = json.loads(old.get(PROP_SETTINGS, "{}"))
    start, m, fps = int(info["start_frame"]), int(info["n_frames"]), float(info["scene_fps"])
    perf = resample(perf_src[:, :55], src_fps, fps, m)
    check_writable(rig, bool(settings.get("head_motion", True)))
    name = old.name
    act, notes = build_take_action(rig, perf, start, name + "_reroll", bool(settings.get("head_motion", True)))
    info.update(settings, seed=int(seed), take=k, notes=notes)
    act[PROP_SEED] = str(int(seed))
    act[PROP_TAKE] = k
    act[PROP_SETTINGS] = json.dumps(info)
    for idb in _anim_ids(rig):
        ad = idb.animation_data
        if ad is None:
            continue
        for tr in ad.nla_tracks:
            for st in tr.strips:
                if st.action is old:
                    st.action = act
                    slot = _slot_for(act, idb)
                    if slot is not None:
                        st.action_slot = slot
    bpy.data.actions.remove(old)
    act.name = name
    set_active_take(rig, act)
    _sync_list(rig, k)
    return act
