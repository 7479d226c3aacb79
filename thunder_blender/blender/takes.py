"""Takes of a character: find, preview, keep, clear, and mirror them into the add-on's UI list.

A take is ONE Action carrying ``thunder_seed`` (decimal string), ``thunder_take`` (index) and
``thunder_settings`` (JSON) custom properties. It has one ``KEY`` slot per driven mesh (named after that mesh's
shape-key datablock, Blender's own convention: exporters that assign the action rely on it) and, for head/jaw rotation, an ``OBJECT`` slot for the object or armature; it sits on a muted NLA
track ``"THUNDER take <k>"`` on every ID it animates. Keep, re-roll and clear act on the whole take.

The rest state. Before the first take is written, ``capture_rest`` records what THUNDER may change: the
driven shape-key values, the transforms of the rotated object and bones, and which NLA tracks the user had
and whether they were muted. The record is stored on every take (``thunder_rest`` JSON) and carried over to
later generations and re-rolls, so head and jaw rotation are always written relative to the pose the
character had before THUNDER touched it (never the pose of the current frame), and ``clear_takes`` puts
the character back exactly as it was. Keys are written by ``blender.keyframes``.
"""
from __future__ import annotations

import json

import bpy

from .rig import RigTarget

PROP_SEED = "thunder_seed"
PROP_TAKE = "thunder_take"
PROP_SETTINGS = "thunder_settings"
PROP_KEPT = "thunder_kept"
PROP_REST = "thunder_rest"
TRACK_PREFIX = "THUNDER take "
KEPT_PREFIX = "THUNDER kept "
PRE_PREFIX = "pre-THUNDER "


def is_take(action) -> bool:
    return action is not None and PROP_SEED in action and PROP_TAKE in action


def is_thunder(action) -> bool:
    """A take, or a take kept earlier (it keeps its seed after leaving the takes list)."""
    return action is not None and PROP_SEED in action


def own_action(idb) -> bool:
    """True when ``idb`` already plays a user action that THUNDER must not overwrite."""
    ad = idb.animation_data
    return ad is not None and ad.action is not None and not is_thunder(ad.action)


def _meshes(rig: RigTarget, everything: bool) -> list:
    out = [p.mesh for p in rig.parts]
    if everything:  # meshes unchecked in the panel may still hold tracks of earlier takes
        out += [m for m in rig.candidates if m not in out and m.data.shape_keys is not None]
    return out


def anim_targets(rig: RigTarget, everything: bool = False) -> list[tuple[object, str]]:
    """(ID, slot name) pairs that may hold take tracks: every driven mesh's shape keys (slot named after the
    shape-key datablock) and the rotation target; with ``everything``, also the meshes unchecked in the panel."""
    out = [(m.data.shape_keys, m.data.shape_keys.name) for m in _meshes(rig, everything)]
    ht = rig.head_target
    if ht is not None:
        out.append((ht, ht.name))
    return out


def anim_ids(rig: RigTarget, everything: bool = False) -> list:
    return [idb for idb, _ in anim_targets(rig, everything)]


def _id_key(idb, name: str) -> str:
    return f"{idb.id_type}:{name}"


def slot_for(action, idb, name: str | None = None):
    """The slot of ``action`` meant for ``idb`` (by ID type, then by slot name when there are several)."""
    if action is None:
        return None
    slots = [s for s in action.slots if s.target_id_type == idb.id_type]
    if len(slots) <= 1 or name is None:
        return slots[0] if len(slots) == 1 else None
    return next((s for s in slots if s.name_display == name), None)


def _tracks(rig: RigTarget, prefix: str):
    for idb in anim_ids(rig, everything=True):
        ad = idb.animation_data
        if ad is None:
            continue
        for tr in ad.nla_tracks:
            if tr.name.startswith(prefix):
                yield idb, tr


def find_takes(rig: RigTarget) -> list[bpy.types.Action]:
    """The character's current takes, in take order (from its ``THUNDER take`` tracks and active action)."""
    found: dict[str, bpy.types.Action] = {}
    for _idb, tr in _tracks(rig, TRACK_PREFIX):
        for st in tr.strips:
            if is_take(st.action):
                found[st.action.name] = st.action
    for idb in anim_ids(rig, everything=True):
        ad = idb.animation_data
        if ad is not None and is_take(ad.action):
            found[ad.action.name] = ad.action
    return sorted(found.values(), key=lambda a: (int(a[PROP_TAKE]), a.name))


def find_kept(rig: RigTarget) -> list[bpy.types.Action]:
    """Takes kept earlier that left the list for a muted ``THUNDER kept`` track."""
    found: dict[str, bpy.types.Action] = {}
    for _idb, tr in _tracks(rig, KEPT_PREFIX):
        for st in tr.strips:
            if st.action is not None:
                found[st.action.name] = st.action
    return list(found.values())


def _assign(idb, action, name: str | None = None) -> None:
    """Make ``action`` (or None) the active action of ``idb`` with its slot set explicitly."""
    ad = idb.animation_data
    if action is None:
        if ad is not None and is_thunder(ad.action):
            ad.action = None
        return
    slot = slot_for(action, idb, name)
    if slot is None:
        _assign(idb, None)
        return
    if ad is None:
        ad = idb.animation_data_create()
    ad.action = action
    if slot is not None:
        ad.action_slot = slot


def set_active_take(rig: RigTarget, action: bpy.types.Action) -> None:
    """Preview a take: it becomes the active action of every ID it animates."""
    for idb, name in anim_targets(rig):
        if own_action(idb):
            continue
        _assign(idb, action, name)


def add_track(idb, name: str, action, slot_name: str | None = None) -> None:
    ad = idb.animation_data or idb.animation_data_create()
    tr = ad.nla_tracks.new()
    tr.name = name
    start = float(action.frame_range[0])
    st = tr.strips.new(name, int(round(start)), action)
    slot = slot_for(action, idb, slot_name)
    if slot is not None:
        st.action_slot = slot
    tr.mute = True


def retarget_tracks(rig: RigTarget, old: bpy.types.Action, new: bpy.types.Action) -> None:
    """Put ``new`` where ``old`` was on every track, starting at ``new``'s first frame (a moved strip moves
    the take)."""
    for idb, name in anim_targets(rig, everything=True):
        ad = idb.animation_data
        if ad is None:
            continue
        for tr in list(ad.nla_tracks):
            for st in list(tr.strips):
                if st.action is old:
                    label = st.name
                    tr.strips.remove(st)
                    slot = slot_for(new, idb, name)
                    if slot is None:
                        continue
                    ns = tr.strips.new(label, int(round(new.frame_range[0])), new)
                    ns.action_slot = slot
            if len(tr.strips) == 0:  # this mesh is no longer driven
                ad.nla_tracks.remove(tr)
        if ad.action is old:
            ad.action = None


def _remove_tracks(idb, actions: set[str]) -> None:
    ad = idb.animation_data
    if ad is None:
        return
    for tr in list(ad.nla_tracks):
        if (tr.name.startswith(TRACK_PREFIX) or tr.name.startswith(KEPT_PREFIX)) and any(
                st.action and st.action.name in actions for st in tr.strips):
            ad.nla_tracks.remove(tr)
    if ad.action is not None and ad.action.name in actions:
        ad.action = None


def remove_takes(rig: RigTarget, keep: bpy.types.Action | None = None, delete_kept: bool = False) -> None:
    """Delete the character's takes except ``keep``. Takes kept earlier (``keep_take``) become plain
    actions on a muted ``THUNDER kept`` track instead, unless ``delete_kept``."""
    takes = find_takes(rig)
    doomed = {a.name for a in takes if a is not keep}
    kept = [a for a in takes if a is not keep and a.get(PROP_KEPT) and not delete_kept]
    doomed -= {a.name for a in kept}
    for idb, name in anim_targets(rig, everything=True):
        _remove_tracks(idb, doomed | {a.name for a in kept})
        for a in kept:
            if slot_for(a, idb, name) is not None:
                add_track(idb, KEPT_PREFIX + a.name, a, name)
    for a in kept:
        del a[PROP_TAKE]
    for a in takes:
        if a.name in doomed:
            bpy.data.actions.remove(a)
    sync_list(rig)


def keep_take(rig: RigTarget, action: bpy.types.Action) -> None:
    """Keep one take: the others are removed; this one stays active and survives later generations."""
    remove_takes(rig, keep=action)
    action[PROP_KEPT] = True
    set_active_take(rig, action)
    sync_list(rig)


def sync_list(rig: RigTarget, active: int | None = None) -> None:
    """Mirror the takes into the UI list of every object of the character (when the add-on is registered)."""
    takes = find_takes(rig)
    for holder in rig.holders:
        props = getattr(holder, "thunder", None)
        if props is None:
            continue
        props.takes.clear()
        for a in takes:
            props.takes.add().action = a
        if active is not None:
            props["active_take"] = active  # no update callback: the caller already assigned the action
        elif props.active_take >= len(takes):
            props["active_take"] = max(0, len(takes) - 1)


def push_user_action(idb) -> None:
    """Move a user's own active action onto a muted track, so assigning takes never loses it."""
    ad = idb.animation_data
    if ad is None or ad.action is None or is_thunder(ad.action):
        return
    act = ad.action
    tr = ad.nla_tracks.new()
    tr.name = PRE_PREFIX + act.name
    st = tr.strips.new(act.name, int(round(act.frame_range[0])), act)
    if ad.action_slot is not None:
        st.action_slot = ad.action_slot
    tr.mute = True
    ad.action = None


def pop_user_action(idb) -> None:
    """Undo ``push_user_action``: the user's action is active again (with its slot), its track is gone."""
    ad = idb.animation_data
    if ad is None:
        return
    for tr in list(ad.nla_tracks):
        if tr.name.startswith(PRE_PREFIX) and len(tr.strips) == 1 and tr.strips[0].action is not None:
            st = tr.strips[0]
            act, slot = st.action, getattr(st, "action_slot", None)
            ad.nla_tracks.remove(tr)
            if ad.action is None or is_thunder(ad.action):
                ad.action = act
                if slot is not None:
                    ad.action_slot = slot


# -- the rest state -----------------------------------------------------------------------------------------
def _xform(t) -> dict:
    return {"mode": t.rotation_mode, "loc": list(t.location), "euler": list(t.rotation_euler),
            "quat": list(t.rotation_quaternion), "aa": list(t.rotation_axis_angle), "scale": list(t.scale)}


def _set_xform(t, d: dict) -> None:
    t.rotation_mode = d["mode"]
    t.location, t.rotation_euler, t.rotation_quaternion = d["loc"], d["euler"], d["quat"]
    t.rotation_axis_angle, t.scale = d["aa"], d["scale"]


def _bones(rig: RigTarget) -> list[str]:
    return [b for b in (rig.jaw_bone, rig.head_bone, *(rig.eye_bones or ())) if b and rig.armature is not None]


def capture_rest(rig: RigTarget, only_missing: dict | None = None) -> dict:
    """The state THUNDER may change, as plain data (see the module docstring). With ``only_missing``, an
    earlier record, only the parts it lacks (a mesh checked since) are captured and merged into a copy."""
    rest = json.loads(json.dumps(only_missing)) if only_missing else {}
    keys, objs, bones, anim, sliders = (rest.setdefault(k, {}) for k in ("keys", "objects", "bones", "anim", "sliders"))
    for m in _meshes(rig, everything=True):
        if m.name not in keys:
            keys[m.name] = {kb.name: kb.value for kb in m.data.shape_keys.key_blocks}
        if m.name not in sliders:  # ranges a take may widen (signed FLAME pose correctives)
            sliders[m.name] = {kb.name: [kb.slider_min, kb.slider_max] for kb in m.data.shape_keys.key_blocks}
    ht = rig.head_target
    if ht is not None and ht.name not in objs:
        objs[ht.name] = _xform(ht)
    if rig.armature is not None:
        arm = bones.setdefault(rig.armature.name, {})
        for b in _bones(rig):
            if b not in arm:
                arm[b] = _xform(rig.armature.pose.bones[b])
    for idb, name in anim_targets(rig, everything=True):
        k = _id_key(idb, name)
        if k in anim:
            continue
        ad = idb.animation_data
        anim[k] = {"ad": ad is not None,
                   "tracks": {t.name: t.mute for t in ad.nla_tracks} if ad is not None else {}}
    return rest


def stored_rest(rig: RigTarget) -> dict:
    """The rest record of the character's takes (or kept takes), completed for anything not yet recorded;
    captured now if THUNDER has never written to it."""
    for a in find_takes(rig) + find_kept(rig):
        if PROP_REST in a:
            return capture_rest(rig, only_missing=json.loads(a[PROP_REST]))
    return capture_rest(rig)


def rest_transform(rest: dict, obj, bone: str | None = None) -> dict | None:
    if bone is None:
        return rest.get("objects", {}).get(obj.name)
    return rest.get("bones", {}).get(obj.name, {}).get(bone)


def restore_rest(rig: RigTarget, rest: dict) -> None:
    """Put back the recorded values and NLA track mutes; drop animation data THUNDER created."""
    for m in _meshes(rig, everything=True):
        for kname, value in rest.get("keys", {}).get(m.name, {}).items():
            kb = m.data.shape_keys.key_blocks.get(kname)
            if kb is not None:
                kb.value = value
    ht = rig.head_target
    if ht is not None and ht.name in rest.get("objects", {}):
        _set_xform(ht, rest["objects"][ht.name])
    if rig.armature is not None:
        for b, d in rest.get("bones", {}).get(rig.armature.name, {}).items():
            pb = rig.armature.pose.bones.get(b)
            if pb is not None:
                _set_xform(pb, d)
    for idb, name in anim_targets(rig, everything=True):
        rec = rest.get("anim", {}).get(_id_key(idb, name))
        ad = idb.animation_data
        if rec is None or ad is None:
            continue
        for tr in ad.nla_tracks:
            if tr.name in rec["tracks"]:
                tr.mute = rec["tracks"][tr.name]
        if not rec["ad"] and ad.action is None and len(ad.nla_tracks) == 0:
            idb.animation_data_clear()


def clear_takes(rig: RigTarget) -> tuple[int, list[bpy.types.Action]]:
    """Delete every take in the list and put the character back as it was before the first take.

    Takes kept earlier on ``THUNDER kept`` tracks stay there (muted). Returns (takes removed, kept left)."""
    rest = stored_rest(rig)
    n = len(find_takes(rig))
    remove_takes(rig, delete_kept=True)
    for idb in anim_ids(rig, everything=True):
        pop_user_action(idb)
    restore_rest(rig, rest)
    kept = find_kept(rig)
    if not kept:  # no take left that keys signed values: the shape-key slider ranges go back too
        restore_slider_ranges(rig, rest)
    sync_list(rig)
    return n, kept


def restore_slider_ranges(rig: RigTarget, rest: dict) -> None:
    """Put back the slider ranges of the rest record (a take widens those of FLAME's Pose keys)."""
    for m in _meshes(rig, everything=True):
        for kname, (lo, hi) in rest.get("sliders", {}).get(m.name, {}).items():
            kb = m.data.shape_keys.key_blocks.get(kname)
            if kb is not None and (kb.slider_min, kb.slider_max) != (lo, hi):
                kb.slider_min, kb.slider_max = lo, hi
