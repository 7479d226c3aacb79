"""Detect what a target object can receive: shape-key mapping, FLAME jaw bone, head rotation target.

    rig = detect_rig(obj)                 # raises RigError with a one-line message
    rig.mapping.targets                   # shape keys that will be keyed
    rig.summary_lines()                   # ["ARKit: 52/52 shape keys", "Head: object rotation", ...]

A target is a character, not one mesh. Accepted targets: a mesh with shape keys (its armature parent, if any,
gives head/neck and jaw bones), an armature whose child meshes have shape keys, or a collection. The main mesh
is the one matching the most keys; every other mesh of the character whose shape keys match too (teeth,
tongue, lashes carrying the same names: Ready Player Me, Character Creator, MetaHuman-style exports) is
driven as well (``RigTarget.parts``). A mesh's siblings are the meshes under the same armature (or parent).
Each mesh object's ``thunder.drive`` checkbox (panel) leaves it out when unchecked.

Library data: a purely linked object is refused with how to make a library override. On an override whose
mesh data is still linked, ``ensure_writable`` overrides the mesh data (so its shape keys can be animated)
right before keys are written. A FLAME rig (as
built by the FLAME Blender add-on) is a mesh with ``Exp*`` shape keys (any zero-padding) under an armature with
a ``jaw`` bone; its expression keys are driven through a linear ARKit->FLAME map read from JSON (one fitted to
the user's head by ``thunder flame-map``, chosen in the preferences; else ``assets/flame_map_example.json``,
hand-made and illustrative), the jaw, neck and eye bones (``left_eye``/``right_eye``) through their rotation in
whatever mode they use (the add-on leaves them in AXIS_ANGLE), and the ``Pose*`` correctives from those
rotations as FLAME defines them (``core.flame``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import bpy

from ..core.rig_names import (
    EditRow,
    FlameMap,
    MappingError,
    ShapeKeyMapping,
    apply_edits,
    build_mapping,
    coverage_lines,
    flame_expression_keys,
    flame_pose_keys,
    load_flame_map,
    load_user_map,
    mapping_table,
)

EXAMPLE_FLAME_MAP = os.path.join(os.path.dirname(os.path.dirname(__file__)), "assets", "flame_map_example.json")


class RigError(ValueError):
    """The target cannot be animated. The message is user-facing (one line)."""


OVERRIDE_HOWTO = ("make a library override first (3D View: Object > Library Override > Make > Selected & "
                  "Content), then select the overridden character")


@dataclass
class MeshPart:
    """One driven mesh of a character and the mapping of its own shape keys."""

    mesh: bpy.types.Object
    mapping: ShapeKeyMapping

    @property
    def key(self) -> bpy.types.Key:
        return self.mesh.data.shape_keys


@dataclass
class RigTarget:
    """Where a performance goes. Blender references are only valid on the main thread."""

    obj: bpy.types.Object  # what the user chose (for a collection: its armature or main mesh); holds the list
    mesh: bpy.types.Object  # the main mesh (most matching keys)
    mapping: ShapeKeyMapping
    armature: bpy.types.Object | None = None
    jaw_bone: str | None = None
    head_bone: str | None = None
    flame: FlameMap | None = None
    notes: list[str] = field(default_factory=list)
    extra: list[MeshPart] = field(default_factory=list)  # the other driven meshes of the character
    candidates: list[bpy.types.Object] = field(default_factory=list)  # every mesh that could be driven
    eye_bones: tuple[str, str] | None = None  # (left, right) eye bones turned by eyeLook* (FLAME rigs)
    rotation_edits: dict[str, EditRow] = field(default_factory=dict)  # panel rows "bone X" / "object X"

    def rotation_gain(self, row: str) -> float:
        """Gain of a rotated bone or object row (``"bone jaw"``, ``"object Face"``): 0 when switched off."""
        e = self.rotation_edits.get(row)
        return 1.0 if e is None else (float(e.gain) if e.enabled else 0.0)

    def head_row(self) -> str:
        return f"bone {self.head_bone}" if self.head_bone else f"object {self.head_target.name}"

    @property
    def key(self) -> bpy.types.Key:
        return self.mesh.data.shape_keys

    @property
    def parts(self) -> list[MeshPart]:
        """Every driven mesh, the main one first."""
        return [MeshPart(self.mesh, self.mapping), *self.extra]

    @property
    def holders(self) -> list[bpy.types.Object]:
        """Objects whose panel shows this character's takes list (the target, its meshes, its armature)."""
        out = [self.obj]
        for o in [p.mesh for p in self.parts] + [self.armature]:
            if o is not None and o not in out:
                out.append(o)
        return out

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

    def table(self, with_edits: bool = True) -> list[tuple[str, str, str, str]]:
        """(target, driver, origin, state) rows: the main mesh's shape keys (``core.rig_names.mapping_table``,
        with the panel's edits) and the rotated bones / head object (their edits applied unless
        ``with_edits`` is False). What the panel lists and ``thunder mapping`` prints."""
        rows = mapping_table(self.mapping, stored_edits(self.mesh))
        if self.jaw_bone and self.flame is not None:
            fm = self.flame
            rows.append((f"bone {self.jaw_bone}", f"{fm.jaw_open_radians:g} rad*jawOpen + "
                         f"{fm.jaw_lateral_radians:g} rad*(jawLeft - jawRight)", "bone", "on"))
            for bone, side in zip(self.eye_bones or (), ("Left", "Right"), strict=False):
                rows.append((f"bone {bone}", f"{fm.look_radians:g} rad*eyeLook*{side}", "bone", "on"))
        rows.append((self.head_row(), "headPitch, headYaw, headRoll", "head", "with head motion"))
        out = []
        for target, driver, origin, state in rows:  # edits of rotated bones / objects
            e = self.rotation_edits.get(target) if origin in ("bone", "head") and with_edits else None
            if e is not None and not e.enabled:
                state = "off"
            elif e is not None and e.gain != 1.0:
                driver, origin = f"{e.gain:g} x ({driver})", "edited"
            out.append((target, driver, origin, state))
        return out

    def summary_lines(self) -> list[str]:
        lines = ["FLAME rig"] if self.flame is not None else []
        lines += coverage_lines(self.mapping)
        if self.jaw_bone:
            lines.append(f"Jaw: bone '{self.jaw_bone}' rotation")
        if self.eye_bones:
            lines.append(f"Eyes: bones '{self.eye_bones[0]}', '{self.eye_bones[1]}'")
        lines.append(f"Head: bone '{self.head_bone}'" if self.head_bone else f"Head: '{self.mesh.name}' rotation")
        if self.extra:
            lines.append(f"Meshes: {', '.join(p.mesh.name for p in self.parts)}")
        return lines + self.notes


def _is_editable(idb) -> bool:
    return idb is not None and getattr(idb, "library", None) is None and getattr(idb, "is_editable", True)


def _is_override(idb) -> bool:
    return idb is not None and getattr(idb, "override_library", None) is not None


def _linked_error(idb) -> RigError:
    lib = getattr(idb, "library", None)
    where = f" from library '{lib.name}'" if lib is not None else " from a library"
    return RigError(f"'{idb.name}' is linked{where} and cannot be animated: {OVERRIDE_HOWTO}")


def _a(word: str) -> str:
    return ("an " if word[:1] in "aeiou" else "a ") + word


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


def _find_eye_bones(arm: bpy.types.Object) -> tuple[str, str] | None:
    """(left, right) eye bones: ``left_eye``/``right_eye`` (FLAME), ``LeftEye``, ``eye.L``... or None."""
    found = {}
    for b in arm.data.bones:
        n = b.name.lower().replace("-", "_").replace(".", "_").replace(" ", "_")
        if "eye" not in n or any(w in n for w in ("lid", "brow", "lash")):
            continue
        for side, words in (("left", ("left", "_l", "l_")), ("right", ("right", "_r", "r_"))):
            if side not in found and (n.startswith(words[2]) or n.endswith(words[1]) or words[0] in n):
                found[side] = b.name
    return (found["left"], found["right"]) if len(found) == 2 else None


def stored_edits(mesh: bpy.types.Object) -> list[EditRow]:
    """The mapping edits saved on ``mesh`` (panel rows; read as plain ID properties when the add-on's
    properties are not registered, e.g. in the command line)."""
    props = getattr(mesh, "thunder", None)
    if props is not None:
        return [EditRow(r.target, r.channel, float(r.gain), bool(r.enabled)) for r in props.map_rows]
    raw = mesh.get("thunder")
    rows = raw.get("map_rows", []) if raw is not None else []
    return [EditRow(str(r.get("target", "")), str(r.get("channel", "")), float(r.get("gain", 1.0)),
                    bool(r.get("enabled", True))) for r in rows]


ROTATION_ROWS = ("bone ", "object ")  # mapping rows that stand for a rotated bone or object, not a shape key


def mesh_mapping(mesh: bpy.types.Object, user=None, flame=None) -> tuple[ShapeKeyMapping, ShapeKeyMapping, list[str]]:
    """(mapping with the panel edits, mapping as detected, problems with the edits) of one mesh."""
    names = _key_names(mesh)
    detected = build_mapping(names, user_map=user, flame_map=flame)
    edits = [e for e in stored_edits(mesh) if not e.target.startswith(ROTATION_ROWS)]
    if not edits:
        return detected, detected, []
    edited, off, problems = apply_edits(names, detected, edits)
    return build_mapping(names, user_map=user, flame_map=flame, disabled=off, edited=edited), detected, problems


def _armature_of(mesh: bpy.types.Object) -> bpy.types.Object | None:
    if mesh.parent is not None and mesh.parent.type == "ARMATURE":
        return mesh.parent
    return mesh.find_armature()


def _shape_meshes(objects) -> list[bpy.types.Object]:
    return [o for o in objects if o.type == "MESH" and o.data is not None and o.data.shape_keys is not None
            and len(o.data.shape_keys.key_blocks) > 1]


def _drive(mesh: bpy.types.Object) -> bool:
    """The panel's per-mesh checkbox (True when the add-on's properties are not registered)."""
    props = getattr(mesh, "thunder", None)
    return True if props is None else bool(props.drive)


def _character_meshes(obj, mesh) -> list[bpy.types.Object]:
    """Meshes with shape keys that belong to the same character as ``mesh`` (the armature's or parent's
    children), ``mesh`` included."""
    root = _armature_of(mesh) or mesh.parent
    if obj is not None and getattr(obj, "type", "") == "ARMATURE":
        root = obj
    if root is None:
        return [mesh]
    found = _shape_meshes(root.children_recursive)
    return found if mesh in found else [mesh, *found]


def detect_rig(obj, user_map_path: str = "", flame_map_path: str = "") -> RigTarget:
    """Inspect ``obj`` (an object or a collection) and return its ``RigTarget`` (see the module docstring)."""
    if obj is None:
        raise RigError("no target: select the face mesh (or its armature) and make it active")
    if isinstance(obj, bpy.types.Collection):
        if not _is_editable(obj) and not _is_override(obj):
            raise _linked_error(obj)
        meshes = _shape_meshes(obj.all_objects)
        if not meshes:
            raise RigError(f"collection '{obj.name}' has no mesh with shape keys")
        arms = [o for o in obj.all_objects if o.type == "ARMATURE"]
        holder = arms[0] if len(arms) == 1 else None
    elif not _is_editable(obj) and not _is_override(obj):
        raise _linked_error(obj)
    elif obj.type == "ARMATURE":
        meshes = _shape_meshes(obj.children_recursive)
        if not meshes:
            raise RigError(f"armature '{obj.name}' has no child mesh with shape keys")
        holder = obj
    elif obj.type == "MESH":
        key = obj.data.shape_keys
        if key is None or len(key.key_blocks) < 2:
            raise RigError(f"'{obj.name}' has no shape keys to animate")
        meshes = _character_meshes(obj, obj)
        holder = obj
    elif obj.type == "EMPTY" and obj.instance_type == "COLLECTION" and obj.instance_collection is not None:
        raise RigError(f"'{obj.name}' is an empty that instances the collection "
                       f"'{obj.instance_collection.name}', whose objects cannot be animated: {OVERRIDE_HOWTO}")
    else:
        raise RigError(f"'{obj.name}' is {_a(obj.type.lower())}; choose a mesh with shape keys (or its armature)")
    try:
        user = load_user_map(bpy.path.abspath(user_map_path)) if user_map_path else None
    except MappingError as exc:
        raise RigError(str(exc)) from None
    linked = [m for m in meshes if not _is_override(m)
              and not (_is_editable(m) and _is_editable(m.data) and _is_editable(m.data.shape_keys))]
    meshes = [m for m in meshes if m not in linked]
    if not meshes:
        raise _linked_error(linked[0])

    def score(m):
        return (len(build_mapping(_key_names(m)).targets), len(_key_names(m)), m.name)

    candidates = sorted(meshes, key=score, reverse=True)  # the main mesh first, whichever mesh was picked
    driven = [m for m in candidates if _drive(m)]
    if not driven:
        raise RigError("no mesh of this character is checked under 'Driven meshes'")
    mesh = driven[0]
    if holder is None:
        holder = mesh
    names = _key_names(mesh)
    arm = _armature_of(mesh)
    if arm is not None and not (_is_editable(arm) or _is_override(arm)):
        arm = None
    jaw = _find_bone(arm, "jaw") if arm is not None else None
    head = _find_bone(arm, "head", "neck") if arm is not None else None
    flame = None
    notes: list[str] = [f"Not driven: '{m.name}' is linked; {OVERRIDE_HOWTO}" for m in linked]
    if flame_expression_keys(names) and jaw is not None:
        path = bpy.path.abspath(flame_map_path) if flame_map_path else EXAMPLE_FLAME_MAP
        try:
            flame = load_flame_map(path)
        except MappingError as exc:
            raise RigError(str(exc)) from None
    mapping, _detected, problems = mesh_mapping(mesh, user, flame)
    notes += problems
    eyes = _find_eye_bones(arm) if flame is not None else None
    if flame is not None:
        n_exp = len(flame_expression_keys(names))
        if path == EXAMPLE_FLAME_MAP:
            notes.append("Exp map is the hand-made example (illustrative, not fitted): "
                         "make one for this head with `thunder flame-map`")
        n_pose = len(flame_pose_keys(names))
        if n_pose:
            notes.append(f"Pose correctives: {n_pose} keys from the neck, jaw and eye rotations")
        missing = n_exp - mapping.count("flame")
        if missing:
            notes.append(f"Not driven: {missing} of {n_exp} Exp keys (not in the map)")
        aa = [b for b in (jaw, head, *(eyes or ())) if b and arm.pose.bones[b].rotation_mode == "AXIS_ANGLE"]
        if aa:
            notes.append(f"Bones {', '.join(aa)} are keyed in their own axis-angle mode")
    else:
        if mapping.targets and not mapping.count("arkit") and not mapping.count("user"):
            notes.append("Not driven: brows, cheeks, nose (the rig has no ARKit keys)")
        if mapping.unmatched:
            notes.append(f"Not driven: {len(mapping.unmatched)} unrecognised shape keys")
    if not mapping.targets and jaw is None:
        raise RigError(f"none of the shape keys of '{mesh.name}' match ARKit, viseme or VRM names; "
                       "add a mapping file in the THUNDER panel")
    extra, shown = [], [mesh]
    for m in candidates:
        mm = mesh_mapping(m, user, flame)[0]
        if not mm.targets or m is mesh:
            continue
        shown.append(m)
        if m in driven:
            extra.append(MeshPart(m, mm))
    candidates = [m for m in candidates if m in shown]
    rot_edits = {e.target: e for e in stored_edits(mesh) if e.target.startswith(ROTATION_ROWS)}
    return RigTarget(holder, mesh, mapping, arm, jaw if flame is not None else None, head, flame, notes,
                     extra, candidates, eyes, rot_edits)


def needs_data_override(mesh: bpy.types.Object) -> bool:
    """True for an overridden mesh object whose mesh data (and so its shape keys) is still linked."""
    return _is_override(mesh) and not _is_editable(mesh.data.shape_keys)


def ensure_writable(rig: RigTarget) -> list[str]:
    """Make the shape keys of every driven mesh animatable; returns notes about what was overridden.

    On a library override, the mesh data (with its shape keys) is overridden too: an override's shape keys
    and actions are saved with this file, linked ones are not."""
    notes = []
    for part in rig.parts:
        if needs_data_override(part.mesh):
            part.mesh.data.override_create(remap_local_usages=True)
            notes.append(f"made a library override of mesh '{part.mesh.data.name}' so its shape keys can be keyed")
    return notes
