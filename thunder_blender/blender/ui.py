"""Sidebar panels (3D View and Sequencer, tab "THUNDER") and the takes list."""
from __future__ import annotations

import bpy

from .ops_generate import STATUS

_RIG_CACHE: dict = {}


def _signature(target, paths: dict) -> tuple:
    """What rig detection depends on: names, key names, hierarchy, checkboxes, override state."""
    objs = list(getattr(target, "all_objects", ())) if isinstance(target, bpy.types.Collection) else [target]
    if not isinstance(target, bpy.types.Collection):
        root = target.parent or target
        objs += [root, *root.children_recursive]
    out = [type(target).__name__, target.name, tuple(sorted(paths.items()))]
    for o in objs:
        key = getattr(getattr(o, "data", None), "shape_keys", None) if o.type == "MESH" else None
        props = getattr(o, "thunder", None)
        drive = getattr(props, "drive", True)
        edits = tuple((r.target, r.channel, round(r.gain, 6), r.enabled) for r in props.map_rows) if props else ()
        out.append((o.name, o.type, o.parent.name if o.parent else "", drive, o.library is None,
                    o.override_library is None, tuple(kb.name for kb in key.key_blocks) if key else (), edits))
    return tuple(out)


def _rig_summary(context) -> tuple[list[str], str, str, list[str], str, list[tuple[str, str, str, str]]]:
    """(detected rig lines, error, name of the object holding the takes list, meshes that can be driven,
    main mesh, mapping table) for the current target. Cached on what detection depends on."""
    from .props import mapping_paths, target_of

    target = target_of(context)
    if target is None:
        return [], "Select the face mesh (or its armature)", "", [], "", []
    paths = mapping_paths(context)
    sig = _signature(target, paths)
    if sig not in _RIG_CACHE:
        from .rig import RigError, detect_rig

        try:
            rig = detect_rig(target, **paths)
            _RIG_CACHE[sig] = (rig.summary_lines(), "", rig.obj.name, [m.name for m in rig.candidates],
                               rig.mesh.name, rig.table())
        except RigError as exc:
            _RIG_CACHE[sig] = ([], str(exc), "", [], "", [])
        if len(_RIG_CACHE) > 32:
            _RIG_CACHE.pop(next(iter(_RIG_CACHE)))
    return _RIG_CACHE[sig]


class THUNDER_UL_mapping(bpy.types.UIList):
    """Mapping rows: on/off, shape key, driving channel (picker), gain."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0, flt_flag=0):
        row = layout.row(align=True)
        row.prop(item, "enabled", text="")
        rotated = item.target.startswith(("bone ", "object "))
        row.label(text=item.target, icon="BONE_DATA" if rotated else
                  "SHAPEKEY_DATA" if (item.detected or item.channel) else "ERROR")
        if rotated:  # a rotated bone or the head object: its channels are fixed, gain and on/off apply
            row.label(text=item.detected)
        elif item.channel or not item.detected:
            row.prop(item, "channel", text="")
        else:
            row.label(text=item.detected)
            row.prop(item, "channel", text="", icon="DOWNARROW_HLT")
        row.prop(item, "gain", text="")


class THUNDER_UL_takes(bpy.types.UIList):
    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0, flt_flag=0):
        act = item.action
        if act is None:
            layout.label(text="(missing)", icon="ERROR")
            return
        row = layout.row(align=True)
        row.label(text=act.name, icon="ACTION")
        row.label(text=f"seed {act.get('thunder_seed', '?')}")
        if act.get("thunder_kept"):
            row.label(text="", icon="PINNED")


def draw_thunder(layout, context) -> None:
    scene = context.scene
    s = scene.thunder
    col = layout.column()
    col.prop(s, "audio_source", expand=True)
    from . import transcript

    if s.audio_source == "FILE":
        col.prop(s, "audio_file", text="")
        col.prop(s, "file_start_frame")
        transcript.draw(layout, s.file_transcript)
    else:
        from .compat import strip_span
        from .strips import active_sound_strip

        strip = active_sound_strip(scene)
        if strip is None:
            col.label(text="No sound strip selected", icon="ERROR")
        else:
            first, end = strip_span(strip)
            col.label(text=f"{strip.name}: frames {first}-{end - 1}", icon="SOUND")
            transcript.draw(layout, strip.thunder)
    box = layout.box()
    lines, err, holder_name, meshes, main_mesh, table = _rig_summary(context)
    from .props import target_of

    target = target_of(context)
    box.prop(s, "character")
    box.label(text=f"Target: {target.name}" if target else "Target: none", icon="OBJECT_DATA")
    if err:
        box.label(text=err, icon="ERROR")
    for line in lines:
        box.label(text=line)
    if len(meshes) > 1:
        sub = box.column(align=True)
        sub.label(text="Driven meshes")
        for name in meshes:
            m = bpy.data.objects.get(name)
            if m is not None:
                sub.prop(m.thunder, "drive", text=name)
    box.prop(s, "mapping_file", text="Map")
    if "FLAME rig" in lines:  # the ARKit->FLAME map (fitted with `thunder flame-map`) is chosen here too
        from .prefs import get_prefs

        prefs = get_prefs(context)
        if prefs is not None:
            box.prop(prefs, "flame_map_file", text="FLAME Map")
    _draw_mapping(box, main_mesh, table)
    col = layout.column(align=True)
    col.prop(s, "n_takes")
    col.prop(s, "seed")
    col.prop(s, "emotion")
    col.prop(s, "intensity")
    col.prop(s, "guidance")
    col.prop(s, "head_motion")
    col.prop(s, "mouth_variation")
    draw_shaping(layout, s)
    if STATUS["running"]:
        frac = STATUS["done"] / STATUS["total"] if STATUS["total"] else 0.0
        layout.progress(factor=frac, type="BAR", text=f"{STATUS['text']} (Esc cancels)")
    layout.operator("thunder.generate", icon="PLAY")
    holder = bpy.data.objects.get(holder_name) if holder_name else None
    props = getattr(holder, "thunder", None) if holder else None
    if props is not None and len(props.takes):
        layout.label(text="Takes")
        layout.template_list("THUNDER_UL_takes", "", props, "takes", props, "active_take", rows=3)
        row = layout.row(align=True)
        row.operator("thunder.take_keep", text="Keep", icon="CHECKMARK")
        row.operator("thunder.take_reroll", text="Re-roll", icon="FILE_REFRESH")
        row.operator("thunder.takes_clear", text="Clear", icon="TRASH")
        if 0 <= props.active_take < len(props.takes) and props.takes[props.active_take].action is not None:
            from .ops_generate import take_notes

            for note in take_notes(props.takes[props.active_take].action):
                layout.label(text=note, icon="INFO")
        row = layout.row(align=True)
        row.operator("thunder.takes_export", text="Export Takes...", icon="EXPORT")
        row.operator("thunder.take_bake", text="Bake to Active Action", icon="ACTION")
        from .grid import find_grid

        on = find_grid() is not None
        layout.operator("thunder.preview_grid", text="Remove Preview Grid" if on else "Preview Grid",
                        icon="LIGHTPROBE_GRID", depress=on)


def draw_shaping(layout, s) -> None:
    """Write-time controls: strength and smoothing per region, offset, key reduction."""
    from ..core.regions import REGIONS

    box = layout.box()
    box.label(text="Shaping (applied when keys are written)")
    box.prop(s, "mouth_only")
    grid = box.grid_flow(row_major=True, columns=3, align=True)
    grid.label(text="Region")
    grid.label(text="Strength")
    grid.label(text="Smooth Hz")
    for r in REGIONS:
        grid.label(text=s.bl_rna.properties[f"strength_{r}"].name)
        row = grid.row()
        row.active = not s.mouth_only or r == "mouth"
        row.prop(s, f"strength_{r}", text="")
        grid.prop(s, f"smooth_{r}", text="")
    box.prop(s, "offset_ms")
    row = box.row(align=True)
    row.prop(s, "reduce_keys")
    sub = row.row()
    sub.active = s.reduce_keys
    sub.prop(s, "key_tolerance")


def _draw_mapping(box, main_mesh: str, table) -> None:
    """The mapping: the editable list when the mesh has rows, else the read-only table and a button."""
    mesh = bpy.data.objects.get(main_mesh) if main_mesh else None
    if mesh is None:
        return
    props = mesh.thunder
    sub = box.column(align=True)
    sub.label(text=f"Mapping of '{mesh.name}'", icon="MODIFIER")
    keys = [r for r in table if r[2] not in ("bone", "head")]
    if len(props.map_rows):
        sub.template_list("THUNDER_UL_mapping", "", props, "map_rows", props, "map_active", rows=6)
    else:
        driven = [r for r in keys if r[2] != "unmatched"]
        for target, driver, origin, state in driven[:MAX_TABLE_ROWS]:
            sub.label(text=f"{target} <- {driver or '(none)'}   [{origin}, {state}]")
        if len(driven) > MAX_TABLE_ROWS:
            sub.label(text=f"... {len(driven) - MAX_TABLE_ROWS} more (Edit Mapping lists them all)")
        for target, _driver, origin, state in keys:  # unmatched keys: always listed, pick a channel in the list
            if origin == "unmatched":
                sub.label(text=f"{target} <- (none)   [{origin}, {state}]", icon="ERROR")
    if not len(props.map_rows):
        for target, driver, _origin, state in table:
            if (target, driver, _origin, state) not in keys:
                sub.label(text=f"{target} <- {driver}  [{state}]", icon="BONE_DATA")
    row = sub.row(align=True)
    row.operator("thunder.mapping_edit", text="Edit Mapping" if not len(props.map_rows) else "Refresh",
                 icon="GREASEPENCIL")
    if len(props.map_rows):
        row.operator("thunder.mapping_reset", text="Reset", icon="LOOP_BACK")
    row.operator("thunder.mapping_import", text="", icon="IMPORT")
    row.operator("thunder.mapping_export", text="", icon="EXPORT")


MAX_TABLE_ROWS = 12


class _ThunderPanel:
    """The same panel in the 3D View and the Sequencer sidebars (tab "THUNDER")."""

    bl_label = "THUNDER Lip Sync"
    bl_region_type = "UI"
    bl_category = "THUNDER"

    def draw(self, context):
        draw_thunder(self.layout, context)


class THUNDER_PT_view3d(_ThunderPanel, bpy.types.Panel):
    bl_idname = "THUNDER_PT_view3d"
    bl_space_type = "VIEW_3D"


class THUNDER_PT_sequencer(_ThunderPanel, bpy.types.Panel):
    bl_idname = "THUNDER_PT_sequencer"
    bl_space_type = "SEQUENCE_EDITOR"


_CLASSES = (THUNDER_UL_mapping, THUNDER_UL_takes, THUNDER_PT_view3d, THUNDER_PT_sequencer)


def register() -> None:
    for cls in _CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    _RIG_CACHE.clear()
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
