"""Differences between the Blender versions the add-on supports (4.4 to 5.x), in one place.

The minimum is Blender 4.4 (``blender_version_min`` in the manifest): every take is one slotted action
that keys the shape keys and the head/jaw rotation together, and slotted actions and ``SequenceEditor.strips``
exist from 4.4 on. The names below are resolved once from the running Blender's RNA, so the rest of the
add-on reads one spelling and never touches a property that warns as deprecated.

* Sound strip timing (5.1 renamed it; the old names warn "expected to be removed in Blender 6.0"):
  ``left_handle`` was ``frame_final_start``, ``right_handle`` was ``frame_final_end``, ``content_start`` was
  ``frame_start``, ``left_handle_offset`` (frames trimmed off the start) was ``frame_offset_start``.
* glTF export of takes: Blender 4.4's exporter gives each shape-key NLA track the keys of the track after
  it (take 1 is written with take 2's weights, the last take twice), so several takes cannot be exported
  there; its 4.5 exporter is correct.
* Library overrides: from 5.0 the add-on's properties live in an ID's system properties, and the override
  diff no longer makes the (empty) group of a linked reference that never had one. An override whose
  reference has no ``thunder`` group then records ``thunder`` as a replacement of the whole pointer, which
  cannot be applied when the file is read again ("expected ID type, not THUNDER_PG_object"): the takes list
  comes back empty. ``fill_override_references`` gives those references their (empty) group before a save.
* Node trees: from 5.0 every new material and world has one, and ``use_nodes`` is deprecated (to be removed
  in 6.0); before 5.0 it must be switched on to get the tree.
"""
from __future__ import annotations

import bpy

_STRIP_PROPS = bpy.types.SoundStrip.bl_rna.properties
_NEW_STRIP_NAMES = "left_handle" in _STRIP_PROPS

#: Attribute names of a strip's first heard frame, first frame after it, and where its content starts.
STRIP_LEFT = "left_handle" if _NEW_STRIP_NAMES else "frame_final_start"
STRIP_RIGHT = "right_handle" if _NEW_STRIP_NAMES else "frame_final_end"
STRIP_CONTENT_START = "content_start" if _NEW_STRIP_NAMES else "frame_start"
#: Attribute name of the number of frames trimmed off a strip's start.
STRIP_LEFT_OFFSET = "left_handle_offset" if _NEW_STRIP_NAMES else "frame_offset_start"

#: Blender 4.4's glTF exporter mislabels shape-key NLA tracks (see above).
GLTF_MISLABELS_SHAPE_KEY_TRACKS = bpy.app.version < (4, 5, 0)


def strip_span(strip) -> tuple[int, int]:
    """Scene frames ``[left, right)`` on which ``strip`` plays (after trimming)."""
    return int(getattr(strip, STRIP_LEFT)), int(getattr(strip, STRIP_RIGHT))


def strip_content_start(strip) -> float:
    """Scene frame where the strip's source starts (before the visible part when trimmed)."""
    return float(getattr(strip, STRIP_CONTENT_START))


def node_tree(idb):
    """The node tree of a new material or world, switching nodes on where Blender still needs that (< 5.0)."""
    if idb.node_tree is None:
        idb.use_nodes = True
    return idb.node_tree


def fill_override_references(prop: str = "thunder") -> None:
    """Give the linked reference of every override that has add-on property ``prop`` its own (empty) group,
    so the override diff records the changes inside it (see above), and drop a replacement of the whole
    ``prop`` pointer recorded before (it is never valid: ``prop`` is a property group, not an ID). Reading
    the pointer makes the group, in memory only: linked data is never written."""
    for obj in bpy.data.objects:
        ov = obj.override_library
        if ov is None or ov.reference is None or not obj.is_property_set(prop):
            continue
        getattr(ov.reference, prop)
        stale = [p for p in ov.properties if p.rna_path == prop]
        for p in stale:
            ov.properties.remove(p)
        if stale:
            ov.operations_update()  # record what the stale replacement stood for, inside the group
