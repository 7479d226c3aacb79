"""Takes of a target: find, preview, keep, remove, and mirror them into the add-on's UI list.

A take is an Action carrying ``thunder_seed`` (decimal string), ``thunder_take`` (index) and
``thunder_settings`` (JSON) custom properties, placed on a muted NLA track ``"THUNDER take <k>"`` on every ID
it animates (the shape-key datablock and, for head/jaw rotation, the object or armature). Keys are written
by ``blender.keyframes``; this module only manages existing takes.
"""
from __future__ import annotations

import bpy

from .rig import RigTarget

PROP_SEED = "thunder_seed"
PROP_TAKE = "thunder_take"
PROP_SETTINGS = "thunder_settings"
PROP_KEPT = "thunder_kept"
TRACK_PREFIX = "THUNDER take "
KEPT_PREFIX = "THUNDER kept "
PRE_PREFIX = "pre-THUNDER "


def slotted_actions() -> bool:
    """True on Blender 4.4+ (layered actions with slots)."""
    return "slots" in bpy.types.Action.bl_rna.properties


def is_take(action) -> bool:
    return action is not None and PROP_SEED in action and PROP_TAKE in action


def own_action(idb) -> bool:
    """True when ``idb`` already plays a user action that THUNDER must not overwrite."""
    ad = idb.animation_data
    return ad is not None and ad.action is not None and not is_take(ad.action)


def anim_ids(rig: RigTarget) -> list:
    """IDs that may hold take tracks: the shape keys and the rotation target."""
    ids = [rig.key]
    if rig.head_target is not None and rig.head_target not in ids:
        ids.append(rig.head_target)
    return ids


def find_takes(rig: RigTarget) -> list[bpy.types.Action]:
    """The target's current takes, in take order (from its ``THUNDER take`` tracks and active action)."""
    found: dict[str, bpy.types.Action] = {}
    for idb in anim_ids(rig):
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


def slot_for(action, idb):
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
    slot = slot_for(action, idb)
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
    for idb in anim_ids(rig):
        if own_action(idb):
            continue
        _assign(idb, action)


def add_track(idb, name: str, action) -> None:
    ad = idb.animation_data or idb.animation_data_create()
    tr = ad.nla_tracks.new()
    tr.name = name
    start = float(action.frame_range[0])
    st = tr.strips.new(name, int(round(start)), action)
    slot = slot_for(action, idb)
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
    for idb in anim_ids(rig):
        _remove_tracks(idb, doomed | {a.name for a in kept})
        for a in kept:
            if slot_for(a, idb) is not None or not slotted_actions():
                add_track(idb, KEPT_PREFIX + a.name, a)
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


def push_user_action(idb) -> None:
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
