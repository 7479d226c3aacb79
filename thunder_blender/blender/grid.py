"""The preview grid: every take of a character playing side by side, so stochastic takes can be judged at once.

``build_grid`` puts one duplicate of the character per take in a row across the active camera's (or the
3D view's) horizontal axis, centred where the character stands (the character itself is hidden meanwhile),
each copy playing its own take with the scene's sound, and a text label "Take k / seed S" above it facing the
camera. Objects are duplicated as linked duplicates (armature, materials and meshes without shape keys are
shared); a driven mesh gets its own copy of the mesh data, because shape keys belong to the mesh data and a
shared mesh would play the same take on every copy. The takes' actions are shared, not copied.

Everything the grid creates is tagged (``thunder_grid``) and lives in the collection "THUNDER Preview Grid";
``remove_grid`` deletes it all (objects, mesh copies with their shape keys, labels, the collection) and
shows the character again, leaving no datablock behind. Keep on a copy keeps that take on the character.
"""
from __future__ import annotations

import json

import bpy
from mathutils import Matrix, Vector

GRID_COLLECTION = "THUNDER Preview Grid"
PROP_GRID = "thunder_grid"  # on everything the grid creates: the character's holder object name
PROP_GRID_TAKE = "thunder_grid_take"  # on copies: take index
PROP_HIDDEN = "thunder_grid_hidden"  # on the collection: JSON {object: [hide_viewport, hide_render]}


def find_grid(scene=None) -> bpy.types.Collection | None:
    return bpy.data.collections.get(GRID_COLLECTION)


def grid_source(obj) -> tuple[bpy.types.Object, int] | None:
    """(character's holder object, take index) for a copy in the grid, else None."""
    if obj is None or PROP_GRID not in obj or PROP_GRID_TAKE not in obj:
        return None
    src = bpy.data.objects.get(obj[PROP_GRID])
    return (src, int(obj[PROP_GRID_TAKE])) if src is not None else None


def _view_axes(context) -> tuple[Vector, Matrix]:
    """(right vector, rotation facing the viewer) from the scene camera, else the 3D view, else the front."""
    cam = context.scene.camera
    if cam is not None:
        rot = cam.matrix_world.to_3x3().normalized()
    elif getattr(context, "region_data", None) is not None:
        rot = context.region_data.view_rotation.to_matrix()
    else:  # front view: looking along +Y, Z up
        rot = Matrix(((1, 0, 0), (0, 0, -1), (0, 1, 0)))
    right = rot @ Vector((1, 0, 0))
    return right.normalized(), rot


def _extent(objs, axis: Vector) -> tuple[float, float, float]:
    """(width along ``axis``, bottom z, top z) of the objects' world bounding boxes."""
    pts = [o.matrix_world @ Vector(c) for o in objs for c in o.bound_box]
    along = [p.dot(axis) for p in pts]
    zs = [p.z for p in pts]
    return max(max(along) - min(along), 1e-3), min(zs), max(zs)


def _tag(idb, holder: str, take: int | None = None):
    idb[PROP_GRID] = holder
    if take is not None:
        idb[PROP_GRID_TAKE] = take
    return idb


def _play(idb, action, slot_name: str) -> None:
    from .takes import slot_for

    idb.animation_data_clear()
    slot = slot_for(action, idb, slot_name)
    if slot is None:
        return
    ad = idb.animation_data_create()
    ad.action = action
    ad.action_slot = slot


def build_grid(context, rig) -> bpy.types.Collection:
    """Lay out the character's takes (see the module docstring). Replaces an existing grid."""
    from .takes import PROP_SEED, find_takes

    remove_grid()
    takes = find_takes(rig)
    if not takes:
        raise ValueError(f"'{rig.obj.name}' has no takes to preview")
    scene = context.scene
    coll = bpy.data.collections.new(GRID_COLLECTION)
    _tag(coll, rig.obj.name)
    scene.collection.children.link(coll)
    arm = rig.armature
    driven = {p.mesh.name: p for p in rig.parts}
    if arm is not None:
        members = [arm] + [c for c in arm.children_recursive if c.type == "MESH"]
    else:
        members = [p.mesh for p in rig.parts]
    right, facing = _view_axes(context)
    width, bottom, top = _extent([m for m in members if m.type == "MESH"], right)
    spacing = 1.25 * width
    hidden = {}
    for o in members:
        hidden[o.name] = [o.hide_viewport, o.hide_render]
        o.hide_viewport = o.hide_render = True
    coll[PROP_HIDDEN] = json.dumps(hidden)
    n = len(takes)
    for k, act in enumerate(takes):
        offset = right * ((k - (n - 1) / 2) * spacing)
        copies = {}
        for o in members:
            c = o.copy()  # linked duplicate: shares data unless replaced below
            _tag(c, rig.obj.name, k)
            c.name = f"{o.name} take{k + 1}"
            c.hide_viewport = c.hide_render = False
            if o.name in driven:
                c.data = _tag(o.data.copy(), rig.obj.name)  # own shape keys (copied with the mesh data)
            coll.objects.link(c)
            copies[o.name] = c
        for o in members:
            c = copies[o.name]
            if o.parent is not None and o.parent.name in copies:
                c.parent = copies[o.parent.name]
            else:
                c.matrix_world = Matrix.Translation(offset) @ o.matrix_world
            for mod in getattr(c, "modifiers", ()):
                if mod.type == "ARMATURE" and mod.object is not None and mod.object.name in copies:
                    mod.object = copies[mod.object.name]
            c.animation_data_clear()
            if o.name in driven:
                _play(c.data.shape_keys, act, o.data.shape_keys.name)
        ht = rig.head_target
        if ht is not None and ht.name in copies:
            _play(copies[ht.name], act, ht.name)
        label = bpy.data.curves.new(f"THUNDER grid label {k + 1}", type="FONT")
        _tag(label, rig.obj.name)
        label.body = f"Take {k + 1}\nseed {act.get(PROP_SEED, '?')}"
        label.align_x, label.align_y = "CENTER", "BOTTOM"  # centred above the copy
        label.size = 0.09 * spacing
        lo = _tag(bpy.data.objects.new(f"THUNDER grid label {k + 1}", label), rig.obj.name, k)
        centre = sum((m.matrix_world.translation for m in members if m.type == "MESH"), Vector()) / max(
            1, sum(1 for m in members if m.type == "MESH"))
        pos = centre + offset
        pos.z = top + 0.08 * spacing
        lo.matrix_world = Matrix.Translation(pos) @ facing.to_4x4()
        coll.objects.link(lo)
    return coll


def remove_grid() -> int:
    """Delete the grid and everything it created; show the character again. Returns objects removed."""
    coll = bpy.data.collections.get(GRID_COLLECTION)
    if coll is None:
        return 0
    hidden = json.loads(coll.get(PROP_HIDDEN, "{}"))
    objs = [o for o in coll.objects if PROP_GRID in o]
    datas = {o.data for o in objs if o.data is not None and PROP_GRID in o.data}
    for o in objs:
        bpy.data.objects.remove(o)
    for d in datas:
        if isinstance(d, bpy.types.Mesh):
            bpy.data.meshes.remove(d)  # frees its shape keys too
        elif isinstance(d, bpy.types.Curve):
            bpy.data.curves.remove(d)
    bpy.data.collections.remove(coll)
    for name, (hv, hr) in hidden.items():
        o = bpy.data.objects.get(name)
        if o is not None:
            o.hide_viewport, o.hide_render = hv, hr
    return len(objs)


class THUNDER_OT_preview_grid(bpy.types.Operator):
    """Show every take side by side (one copy of the character per take, labelled with take and seed); press
    again to remove the grid"""

    bl_idname = "thunder.preview_grid"
    bl_label = "Preview Grid"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        if find_grid() is not None:
            n = remove_grid()
            self.report({"INFO"}, f"Preview grid removed ({n} objects)")
            return {"FINISHED"}
        from .ops_takes import _rig_and_takes

        rig, takes = _rig_and_takes(self, context)
        if rig is None:
            return {"CANCELLED"}
        build_grid(context, rig)
        self.report({"INFO"}, f"Preview grid: {len(takes)} takes side by side")
        return {"FINISHED"}


def register() -> None:
    bpy.utils.register_class(THUNDER_OT_preview_grid)


def unregister() -> None:
    bpy.utils.unregister_class(THUNDER_OT_preview_grid)
