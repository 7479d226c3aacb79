"""Take output from the panel: "Export Takes..." (one glTF with every take, one FBX per take) and "Bake to
Active Action" (the chosen take becomes an ordinary action, for users who export through their own pipeline).

Export reuses the command line's writers (``blender.export``): in both formats a take's time 0 is the first
frame of its sound strip. The glTF holds one animation per take, plus one per other NLA layer of the
character (kept takes, the user's own layers; Blender's exporter writes every track), named after its track. Files are written into a temporary folder next to the destination and moved into
place only when every file is written, so a failed export leaves nothing half-written.
"""
from __future__ import annotations

import os
import shutil
import tempfile

import bpy
from bpy.props import BoolProperty, StringProperty

from .ops_takes import _rig_and_takes, _TakeOp


def other_layers(rig) -> list[str]:
    """Names of the character's NLA tracks that are not takes (kept takes, the user's layers): Blender's
    glTF exporter writes every track of the exported objects, so these become animations too."""
    from .takes import TRACK_PREFIX, anim_ids

    names = []
    for idb in anim_ids(rig):
        ad = idb.animation_data
        for tr in ad.nla_tracks if ad is not None else ():
            if len(tr.strips) and not tr.name.startswith(TRACK_PREFIX) and tr.name not in names:
                names.append(tr.name)
    return names


def export_takes(rig, takes, directory: str, base: str, glb: bool = True, fbx: bool = True) -> list[str]:
    """Write ``<base>.glb`` (one animation per take) and ``<base>_take_<k>.fbx`` into ``directory``.

    Every driven mesh of the character is exported. Returns the written paths."""
    from . import export

    os.makedirs(directory, exist_ok=True)
    extra = [p.mesh for p in rig.extra]
    staging = tempfile.mkdtemp(prefix=".thunder-export-", dir=directory)
    try:
        names = []
        if glb:
            names.append(f"{base}.glb")
            export.export_glb(os.path.join(staging, names[-1]), rig.mesh, takes, extra=extra)
        if fbx:
            for act in takes:
                names.append(f"{base}_take_{int(act['thunder_take']) + 1}.fbx")
                export.export_fbx_take(os.path.join(staging, names[-1]), rig.mesh, act, extra=extra)
        out = []
        for n in names:
            os.replace(os.path.join(staging, n), os.path.join(directory, n))
            out.append(os.path.join(directory, n))
        return out
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class THUNDER_OT_takes_export(bpy.types.Operator):
    """Write every take: one glTF binary with an animation per take and one FBX per take (timing relative
    to the sound strip)"""

    bl_idname = "thunder.takes_export"
    bl_label = "Export Takes"
    bl_options = {"REGISTER"}

    directory: StringProperty(name="Folder", subtype="DIR_PATH", options={"SKIP_SAVE"})
    filename: StringProperty(name="Base Name", default="", options={"SKIP_SAVE"},
                             description="File name stem (default: the character's name)")
    use_glb: BoolProperty(name="glTF (.glb)", default=True, description="One glTF binary, one animation per take")
    use_fbx: BoolProperty(name="FBX per take", default=True, description="One FBX file per take")

    def invoke(self, context, event):
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        rig, takes = _rig_and_takes(self, context)
        if rig is None:
            return {"CANCELLED"}
        directory = bpy.path.abspath(self.directory) if self.directory else ""
        if not directory:
            self.report({"ERROR"}, "choose a folder to export the takes into")
            return {"CANCELLED"}
        base = bpy.path.clean_name(os.path.splitext(self.filename)[0] or rig.obj.name)
        if not (self.use_glb or self.use_fbx):
            self.report({"ERROR"}, "nothing to export: tick glTF or FBX")
            return {"CANCELLED"}
        try:
            paths = export_takes(rig, takes, directory, base, self.use_glb, self.use_fbx)
        except (OSError, RuntimeError, ValueError) as exc:
            self.report({"ERROR"}, f"export failed, nothing written: {exc}")
            return {"CANCELLED"}
        msg = f"Exported {len(takes)} takes: {', '.join(os.path.basename(p) for p in paths)}"
        others = other_layers(rig) if self.use_glb else []
        if others:
            msg += f"; the glTF also holds the character's other NLA layers: {', '.join(others)}"
        self.report({"INFO"}, msg)
        return {"FINISHED"}


def bake_take(rig, action) -> bpy.types.Action:
    """Make a copy of take ``action`` an ordinary action, active on every ID it animates; the takes are
    cleared (the character's rest state restored first, a user action kept on a muted track)."""
    from .takes import (
        PROP_KEPT,
        PROP_REST,
        PROP_SEED,
        PROP_SETTINGS,
        PROP_TAKE,
        anim_targets,
        clear_takes,
        push_user_action,
        slot_for,
    )

    baked = action.copy()
    baked.name = f"{action.name}_baked"
    for prop in (PROP_SEED, PROP_TAKE, PROP_SETTINGS, PROP_KEPT, PROP_REST):
        if prop in baked:
            del baked[prop]
    clear_takes(rig)
    for idb, name in anim_targets(rig):
        slot = slot_for(baked, idb, name)
        if slot is None:
            continue
        push_user_action(idb)
        ad = idb.animation_data or idb.animation_data_create()
        ad.action = baked
        ad.action_slot = slot
    return baked


class THUNDER_OT_take_bake(_TakeOp, bpy.types.Operator):
    """Turn this take into an ordinary action, active on the character, and remove the takes (for your own
    export pipeline)"""

    bl_idname = "thunder.take_bake"
    bl_label = "Bake to Active Action"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        sel = self._selected(context)
        if sel is None:
            return {"CANCELLED"}
        rig, takes, i = sel
        from .grid import remove_grid

        if remove_grid():
            context.view_layer.objects.active = rig.obj
        baked = bake_take(rig, takes[i])
        self.report({"INFO"}, f"Baked take {i + 1} into action '{baked.name}'")
        return {"FINISHED"}


_CLASSES = (THUNDER_OT_takes_export, THUNDER_OT_take_bake)


register, unregister = bpy.utils.register_classes_factory(_CLASSES)
