"""Detect what a target object can receive: shape-key mapping, FLAME jaw bone, head rotation target.

    rig = detect_rig(obj)                 # raises RigError with a one-line message
    rig.mapping.targets                   # shape keys that will be keyed
    rig.summary_lines()                   # ["ARKit: 52/52 shape keys", "Head: object rotation", ...]

Accepted targets: a mesh with shape keys (its armature parent, if any, gives head/neck and jaw bones), or an
armature whose child meshes have shape keys (the child matching the most keys is used). A FLAME rig (as
built by the FLAME Blender add-on) is a mesh with ``Exp*`` shape keys under an armature with a ``jaw``
bone; its expression keys are driven through a linear ARKit->FLAME map read from JSON
(``assets/flame_map_example.json`` unless a map is chosen in the preferences; that example is hand-made and
illustrative, not fitted), the jaw through the bone's rotation.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import bpy

from ..core.rig_names import (
    FlameMap,
    MappingError,
    ShapeKeyMapping,
    build_mapping,
    coverage_lines,
    flame_expression_keys,
    load_flame_map,
    load_user_map,
)

EXAMPLE_FLAME_MAP = os.path.join(os.path.dirname(os.path.dirname(__file__)), "assets", "flame_map_example.json")


class RigError(ValueError):
    """The target cannot be animated. The message is user-facing (one line)."""


@dataclass
class RigTarget:
    """Where a performance goes. Blender references are only valid on the main thread."""

    obj: bpy.types.Object  # what the user chose
    mesh: bpy.types.Object  # the mesh whose shape keys are keyed
    mapping: ShapeKeyMapping
    armature: bpy.types.Object | None = None
    jaw_bone: str | None = None
    head_bone: str | None = None
    flame: FlameMap | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def key(self) -> bpy.types.Key:
        return self.mesh.data.shape_keys

    @property
    def kind(self) -> str:
        if self.flame is not None:
            return "FLAME"
        origins = set(self.mapping.origin)
        for name, label in (("arkit", "ARKIT"), ("viseme", "VISEME"), ("vrm", "VRM"), ("user", "USER")):
            if origins == {name}:
                return label
        return "MIXED" if origins else "NONE"

    @property
    def head_target(self) -> bpy.types.Object:
        """The object whose action receives head (and jaw) rotation: the armature if a bone is used."""
        if self.armature is not None and (self.head_bone or self.jaw_bone):
            return self.armature
        return self.mesh

    def summary_lines(self) -> list[str]:
        lines = ["FLAME rig"] if self.flame is not None else []
        lines += coverage_lines(self.mapping)
        if self.jaw_bone:
            lines.append(f"Jaw: bone '{self.jaw_bone}' rotation")
        lines.append(f"Head: bone '{self.head_bone}'" if self.head_bone else f"Head: '{self.mesh.name}' rotation")
        return lines + self.notes


def _is_editable(idb) -> bool:
    return idb is not None and getattr(idb, "library", None) is None and getattr(idb, "is_editable", True)


def _key_names(mesh: bpy.types.Object) -> list[str]:
    key = mesh.data.shape_keys
    ref = key.reference_key.name if key.reference_key else None
    return [kb.name for kb in key.key_blocks if kb.name != ref]


def _find_bone(arm: bpy.types.Object, *words: str) -> str | None:
    names = [b.name for b in arm.data.bones]
    for w in words:
        for n in names:
            if n.lower() == w:
                return n
    for w in words:
        for n in names:
            if w in n.lower():
                return n
    return None


def _armature_of(mesh: bpy.types.Object) -> bpy.types.Object | None:
    if mesh.parent is not None and mesh.parent.type == "ARMATURE":
        return mesh.parent
    return mesh.find_armature()


def detect_rig(obj: bpy.types.Object | None, user_map_path: str = "", flame_map_path: str = "") -> RigTarget:
    """Inspect ``obj`` and return its ``RigTarget`` (see the module docstring)."""
    if obj is None:
        raise RigError("no target: select the face mesh (or its armature) and make it active")
    if not _is_editable(obj):
        raise RigError(f"'{obj.name}' is linked from a library and cannot be edited; make it local or override it")
    if obj.type == "ARMATURE":
        kids = [c for c in obj.children_recursive if c.type == "MESH" and c.data.shape_keys is not None]
        if not kids:
            raise RigError(f"armature '{obj.name}' has no child mesh with shape keys")
        mesh = max(kids, key=lambda c: (len(build_mapping(_key_names(c)).targets), len(_key_names(c)), c.name))
    elif obj.type == "MESH":
        mesh = obj
    else:
        raise RigError(f"'{obj.name}' is a {obj.type.lower()}; choose a mesh with shape keys")
    key = mesh.data.shape_keys
    if key is None or len(key.key_blocks) < 2:
        raise RigError(f"'{mesh.name}' has no shape keys to animate")
    if not (_is_editable(mesh) and _is_editable(mesh.data) and _is_editable(key)):
        raise RigError(f"'{mesh.name}' (or its shape keys) is linked from a library and cannot be edited")
    names = _key_names(mesh)
    try:
        user = load_user_map(bpy.path.abspath(user_map_path)) if user_map_path else None
    except MappingError as exc:
        raise RigError(str(exc)) from None
    arm = _armature_of(mesh)
    if arm is not None and not _is_editable(arm):
        arm = None
    jaw = _find_bone(arm, "jaw") if arm is not None else None
    head = _find_bone(arm, "head", "neck") if arm is not None else None
    flame = None
    notes: list[str] = []
    if flame_expression_keys(names) and jaw is not None:
        path = bpy.path.abspath(flame_map_path) if flame_map_path else EXAMPLE_FLAME_MAP
        try:
            flame = load_flame_map(path)
        except MappingError as exc:
            raise RigError(str(exc)) from None
    mapping = build_mapping(names, user_map=user, flame_map=flame)
    if flame is not None:
        n_exp = len(flame_expression_keys(names))
        if path == EXAMPLE_FLAME_MAP:
            notes.append("Exp map is the hand-made example (illustrative, not fitted)")
        notes.append(f"Not driven: {n_exp - mapping.count('flame')} of {n_exp} Exp keys, eyes, Pose*/Shape* keys")
    else:
        if mapping.targets and not mapping.count("arkit") and not mapping.count("user"):
            notes.append("Not driven: brows, cheeks, nose (the rig has no ARKit keys)")
        if mapping.unmatched:
            notes.append(f"Not driven: {len(mapping.unmatched)} unrecognised shape keys")
    if not mapping.targets and jaw is None:
        raise RigError(f"none of the shape keys of '{mesh.name}' match ARKit, viseme or VRM names; "
                       "add a mapping file in the THUNDER panel")
    return RigTarget(obj, mesh, mapping, arm, jaw if flame is not None else None, head, flame, notes)
