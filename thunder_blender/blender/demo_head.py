"""Add the THUNDER demo head (MediaPipe canonical face with the 52 ARKit shape keys) to the scene."""
from __future__ import annotations

import bpy
import numpy as np

from ..core.head import DemoHead, load_demo_head
from .compat import node_tree

DEFAULT_NAME = "THUNDER Demo Head"

# Base colour and roughness per material name.
_MATERIAL_LOOK: dict[str, tuple[tuple[float, float, float, float], float]] = {
    "Skin": ((0.52, 0.32, 0.24, 1.0), 0.55),
    "Lips": ((0.45, 0.16, 0.15, 1.0), 0.45),
    "Brows": ((0.09, 0.06, 0.04, 1.0), 0.8),
    "Mouth": ((0.18, 0.03, 0.04, 1.0), 0.7),
    "Sclera": ((0.92, 0.91, 0.88, 1.0), 0.25),
    "Iris": ((0.10, 0.06, 0.03, 1.0), 0.3),
    "Pupil": ((0.01, 0.01, 0.01, 1.0), 0.2),
    "Tongue": ((0.70, 0.28, 0.30, 1.0), 0.5),
    "Teeth": ((0.93, 0.91, 0.84, 1.0), 0.35),
}


def _material(name: str) -> bpy.types.Material:
    full = f"THUNDER {name}"
    mat = bpy.data.materials.get(full)
    if mat is None:
        mat = bpy.data.materials.new(full)
        color, rough = _MATERIAL_LOOK.get(name, ((0.8, 0.8, 0.8, 1.0), 0.5))
        mat.diffuse_color = color
        mat.roughness = rough
        bsdf = node_tree(mat).nodes.get("Principled BSDF")
        if bsdf is not None:
            bsdf.inputs["Base Color"].default_value = color
            bsdf.inputs["Roughness"].default_value = rough
    return mat


def build_mesh(head: DemoHead, name: str) -> bpy.types.Mesh:
    """A mesh datablock with the head's triangles, per-corner UVs, materials and smooth shading."""
    mesh = bpy.data.meshes.new(name)
    verts = np.asarray(head.vertices, dtype=np.float32)
    faces = np.asarray(head.faces, dtype=np.int32)
    mesh.vertices.add(len(verts))
    mesh.vertices.foreach_set("co", verts.ravel())
    mesh.loops.add(faces.size)
    mesh.loops.foreach_set("vertex_index", faces.ravel())
    mesh.polygons.add(len(faces))
    mesh.polygons.foreach_set("loop_start", np.arange(0, faces.size, 3, dtype=np.int32))
    mesh.polygons.foreach_set("material_index", np.asarray(head.material_index, dtype=np.int32))
    mesh.polygons.foreach_set("use_smooth", np.ones(len(faces), dtype=bool))
    uv = mesh.uv_layers.new(name="UVMap")
    uv.data.foreach_set("uv", np.asarray(head.uvs, dtype=np.float32)[faces.ravel()].ravel())
    for mname in head.material_names:
        mesh.materials.append(_material(mname))
    mesh.update()
    mesh.validate(clean_customdata=False)
    return mesh


def build_demo_head(context, name: str = DEFAULT_NAME) -> bpy.types.Object:
    """Create the demo head object (Basis + 52 ARKit shape keys) at the 3D cursor and make it active."""
    head = load_demo_head()
    mesh = build_mesh(head, name)
    obj = bpy.data.objects.new(name, mesh)
    context.collection.objects.link(obj)
    obj.location = context.scene.cursor.location
    basis = obj.shape_key_add(name="Basis", from_mix=False)
    basis.interpolation = "KEY_LINEAR"
    base = np.asarray(head.vertices, dtype=np.float32)
    for k, key_name in enumerate(head.shape_names):
        kb = obj.shape_key_add(name=key_name, from_mix=False)
        kb.slider_min, kb.slider_max = 0.0, 1.0
        kb.value = 0.0  # Blender 5.0+ adds new shape keys at 1.0; the head must start neutral
        kb.data.foreach_set("co", (base + head.deltas[k]).ravel())
    mesh.shape_keys.name = f"{name} Keys"
    for o in context.view_layer.objects:
        o.select_set(False)
    obj.select_set(True)
    context.view_layer.objects.active = obj
    return obj


class THUNDER_OT_add_demo_head(bpy.types.Operator):
    """Add a face with all 52 ARKit shape keys (MediaPipe canonical face, Apache-2.0)"""

    bl_idname = "thunder.add_demo_head"
    bl_label = "Add THUNDER demo head"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        if context.collection is None:
            self.report({"ERROR"}, "No active collection to add the demo head to")
            return {"CANCELLED"}
        try:
            obj = build_demo_head(context)
        except (OSError, ValueError) as exc:
            self.report({"ERROR"}, f"Could not load the demo head: {exc}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Added '{obj.name}' with {len(obj.data.shape_keys.key_blocks) - 1} shape keys")
        return {"FINISHED"}


def _menu(self, context):
    self.layout.operator(THUNDER_OT_add_demo_head.bl_idname, icon="MONKEY")


def register() -> None:
    bpy.utils.register_class(THUNDER_OT_add_demo_head)
    bpy.types.VIEW3D_MT_mesh_add.append(_menu)


def unregister() -> None:
    bpy.types.VIEW3D_MT_mesh_add.remove(_menu)
    bpy.utils.unregister_class(THUNDER_OT_add_demo_head)
