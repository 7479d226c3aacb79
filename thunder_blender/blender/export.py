"""Export keyed takes from Blender: one glTF binary with every take, one FBX per take.

Timing: in both formats a take's time 0 is the audio's time 0.

* glTF: Blender's exporter writes frame ``f`` at ``t = f / fps``, so keys that start at frame 1 would land
  at ``1 / fps``. ``export_anim_slide_to_zero`` moves each animation's first key to ``t = 0``; the takes'
  first keys are at the take start (audio time 0), so sliding makes glTF time equal audio time.
* FBX: the exporter ignores shape-key actions when exporting all actions or NLA strips, so each take is
  exported on its own with the scene timeline baked. A temporary copy of the take's action, shifted to
  start at frame 0, is assigned for the export; Blender's FBX importer then puts it back on frame 1 with its
  default ``anim_offset=1``.

Every function restores the scene state it changes (active actions, NLA mutes, frame range, selection).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import bpy


def _channelbags(action: bpy.types.Action):
    for layer in action.layers:
        for strip in layer.strips:
            yield from strip.channelbags


def _fcurves(action: bpy.types.Action):
    for bag in _channelbags(action):
        yield from bag.fcurves


def key_range(action: bpy.types.Action) -> tuple[float, float]:
    """First and last keyframe frame over every F-curve of a (slotted) action."""
    lo, hi = float("inf"), float("-inf")
    for fc in _fcurves(action):
        if len(fc.keyframe_points):
            lo = min(lo, fc.keyframe_points[0].co[0])
            hi = max(hi, fc.keyframe_points[-1].co[0])
    if lo > hi:
        raise ValueError(f"action {action.name!r} has no keyframes")
    return lo, hi


def _shift_keys(action: bpy.types.Action, offset: float) -> None:
    import numpy as np

    for fc in _fcurves(action):
        n = len(fc.keyframe_points)
        for attr in ("co", "handle_left", "handle_right"):
            buf = np.empty(2 * n, np.float32)
            fc.keyframe_points.foreach_get(attr, buf)
            buf[0::2] += offset
            fc.keyframe_points.foreach_set(attr, buf)
        fc.update()


@contextlib.contextmanager
def _selection(objects: Sequence[bpy.types.Object]) -> Iterator[None]:
    view_layer = bpy.context.view_layer
    before = [o for o in view_layer.objects if o.select_get()]
    active = view_layer.objects.active
    for o in before:
        o.select_set(False)
    for o in objects:
        o.select_set(True)
    view_layer.objects.active = objects[0] if objects else None
    try:
        yield
    finally:
        for o in view_layer.objects:
            o.select_set(o in before)
        view_layer.objects.active = active


def _export_objects(obj: bpy.types.Object) -> list[bpy.types.Object]:
    """The mesh plus its armature parent/modifier targets, so skinned heads export whole."""
    objs = [obj]
    arm = obj.find_armature()
    if arm is not None:
        objs.append(arm)
    return objs


def export_glb(path: str | Path, obj: bpy.types.Object,
               actions: Sequence[bpy.types.Action] | None = None) -> None:
    """Write ``obj`` (and its armature) with every take as its own glTF animation (morph-target weights).

    Takes are the shape-key actions on ``obj``'s NLA tracks (one track per take, as
    ``blender.keyframes.write_takes`` leaves them; muted tracks count) plus any of ``actions`` that has no
    track yet (a temporary track is added for the export). The active action is cleared while exporting:
    it would otherwise be evaluated on top of every track and all animations would show the same take.
    """
    key = obj.data.shape_keys
    if key is None:
        raise ValueError(f"{obj.name!r} has no shape keys")
    ad = key.animation_data or key.animation_data_create()
    saved = (ad.action, ad.action_slot if ad.action else None)
    on_tracks = {s.action for t in ad.nla_tracks for s in t.strips}
    mutes = [(t, t.mute) for t in ad.nla_tracks]
    temp_tracks = []
    try:
        for act in actions or ():
            if act not in on_tracks:
                track = ad.nla_tracks.new()
                track.name = act.name
                track.strips.new(act.name, int(key_range(act)[0]), act)
                temp_tracks.append(track)
        ad.action = None
        for track in ad.nla_tracks:  # the exporter solos each track in turn; muted ones would not play
            track.mute = False
        with _selection(_export_objects(obj)):
            bpy.ops.export_scene.gltf(
                filepath=str(path), export_format="GLB", use_selection=True,
                export_animations=True, export_animation_mode="NLA_TRACKS",
                export_morph=True, export_morph_animation=True, export_morph_normal=False,
                export_anim_slide_to_zero=True, export_force_sampling=True,
                export_optimize_animation_size=False, export_def_bones=False,
                export_extras=False, export_cameras=False, export_lights=False,
            )
    finally:
        for track in temp_tracks:
            ad.nla_tracks.remove(track)
        for track, mute in mutes:
            track.mute = mute
        ad.action = saved[0]
        if saved[0] is not None and saved[1] is not None:
            ad.action_slot = saved[1]


def export_fbx_take(path: str | Path, obj: bpy.types.Object, key_action: bpy.types.Action,
                    object_action: bpy.types.Action | None = None) -> None:
    """Write one FBX with one take baked: ``key_action`` on the shape keys (and optionally an object-level
    action, e.g. head rotation), shifted so the take starts at FBX time 0."""
    scene = bpy.context.scene
    key = obj.data.shape_keys
    if key is None:
        raise ValueError(f"{obj.name!r} has no shape keys")
    start, end = key_range(key_action)
    targets = [(key, key_action)] + ([(obj, object_action)] if object_action is not None else [])
    saved = []
    temps = []
    try:
        for idb, act in targets:
            ad = idb.animation_data or idb.animation_data_create()
            saved.append((ad, ad.action, ad.action_slot if ad.action else None,
                          [(t, t.mute) for t in ad.nla_tracks], ad.use_tweak_mode))
            tmp = act.copy()
            temps.append(tmp)
            _shift_keys(tmp, -start)
            for t in ad.nla_tracks:
                t.mute = True
            slot = next((s for s in tmp.slots if s.target_id_type == idb.id_type), None)
            ad.action = tmp
            if slot is not None:
                ad.action_slot = slot
        frame_range = (scene.frame_start, scene.frame_end, scene.frame_current)
        scene.frame_start, scene.frame_end = 0, int(round(end - start))
        try:
            with _selection(_export_objects(obj)):
                bpy.ops.export_scene.fbx(
                    filepath=str(path), use_selection=True, object_types={"MESH", "ARMATURE", "EMPTY"},
                    bake_anim=True, bake_anim_use_all_bones=True, bake_anim_use_nla_strips=False,
                    bake_anim_use_all_actions=False, bake_anim_force_startend_keying=True,
                    bake_anim_step=1.0, bake_anim_simplify_factor=0.0, add_leaf_bones=False,
                )
        finally:
            scene.frame_start, scene.frame_end, scene.frame_current = frame_range
    finally:
        for ad, act, slot, mutes, _ in saved:
            ad.action = act
            if act is not None and slot is not None:
                ad.action_slot = slot
            for t, m in mutes:
                t.mute = m
        for tmp in temps:
            bpy.data.actions.remove(tmp)
