"""Read what ``core.flame_fit`` needs from a FLAME rig in Blender: the neutral mesh, its triangles, the Exp
shape-key deltas and the vertex motion per radian of the jaw bone (opening about the bone's X axis, lateral turn
about its Z axis, as ``blender.keyframes`` keys them)."""
from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

from ..core.flame_fit import FitError
from ..core.rig_names import flame_key_index
from .rig import RigTarget

JAW_PROBE_RADIANS = 0.05  # small turn: the linearised jaw column


@dataclass
class FlameRigData:
    vertices: np.ndarray  # (N, 3) neutral, object space
    faces: np.ndarray  # (F, 3)
    exp_names: tuple[str, ...]
    exp_deltas: np.ndarray  # (K, N, 3)
    jaw_columns: np.ndarray  # (2, N, 3) per radian: opening, lateral


def _coords(points) -> np.ndarray:
    out = np.empty(len(points) * 3, dtype=np.float64)
    points.foreach_get("co", out)
    return out.reshape(-1, 3)


def _evaluated_vertices(mesh: bpy.types.Object) -> np.ndarray:
    deps = bpy.context.evaluated_depsgraph_get()
    deps.update()
    ev = mesh.evaluated_get(deps)
    me = ev.to_mesh()
    try:
        return _coords(me.vertices)
    finally:
        ev.to_mesh_clear()


def read_flame_rig(rig: RigTarget) -> FlameRigData:
    """The fitting inputs of ``rig`` (its main mesh and jaw bone). Changes the pose and shape-key values of the
    open file while it measures and puts them back before returning."""
    mesh, key = rig.mesh, rig.key
    polys = mesh.data.polygons
    sizes = np.empty(len(polys), dtype=np.int64)
    polys.foreach_get("loop_total", sizes)
    if len(polys) == 0 or np.any(sizes != 3):
        raise FitError(f"'{mesh.name}' is not an all-triangle mesh; the landmark embedding indexes FLAME's "
                       "triangles")
    loops = np.empty(len(polys) * 3, dtype=np.int64)
    polys.foreach_get("vertices", loops)
    faces = loops.reshape(-1, 3)
    ref = _coords(key.reference_key.data)
    exp = sorted(((flame_key_index(kb.name, "exp"), kb) for kb in key.key_blocks
                  if flame_key_index(kb.name, "exp") is not None), key=lambda x: x[0])
    names = tuple(kb.name for _, kb in exp)
    deltas = np.stack([_coords(kb.data) - ref for _, kb in exp]) if exp else np.zeros((0, len(ref), 3))
    cols = np.zeros((2, len(ref), 3))
    if rig.jaw_bone and rig.armature is not None:
        saved_values = {kb.name: kb.value for kb in key.key_blocks}
        pb = rig.armature.pose.bones[rig.jaw_bone]
        saved = (pb.rotation_mode, tuple(pb.rotation_euler), tuple(pb.rotation_quaternion),
                 tuple(pb.rotation_axis_angle))
        try:
            for kb in key.key_blocks:
                kb.value = 0.0
            pb.rotation_mode = "XYZ"
            pb.rotation_euler = (0.0, 0.0, 0.0)
            base = _evaluated_vertices(mesh)
            for i, euler in enumerate(((JAW_PROBE_RADIANS, 0.0, 0.0), (0.0, 0.0, JAW_PROBE_RADIANS))):
                pb.rotation_euler = euler
                cols[i] = (_evaluated_vertices(mesh) - base) / JAW_PROBE_RADIANS
        finally:
            pb.rotation_mode = saved[0]
            pb.rotation_euler, pb.rotation_quaternion, pb.rotation_axis_angle = saved[1], saved[2], saved[3]
            for kb in key.key_blocks:
                kb.value = saved_values[kb.name]
    return FlameRigData(ref, faces, names, deltas, cols)
