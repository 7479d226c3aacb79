"""The mapping, visible and editable: fill the panel's list from detection, reset it, and JSON import/export.

The rows live on the main mesh (``thunder.map_rows``, saved with the .blend): per shape key, the channel that
drives it (empty: the detected one), a gain and an on/off toggle (``core.rig_names.EditRow``). Keys no name rule
matched are listed too, with an empty channel to pick. The JSON format is the mapping-file format
(``core.rig_names.load_user_map``) plus ``"disabled": [key, ...]``.
"""
from __future__ import annotations

import json
from pathlib import Path

import bpy
from bpy.props import StringProperty


def _rig(op, context):
    from .props import mapping_paths, target_of
    from .rig import RigError, detect_rig

    try:
        return detect_rig(target_of(context), **mapping_paths(context))
    except RigError as exc:
        op.report({"ERROR"}, str(exc))
        return None


def fill_rows(rig) -> int:
    """(Re)build the main mesh's rows from its current mapping, keeping the edits already made."""
    from ..core.rig_names import driver_text
    from .rig import mesh_mapping

    mesh = rig.mesh
    props = mesh.thunder
    old = {r.target: (r.channel, r.gain, r.enabled) for r in props.map_rows}
    _mapping, detected, _problems = mesh_mapping(mesh, *_sources(rig))
    props.map_rows.clear()
    rows = [(t, driver_text(row)) for t, row in zip(detected.targets, detected.matrix, strict=True)]
    rows += [(t, "") for t in detected.unmatched]
    rows += [(t, "") for t in old if t not in {r[0] for r in rows} and not t.startswith(("bone ", "object "))]
    # rotated bones / head object: gain and on/off (their channels are fixed)
    rows += [(target, driver) for target, driver, origin, _state in rig.table(with_edits=False)
             if origin in ("bone", "head")]
    for target, text in rows:
        r = props.map_rows.add()
        r.target, r.detected = target, text
        if target in old:
            r.channel, r.gain, r.enabled = old[target]
    return len(rows)


def _sources(rig):
    """The file map and FLAME map detection used (the panel's edits come on top of them)."""
    from ..core.rig_names import load_user_map
    from .props import mapping_paths

    paths = mapping_paths(bpy.context)
    user = load_user_map(bpy.path.abspath(paths["user_map_path"])) if paths["user_map_path"] else None
    return user, rig.flame


class THUNDER_OT_mapping_edit(bpy.types.Operator):
    """List every shape key of the target with the channel that drives it, to edit gains, channels and toggles"""

    bl_idname = "thunder.mapping_edit"
    bl_label = "Edit Mapping"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        rig = _rig(self, context)
        if rig is None:
            return {"CANCELLED"}
        n = fill_rows(rig)
        self.report({"INFO"}, f"{n} shape keys of '{rig.mesh.name}' listed")
        return {"FINISHED"}


class THUNDER_OT_mapping_reset(bpy.types.Operator):
    """Forget the edits: the detected mapping applies again"""

    bl_idname = "thunder.mapping_reset"
    bl_label = "Reset Mapping"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        rig = _rig(self, context)
        if rig is None:
            return {"CANCELLED"}
        rig.mesh.thunder.map_rows.clear()
        return {"FINISHED"}


class THUNDER_OT_mapping_export(bpy.types.Operator):
    """Write the mapping in effect (edits included) as a JSON mapping file"""

    bl_idname = "thunder.mapping_export"
    bl_label = "Export Mapping"
    filepath: StringProperty(subtype="FILE_PATH", options={"SKIP_SAVE"})
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"})

    def invoke(self, context, event):
        self.filepath = "mapping.json"
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        from ..core.rig_names import FEATURES

        rig = _rig(self, context)
        if rig is None:
            return {"CANCELLED"}
        m = rig.mapping
        keys = {t: {FEATURES[i]: round(float(row[i]), 6) for i in row.nonzero()[0]}
                for t, row in zip(m.targets, m.matrix, strict=True)}
        off = [r.target for r in rig.mesh.thunder.map_rows if not r.enabled]
        data = {"shape_keys": keys, "disabled": off, "mesh": rig.mesh.name}
        path = Path(bpy.path.abspath(self.filepath))
        if not path.parent.is_dir():
            self.report({"ERROR"}, f"folder {path.parent} does not exist")
            return {"CANCELLED"}
        tmp = path.with_name(path.name + ".part")
        tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)
        self.report({"INFO"}, f"wrote {len(keys)} shape keys to {path.name}")
        return {"FINISHED"}


class THUNDER_OT_mapping_import(bpy.types.Operator):
    """Read a JSON mapping file into the list (its keys are set to the channels it names; "disabled" keys
    are switched off). Nothing changes if the file is unreadable"""

    bl_idname = "thunder.mapping_import"
    bl_label = "Import Mapping"
    bl_options = {"REGISTER", "UNDO"}
    filepath: StringProperty(subtype="FILE_PATH", options={"SKIP_SAVE"})
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"})

    def invoke(self, context, event):
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        from ..core.rig_names import MappingError, load_user_map

        rig = _rig(self, context)
        if rig is None:
            return {"CANCELLED"}
        path = bpy.path.abspath(self.filepath)
        try:
            keys = load_user_map(path)
            off = json.loads(Path(path).read_text(encoding="utf-8")).get("disabled", [])
        except MappingError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if not isinstance(off, list) or not all(isinstance(k, str) for k in off):
            self.report({"ERROR"}, f"mapping file {path}: \"disabled\" must be a list of shape-key names")
            return {"CANCELLED"}
        fill_rows(rig)
        rows = {r.target: r for r in rig.mesh.thunder.map_rows}
        skipped = [k for k in list(keys) + off if k not in rows]
        mixed = [k for k, combo in keys.items() if k in rows and len(combo) > 1]
        for k, combo in keys.items():
            if k not in rows or k in mixed:
                continue
            ((ch, gain),) = combo.items()
            same = rows[k].detected == ch and gain == 1.0  # what detection gives anyway: no edit
            rows[k].channel, rows[k].gain, rows[k].enabled = ("", 1.0, True) if same else (ch, gain, True)
        for k in off:
            if k in rows:
                rows[k].enabled = False
        msg = f"imported {len(keys) - len(mixed) - len([k for k in keys if k not in rows])} keys"
        if mixed:
            msg += f"; {len(mixed)} keys mix several channels: choose the file as Map to use them"
        if skipped:
            msg += f"; not on this mesh: {', '.join(skipped[:5])}"
        self.report({"INFO"}, msg)
        return {"FINISHED"}


_CLASSES = (THUNDER_OT_mapping_edit, THUNDER_OT_mapping_reset, THUNDER_OT_mapping_export, THUNDER_OT_mapping_import)


register, unregister = bpy.utils.register_classes_factory(_CLASSES)
