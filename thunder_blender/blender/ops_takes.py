"""Take management operators: preview, keep, re-roll and clear the takes of the active object."""
from __future__ import annotations

import bpy
from bpy.props import IntProperty


def _rig_and_takes(op, context):
    from .grid import grid_source
    from .props import mapping_paths, target_of
    from .rig import RigError, detect_rig
    from .takes import find_takes

    target = target_of(context)
    src = grid_source(target) if isinstance(target, bpy.types.Object) else None
    if src is not None:  # a copy in the preview grid stands for its character
        target = src[0]
    try:
        rig = detect_rig(target, **mapping_paths(context))
    except RigError as exc:
        op.report({"ERROR"}, str(exc))
        return None, []
    takes = find_takes(rig)
    if not takes:
        op.report({"ERROR"}, f"'{rig.obj.name}' has no THUNDER takes")
        return None, []
    return rig, takes


class _TakeOp:
    index: IntProperty(name="Take", default=-1, min=-1, options={"SKIP_SAVE"},
                       description="Take index (-1: the one selected in the list)")

    def _index(self, context, n: int) -> int | None:
        from .grid import grid_source

        i = self.index
        src = grid_source(context.active_object)
        if i < 0 and src is not None:  # Keep on a copy in the preview grid: that copy's take
            i = src[1]
        elif i < 0:
            props = self._props
            i = props.active_take if props is not None else 0
        if not 0 <= i < n:
            self.report({"ERROR"}, f"no take {i + 1} (there are {n})")
            return None
        return i

    def _selected(self, context):
        """(rig, takes, index) of the take this operator acts on, or None after reporting why."""
        rig, takes = _rig_and_takes(self, context)
        self._props = getattr(rig.obj, "thunder", None) if rig else None
        i = self._index(context, len(takes)) if rig else None
        return None if i is None else (rig, takes, i)


class THUNDER_OT_take_preview(_TakeOp, bpy.types.Operator):
    """Make this take the active animation"""

    bl_idname = "thunder.take_preview"
    bl_label = "Preview Take"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        from .takes import set_active_take, sync_list

        sel = self._selected(context)
        if sel is None:
            return {"CANCELLED"}
        rig, takes, i = sel
        set_active_take(rig, takes[i])
        sync_list(rig, i)
        return {"FINISHED"}


class THUNDER_OT_take_keep(_TakeOp, bpy.types.Operator):
    """Keep this take and delete the others"""

    bl_idname = "thunder.take_keep"
    bl_label = "Keep Take"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        from .grid import remove_grid
        from .takes import keep_take

        sel = self._selected(context)
        if sel is None:
            return {"CANCELLED"}
        rig, takes, i = sel
        if remove_grid():
            context.view_layer.objects.active = rig.obj
        keep_take(rig, takes[i])
        self.report({"INFO"}, f"Kept {takes[i].name}")
        return {"FINISHED"}


class THUNDER_OT_take_reroll(_TakeOp, bpy.types.Operator):
    """Generate this take again with a fresh seed (same audio and settings)"""

    bl_idname = "thunder.take_reroll"
    bl_label = "Re-roll Take"

    def invoke(self, context, event):
        return self._run(context, "INVOKE_DEFAULT")

    def execute(self, context):
        return self._run(context, "EXEC_DEFAULT")

    def _run(self, context, mode: str):
        sel = self._selected(context)
        if sel is None:
            return {"CANCELLED"}
        i = sel[2]
        # The generate operator runs on its own (modal, with its own undo step); this one only starts it.
        try:
            result = bpy.ops.thunder.generate(mode, reroll_take=i)
        except RuntimeError as exc:  # the generate operator already reported it; keep one clean line
            self.report({"ERROR"}, str(exc).removeprefix("Error: ").strip())
            return {"CANCELLED"}
        return {"FINISHED"} if result & {"RUNNING_MODAL", "FINISHED"} else {"CANCELLED"}


class THUNDER_OT_takes_clear(bpy.types.Operator):
    """Delete the takes in the list and restore the character as it was before the first take"""

    bl_idname = "thunder.takes_clear"
    bl_label = "Clear Takes"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        from .grid import remove_grid
        from .takes import clear_takes

        rig, takes = _rig_and_takes(self, context)
        if rig is None:
            return {"CANCELLED"}
        if remove_grid():
            context.view_layer.objects.active = rig.obj
        n, kept = clear_takes(rig)
        msg = f"Removed {n} takes; the character is back as it was before the first take"
        if kept:
            msg += f" ({len(kept)} kept take(s) stay on muted 'THUNDER kept' tracks)"
        self.report({"INFO"}, msg)
        return {"FINISHED"}


_CLASSES = (THUNDER_OT_take_preview, THUNDER_OT_take_keep, THUNDER_OT_take_reroll, THUNDER_OT_takes_clear)


register, unregister = bpy.utils.register_classes_factory(_CLASSES)
