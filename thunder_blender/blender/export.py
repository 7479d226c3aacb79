"""Export keyed takes from Blender: one glTF binary with every take, one FBX per take.

Timing: in both formats a take's time 0 is the audio's time 0. The glTF file is then compacted
(``core.gltf_compact``).

* glTF: Blender's exporter writes frame ``f`` at ``t = f / fps``, so keys that start at frame 1 would land
  at ``1 / fps``. ``export_anim_slide_to_zero`` moves each animation's first key to ``t = 0``; the takes'
  first keys are at the take start (audio time 0), so sliding makes glTF time equal audio time.
* FBX: the exporter ignores shape-key actions when exporting all actions or NLA strips, so each take is
  exported on its own with the scene timeline baked (constant curves left out, see ``FBX_SIMPLIFY``). A
  temporary copy of the take's action, shifted to start at frame 0, is assigned for the export; Blender's
  FBX importer then puts it back on frame 1 with its default ``anim_offset=1``.

Every function restores the scene state it changes (active actions, NLA mutes, frame range, selection).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import bpy

from ..core import gltf_compact
from .compat import GLTF_MISLABELS_SHAPE_KEY_TRACKS


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


def take_range(action: bpy.types.Action) -> tuple[float, float]:
    """The frames a take covers: its manual frame range when set (keys moved by an offset), else its keys."""
    if action.use_frame_range:
        return float(action.frame_start), float(action.frame_end)
    return key_range(action)


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


def _armature(obj: bpy.types.Object):
    """The armature parent (or armature-modifier target) of the mesh, as ``blender.rig`` finds it."""
    if obj.parent is not None and obj.parent.type == "ARMATURE":
        return obj.parent
    return obj.find_armature()


def _export_objects(obj: bpy.types.Object) -> list[bpy.types.Object]:
    """The mesh plus its armature, so skinned heads (and head-bone rotation) export whole."""
    arm = _armature(obj)
    return [obj] if arm is None else [obj, arm]


def _anim_ids(obj: bpy.types.Object) -> list:
    """IDs a take can animate: the shape keys, the object (head rotation), its armature (head bone)."""
    ids = [obj.data.shape_keys, obj, _armature(obj)]
    return [i for i in ids if i is not None]


def _uses(idb, action: bpy.types.Action) -> bool:
    ad = idb.animation_data
    return ad is not None and (ad.action == action or any(
        st.action == action for tr in ad.nla_tracks for st in tr.strips))


class _SavedAnim:
    """Active action, slot and NLA track mutes of some IDs, restored on ``restore()``."""

    def __init__(self, ids) -> None:
        self.state = []
        for idb in ids:
            ad = idb.animation_data
            if ad is not None:
                self.state.append((ad, ad.action, ad.action_slot if ad.action else None,
                                   [(t, t.mute) for t in ad.nla_tracks]))

    def restore(self) -> None:
        for ad, act, slot, mutes in self.state:
            ad.action = act
            if act is not None and slot is not None:
                ad.action_slot = slot
            for track, mute in mutes:
                track.mute = mute


def _slot_for(action: bpy.types.Action, idb):
    return next((s for s in action.slots if s.target_id_type == idb.id_type), None)


def _key_slot(action: bpy.types.Action, mesh: bpy.types.Object):
    """The KEY slot for ``mesh``'s shape keys: the one named after its shape-key datablock (a take of a
    character with several meshes has one per mesh), else the first KEY slot."""
    slots = [s for s in action.slots if s.target_id_type == "KEY"]
    return next((s for s in slots if s.name_display == mesh.data.shape_keys.name), slots[0] if slots else None)


def remove_other_tracks(obj: bpy.types.Object, actions: Sequence[bpy.types.Action]) -> int:
    """Delete the NLA tracks of ``obj``'s shape keys / object / armature whose strips play none of
    ``actions`` (e.g. animations that came with an imported target), so ``export_glb`` writes exactly these
    takes. Destructive: meant for a throwaway session (the command line), after the .blend is saved.
    Returns the number of tracks removed."""
    keep = set(actions)
    removed = 0
    for idb in _anim_ids(obj):
        ad = idb.animation_data
        if ad is None:
            continue
        if ad.action is not None and ad.action not in keep:
            ad.action = None
        for track in list(ad.nla_tracks):
            if not any(st.action in keep for st in track.strips):
                ad.nla_tracks.remove(track)
                removed += 1
    return removed


def export_glb(path: str | Path, obj: bpy.types.Object,
               actions: Sequence[bpy.types.Action] | None = None,
               extra: Sequence[bpy.types.Object] = (), compact: bool = True) -> None:
    """Write ``obj`` (and its armature) with every take as its own glTF animation: morph-target weights,
    plus node rotation when the take also rotates the head.

    ``compact`` (default) rewrites Blender's file with ``core.gltf_compact``: weights as normalized 16-bit
    integers, no texture coordinates when there is no texture, empty morph targets without data, a few
    bufferViews instead of one per accessor.

    Takes are the NLA tracks on the shape keys / object / armature (one track per take, same track name on
    each ID, as ``blender.keyframes.write_takes`` leaves them; the exporter merges same-named tracks into one
    animation), plus any of ``actions`` that has no track yet (a temporary track is added for the export).
    Other NLA tracks on these IDs are exported too. While exporting, active actions are cleared (they would
    be evaluated on top of every track, so all animations would show the same take) and tracks are unmuted
    (the exporter plays each track in turn; a muted one would export as a still pose).
    ``extra``: more meshes of the same character (teeth, tongue) exported with it, their shape-key tracks
    merged into the same animations.
    """
    key = obj.data.shape_keys
    if key is None:
        raise ValueError(f"{obj.name!r} has no shape keys")
    ids = _anim_ids(obj) + [m.data.shape_keys for m in extra if m.data.shape_keys is not None]
    key.animation_data or key.animation_data_create()
    saved = _SavedAnim(ids)
    saved_base = bpy.context.scene.render.fps_base
    temp_tracks = []
    try:
        for act in actions or ():
            if _uses(key, act) and any(st.action == act for t in key.animation_data.nla_tracks for st in t.strips):
                continue
            for idb in ids:
                slot = _slot_for(act, idb)
                if slot is None or (idb is not key and idb.id_type == "OBJECT" and not _uses(idb, act)):
                    continue
                ad = idb.animation_data or idb.animation_data_create()
                track = ad.nla_tracks.new()
                track.name = act.name
                strip = track.strips.new(act.name, int(take_range(act)[0]), act)
                strip.action_slot = slot
                temp_tracks.append((ad, track))
        if GLTF_MISLABELS_SHAPE_KEY_TRACKS and sum(1 for t in key.animation_data.nla_tracks if len(t.strips)) > 1:
            raise RuntimeError(f"Blender {bpy.app.version_string}'s glTF exporter writes each take with the next "
                               "take's shape-key values; export several takes from Blender 4.5 or newer")
        for idb in ids:
            ad = idb.animation_data
            if ad is not None:
                ad.action = None
                for track in ad.nla_tracks:
                    track.mute = False
        # Blender's glTF I/O converts frames with fps * fps_base (instead of fps / fps_base), which is
        # wrong for fractional rates (29.97 = 30 / 1.001). Set fps_base so its product is the real rate.
        render = bpy.context.scene.render
        # Only when it differs: every fps / fps_base write makes Blender re-time sound strips, which can
        # move a strip by a frame after the frame rate was changed.
        if render.fps_base != (render.fps / saved_base) / render.fps:
            render.fps_base = (render.fps / saved_base) / render.fps
        with _selection(_export_objects(obj) + [m for m in extra if m not in _export_objects(obj)]):
            bpy.ops.export_scene.gltf(
                filepath=str(path), export_format="GLB", use_selection=True,
                export_animations=True, export_animation_mode="NLA_TRACKS",
                export_morph=True, export_morph_animation=True, export_morph_normal=False,
                export_anim_slide_to_zero=True, export_force_sampling=True,
                export_optimize_animation_size=False, export_def_bones=False,
                export_extras=False, export_cameras=False, export_lights=False,
            )
    finally:
        if bpy.context.scene.render.fps_base != saved_base:
            bpy.context.scene.render.fps_base = saved_base
        for ad, track in temp_tracks:
            ad.nla_tracks.remove(track)
        saved.restore()
    if compact:
        gltf_compact.compact_file(path)


# Blender's FBX exporter keeps every baked key of every curve, constant ones included, only when its
# simplify factor is 0. Above 0 it drops curves that never change (the head's constant location and scale)
# and, inside a curve, keys equal to both neighbours. "Equal" means a difference below
# factor * 1e-3 * max(|a| + |b|, 0.1): at this factor 1e-7 * (|a| + |b|), i.e. float32 noise (the scale is
# 100 +- 1e-5 in FBX centimetres), so with the linear interpolation the exporter declares, values stay
# within 2e-7 of the lossless export (tests/blender/test_export.py checks this with ufbx).
FBX_SIMPLIFY = 1e-4


def export_fbx_take(path: str | Path, obj: bpy.types.Object, action: bpy.types.Action,
                    extra: Sequence[bpy.types.Object] = ()) -> None:
    """Write one FBX with one take baked, starting at FBX time 0.

    ``action`` is the take: its shape-key slot goes on the shape keys and, if the take also rotates the
    head (an object slot used by the object or its armature), that slot goes on that ID too. ``extra``:
    more meshes of the same character, each given its own KEY slot of the take.
    """
    scene = bpy.context.scene
    key = obj.data.shape_keys
    if key is None:
        raise ValueError(f"{obj.name!r} has no shape keys")
    start, end = take_range(action)
    ids = [key] + [i for i in _anim_ids(obj)[1:] if _uses(i, action) and _slot_for(action, i) is not None]
    extra_keys = {m.data.shape_keys: m for m in extra if m.data.shape_keys is not None}
    saved = _SavedAnim(_anim_ids(obj) + list(extra_keys))
    tmp = action.copy()
    frame_range = (scene.frame_start, scene.frame_end, scene.frame_current)
    try:
        _shift_keys(tmp, -start)
        for idb in _anim_ids(obj) + list(extra_keys):
            ad = idb.animation_data
            if ad is not None:
                for track in ad.nla_tracks:
                    track.mute = True
                if idb not in ids and ad.action is not None and ad.action.get("thunder_take") is not None:
                    ad.action = None  # another take's rotation must not leak into this one
        for idb in ids + list(extra_keys):
            ad = idb.animation_data or idb.animation_data_create()
            ad.action = tmp
            ad.action_slot = (_key_slot(tmp, extra_keys.get(idb, obj)) if idb.id_type == "KEY"
                              else _slot_for(tmp, idb))
        scene.frame_start, scene.frame_end = 0, int(round(end - start))
        with _selection(_export_objects(obj) + [m for m in extra if m not in _export_objects(obj)]):
            bpy.ops.export_scene.fbx(
                filepath=str(path), use_selection=True, object_types={"MESH", "ARMATURE", "EMPTY"},
                bake_anim=True, bake_anim_use_all_bones=True, bake_anim_use_nla_strips=False,
                bake_anim_use_all_actions=False, bake_anim_force_startend_keying=True,
                bake_anim_step=1.0, bake_anim_simplify_factor=FBX_SIMPLIFY, add_leaf_bones=False,
            )
    finally:
        scene.frame_start, scene.frame_end, scene.frame_current = frame_range
        saved.restore()
        bpy.data.actions.remove(tmp)
