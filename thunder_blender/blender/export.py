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


def channelbags(action: bpy.types.Action):
    """Every channelbag of a slotted action (all layers and strips)."""
    for layer in action.layers:
        for strip in layer.strips:
            yield from strip.channelbags


def _fcurves(action: bpy.types.Action):
    for bag in channelbags(action):
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
               extra: Sequence[bpy.types.Object] = (), compact: bool = True, frame_step: int = 1) -> None:
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
    ``frame_step``: sample every n-th frame only (the coarse pass of ``take_channels``).
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
                export_anim_slide_to_zero=True, export_force_sampling=True, export_frame_step=int(frame_step),
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


# -- long takes: full-rate glTF samples from the keys -----------------------------------------------------
# Blender's exporter samples a take by setting every frame of the scene and keeps Python objects per frame:
# an hour-long take costs it minutes and over a gigabyte. ``take_channels`` computes the same samples from
# the take's F-curves in numpy instead, and checks them against a coarse export (every n-th frame) of the
# same take, so anything it does not reproduce (drivers, constraints, bone rotation) is refused, not written
# wrong.
STREAM_TOLERANCE = 2e-5  # float32 rounding of the exporter's values


class StreamError(ValueError):
    """This take cannot be written without Blender's sampling (one-line message)."""


def _curve_values(action: bpy.types.Action, slot, data_path: str, index: int, frames, default: float):
    """The F-curve ``data_path[index]`` of ``slot`` evaluated at ``frames`` (linear keys), else ``default``."""
    import numpy as np

    bag = next((b for b in channelbags(action) if b.slot == slot), None) if slot is not None else None
    fc = bag.fcurves.find(data_path, index=index) if bag is not None else None
    if fc is None or len(fc.keyframe_points) == 0 or fc.mute or fc.modifiers or fc.driver is not None:
        if fc is not None and (fc.modifiers or len(fc.keyframe_points)):
            raise StreamError(f"F-curve {data_path}[{index}] has modifiers or is muted")
        return np.full(len(frames), float(default))
    n = len(fc.keyframe_points)
    co = np.empty(2 * n, np.float32)
    fc.keyframe_points.foreach_get("co", co)
    interp = np.empty(n, np.int32)
    fc.keyframe_points.foreach_get("interpolation", interp)
    linear = bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items["LINEAR"].value
    if n > 1 and np.any(interp[:-1] != linear):
        raise StreamError(f"F-curve {data_path}[{index}] is not linear")
    return np.interp(frames, co[0::2].astype(np.float64), co[1::2].astype(np.float64))


def _quat_mul(a, b):
    import numpy as np

    aw, ax, ay, az = np.moveaxis(np.broadcast_to(a, np.broadcast_shapes(np.shape(a), np.shape(b))), -1, 0)
    bw, bx, by, bz = np.moveaxis(np.broadcast_to(b, np.broadcast_shapes(np.shape(a), np.shape(b))), -1, 0)
    return np.stack([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw], axis=-1)


def _basis_quaternions(obj: bpy.types.Object, action: bpy.types.Action, frames):
    """(K, 4) w x y z: the object's own rotation at ``frames`` from the take's OBJECT slot."""
    import numpy as np

    slot = _slot_for(action, obj)
    mode = obj.rotation_mode
    if mode == "QUATERNION":
        q = np.stack([_curve_values(action, slot, "rotation_quaternion", i, frames, obj.rotation_quaternion[i])
                      for i in range(4)], 1)
    elif mode == "AXIS_ANGLE":
        aa = np.stack([_curve_values(action, slot, "rotation_axis_angle", i, frames, obj.rotation_axis_angle[i])
                       for i in range(4)], 1)
        axis = aa[:, 1:] / np.maximum(np.linalg.norm(aa[:, 1:], axis=1, keepdims=True), 1e-12)
        q = np.concatenate([np.cos(aa[:, :1] / 2), np.sin(aa[:, :1] / 2) * axis], 1)
    else:  # Euler "ABC": R = R_C R_B R_A
        e = np.stack([_curve_values(action, slot, "rotation_euler", i, frames, obj.rotation_euler[i])
                      for i in range(3)], 1)
        q = np.tile([1.0, 0.0, 0.0, 0.0], (len(frames), 1))
        for axis in mode:
            i = "XYZ".index(axis)
            half = np.zeros((len(frames), 4))
            half[:, 0] = np.cos(e[:, i] / 2)
            half[:, 1 + i] = np.sin(e[:, i] / 2)
            q = _quat_mul(half, q)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def _continuous(q):
    """Flip signs so consecutive quaternions lie in the same hemisphere (linear glTF samples stay short)."""
    import numpy as np

    flips = np.cumsum(np.einsum("ij,ij->i", q[1:], q[:-1]) < 0) % 2
    q = q.copy()
    q[1:][flips == 1] *= -1
    return q


def take_channels(doc: dict, blob: bytes, action: bpy.types.Action, fps: float) -> list:
    """Full-rate ``core.gltf_animation.Channel`` list for the one animation of ``doc`` (a coarse export of
    ``action`` by ``export_glb(frame_step=n)``): every frame of the take's range, time 0 at its first frame.

    Morph weights come from the shape-key F-curves of the take (clamped to the sliders), object rotation
    from its rotation curves (Blender Z-up to glTF Y-up, under the parent inverse). Channels that are constant
    in the coarse export (an unanimated bone, the location) keep that value. Raises StreamError when the
    coarse samples are not reproduced within ``STREAM_TOLERANCE``."""
    import numpy as np

    from ..core.gltf_animation import Channel, sampler_data

    if len(doc.get("animations", [])) != 1:
        raise StreamError(f"expected one animation in the coarse export, got {len(doc.get('animations', []))}")
    anim = doc["animations"][0]
    start, end = take_range(action)
    frames = np.arange(int(round(start)), int(round(end)) + 1, dtype=np.float64)
    times = (frames - frames[0]) / fps
    channels = []
    for ch in anim["channels"]:
        node_i, path = ch["target"]["node"], ch["target"]["path"]
        node = doc["nodes"][node_i]
        coarse_t, coarse_v = sampler_data(doc, blob, anim, ch)
        obj = bpy.data.objects.get(node.get("name", ""))
        if path == "weights" and obj is not None and obj.type == "MESH" and "mesh" in node:
            key = obj.data.shape_keys
            names = doc["meshes"][node["mesh"]].get("extras", {}).get("targetNames")
            if key is None or names is None:
                raise StreamError(f"{obj.name}: no shape keys or target names to stream")
            slot = _key_slot(action, obj) if any(s.target_id_type == "KEY" for s in action.slots) else None
            cols = []
            for name in names:
                kb = key.key_blocks[name]
                v = _curve_values(action, slot, f'key_blocks["{bpy.utils.escape_identifier(name)}"].value', 0,
                                  frames, kb.value)
                cols.append(np.clip(v, kb.slider_min, kb.slider_max))
            values = np.stack(cols, 1)
        elif path == "rotation" and obj is not None and (obj.parent is None or obj.parent_type == "OBJECT"):
            q = _basis_quaternions(obj, action, frames)
            if obj.parent is not None:
                q = _quat_mul(np.array(obj.matrix_parent_inverse.to_quaternion()), q)
            values = _continuous(q[:, [1, 3, 2, 0]] * np.array([1.0, 1.0, -1.0, 1.0]))  # w x y z -> x z -y w
        elif np.ptp(coarse_v, axis=0).max(initial=0.0) <= STREAM_TOLERANCE:
            values = np.repeat(coarse_v[:1], len(frames), 0)
        else:
            raise StreamError(f"{path} of {node.get('name', f'node {node_i}')} is animated in a way that cannot "
                              "be streamed (bone rotation, constraints or drivers)")
        idx = np.rint(coarse_t * fps).astype(np.int64)
        if len(idx) == 0 or idx.max() >= len(frames) or np.abs(coarse_t - times[idx]).max() > 1e-4:
            raise StreamError(f"the coarse export's times do not fall on the take's frames ({path})")
        diff = np.abs(values[idx] - coarse_v)
        if path == "rotation":
            diff = np.minimum(diff, np.abs(values[idx] + coarse_v))  # q and -q are the same rotation
        if diff.max(initial=0.0) > STREAM_TOLERANCE:
            raise StreamError(f"{path} of {node.get('name', f'node {node_i}')} differs from Blender's export by "
                              f"{diff.max():.2g}; the take cannot be streamed")
        channels.append(Channel(node_i, path, times.astype(np.float32), values.astype(np.float32)))
    return channels
