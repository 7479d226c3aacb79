"""Add-on properties: generation settings on the scene, the takes list on the target object."""
from __future__ import annotations

import bpy
from bpy.app.handlers import persistent
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

from ..core.channels import EMOTIONS
from ..core.keyreduce import DEFAULT_TOLERANCE
from ..core.pronounce import LANGUAGES
from ..core.regions import REGION_LABELS, REGIONS, STRENGTH_RANGE
from ..core.shaping import MAX_OFFSET_MS, MAX_TOLERANCE
from ..core.smoothing import MAX_CUTOFF_HZ
from .compat import fill_override_references

_EMOTION_ITEMS = [(e, e.capitalize(), "Let the model choose" if e == "auto" else f"{e.capitalize()} delivery")
                  for e in EMOTIONS]


def _strength(region: str):
    return FloatProperty(name=REGION_LABELS[region], default=1.0, min=STRENGTH_RANGE[0], max=STRENGTH_RANGE[1],
                         description=f"{REGION_LABELS[region]}: 0 keeps it at rest, 1 as generated, 2 doubles "
                                     "its motion")


def _smooth(region: str):
    return FloatProperty(name=REGION_LABELS[region], default=0.0, min=0.0, max=MAX_CUTOFF_HZ, soft_max=15.0,
                         unit="NONE", description=f"Smoothing of {REGION_LABELS[region]}: cut-off in Hz "
                                                  "(0: off; lower is smoother; lip closures are kept)")


def shaping_from_scene(s) -> dict:
    """The scene's write-time controls as ``core.shaping.Shaping.to_dict()`` (validated)."""
    from ..core.shaping import Shaping

    return Shaping(strength={r: float(getattr(s, f"strength_{r}")) for r in REGIONS},
                   mouth_only=bool(s.mouth_only),
                   smooth_hz={r: float(getattr(s, f"smooth_{r}")) for r in REGIONS},
                   offset_ms=float(s.offset_ms), reduce_keys=bool(s.reduce_keys),
                   key_tolerance=float(s.key_tolerance)).to_dict()


class THUNDER_PG_take(bpy.types.PropertyGroup):
    action: PointerProperty(type=bpy.types.Action, name="Action", description="The take's action")


def _on_active_take(self, context) -> None:
    """Preview the take selected in the list (makes its action active)."""
    if not (0 <= self.active_take < len(self.takes)):
        return
    action = self.takes[self.active_take].action
    if action is None:
        return
    from .rig import RigError, detect_rig
    from .takes import set_active_take

    try:
        rig = detect_rig(self.id_data, **mapping_paths(context))
    except RigError:
        return
    set_active_take(rig, action)


def _channel_search(self, context, edit_text):
    from ..core.rig_names import FEATURES

    text = edit_text.lower()
    return [f for f in FEATURES if text in f.lower()]


class THUNDER_PG_map_row(bpy.types.PropertyGroup):
    """One shape key of the mapping edited in the panel (``core.rig_names.EditRow``)."""

    target: StringProperty(name="Shape Key", override={"LIBRARY_OVERRIDABLE"})
    channel: StringProperty(name="Channel", search=_channel_search, override={"LIBRARY_OVERRIDABLE"},
                            description="ARKit channel or viseme_* that drives this key (empty: the detected one)")
    gain: FloatProperty(name="Gain", default=1.0, soft_min=0.0, soft_max=2.0, min=-10.0, max=10.0,
                        override={"LIBRARY_OVERRIDABLE"}, description="Multiplies the driving channel")
    enabled: BoolProperty(name="On", default=True, override={"LIBRARY_OVERRIDABLE"},
                          description="Key this shape key (off: leave it alone)")
    detected: StringProperty(name="Detected", description="What drives it without edits",
                             override={"LIBRARY_OVERRIDABLE"})


class THUNDER_PG_object(bpy.types.PropertyGroup):
    takes: CollectionProperty(type=THUNDER_PG_take, override={"LIBRARY_OVERRIDABLE", "USE_INSERTION"})
    active_take: IntProperty(name="Take", default=0, min=0, update=_on_active_take,
                             override={"LIBRARY_OVERRIDABLE"},
                             description="Selecting a take previews it (makes its action active)")
    drive: BoolProperty(name="Drive", default=True, override={"LIBRARY_OVERRIDABLE"},
                        description="Key this mesh's shape keys with the character's takes")
    map_rows: CollectionProperty(type=THUNDER_PG_map_row, override={"LIBRARY_OVERRIDABLE", "USE_INSERTION"})
    map_active: IntProperty(name="Mapping Row", default=0, min=0, override={"LIBRARY_OVERRIDABLE"})


class THUNDER_PG_transcript(bpy.types.PropertyGroup):
    """What is said in one audio source (a sound strip, or the audio file), and its last alignment
    (``blender.transcript``)."""

    transcript: StringProperty(name="Transcript",
                               description="What is said. Aligned to the audio for exact phone timing; "
                                           "empty: the takes come from the audio alone")
    language: EnumProperty(name="Language", default="en",
                           description="Language of the transcript (its pronunciation table)",
                           items=[(k, v, f"Pronunciations: {v}") for k, v in LANGUAGES.items()])
    transcript_text: PointerProperty(type=bpy.types.Text, name="Text",
                                     description="A text datablock with what is said (used instead of the line "
                                                 "above; for longer scripts)")
    words: StringProperty(name="Aligned Words", options={"HIDDEN"},
                          description="The words of the last generation as aligned (JSON, scene frames)")


class THUNDER_PG_scene(bpy.types.PropertyGroup):
    audio_source: EnumProperty(
        name="Audio", default="STRIP",
        description="Where the speech comes from: a sound strip in the Sequencer (takes follow its frames) or "
                    "an audio file placed at a start frame",
        items=[("STRIP", "Sound Strip", "The active (or selected) sound strip in the Sequencer"),
               ("FILE", "File", "An audio file placed at a start frame")])
    audio_file: StringProperty(name="Audio File", subtype="FILE_PATH", description="Speech audio (wav, flac, mp3...)")
    file_start_frame: IntProperty(name="Start Frame", default=1, description="Frame where the audio file starts")
    file_transcript: PointerProperty(type=THUNDER_PG_transcript, name="File Transcript")
    n_takes: IntProperty(name="Takes", default=4, min=1, max=16, description="How many takes to generate")
    seed: IntProperty(name="Seed", default=0, min=0, description="Seed of the first take (takes use derived seeds)")
    emotion: EnumProperty(name="Emotion", items=_EMOTION_ITEMS, default="auto",
                          description="Emotion of the delivery; Auto lets the model choose from the speech")
    intensity: FloatProperty(name="Intensity", default=0.5, min=0.0, max=1.0, subtype="FACTOR",
                             description="How strongly the emotion shows: 0 neutral, 1 strongest")
    guidance: FloatProperty(name="Expressiveness", default=1.0, min=0.0, max=4.0,
                            description="Guidance scale: higher follows emotion and speech more strongly")
    head_motion: BoolProperty(name="Head Motion", default=True, description="Key head rotation too")
    mouth_variation: FloatProperty(name="Mouth Variation", default=0.0, min=0.0, max=1.0, subtype="FACTOR",
                                   description="How much the mouth may differ between takes. 0: the mouth follows "
                                               "the speech and takes differ in brows, eyes and head; higher values "
                                               "vary the mouth too, at some cost in lip-sync")
    mapping_file: StringProperty(name="Mapping File", subtype="FILE_PATH",
                                 description="Optional JSON shape-key mapping for custom rigs")
    character: PointerProperty(type=bpy.types.Collection, name="Character",
                               description="Animate every mesh of this collection (empty: the active object "
                                           "and the meshes that share its armature)")

    # Write-time controls (core.shaping.Shaping), stored on each take; a re-roll keeps the take's own.
    strength_mouth: _strength("mouth")
    strength_cheeks: _strength("cheeks")
    strength_brows: _strength("brows")
    strength_eyes: _strength("eyes")
    strength_head: _strength("head")
    mouth_only: BoolProperty(name="Mouth Only", default=False,
                             description="Key only the jaw and mouth: every other region stays at rest")
    smooth_mouth: _smooth("mouth")
    smooth_cheeks: _smooth("cheeks")
    smooth_brows: _smooth("brows")
    smooth_eyes: _smooth("eyes")
    smooth_head: _smooth("head")
    offset_ms: FloatProperty(name="Offset (ms)", default=0.0, min=-MAX_OFFSET_MS, max=MAX_OFFSET_MS,
                             soft_min=-200.0, soft_max=200.0,
                             description="Move every key by this many milliseconds (negative: the face leads "
                                         "the audio)")
    reduce_keys: BoolProperty(name="Reduce Keys", default=False,
                              description="Bake each curve to the fewest linear keys within the tolerance "
                                          "(lip closures keep their keys)")
    key_tolerance: FloatProperty(name="Tolerance", default=DEFAULT_TOLERANCE, min=1e-4, max=MAX_TOLERANCE,
                                 precision=3, description="Largest allowed difference from the unreduced curve")


def target_of(context):
    """What to animate: the scene's Character collection if set, else the active object."""
    scene = context.scene
    coll = scene.thunder.character if scene is not None else None
    if coll is not None:
        return coll
    obj = context.active_object
    src = obj.get("thunder_grid") if obj is not None else None  # a copy in the preview grid: its character
    return bpy.data.objects.get(src, obj) if src else obj


def mapping_paths(context) -> dict:
    """Keyword arguments for ``rig.detect_rig`` from the scene settings and preferences."""
    from .prefs import get_prefs

    scene = context.scene
    prefs = get_prefs(context)
    return {"user_map_path": scene.thunder.mapping_file if scene else "",
            "flame_map_path": prefs.flame_map_file if prefs else ""}


_CLASSES = (THUNDER_PG_take, THUNDER_PG_map_row, THUNDER_PG_object, THUNDER_PG_transcript, THUNDER_PG_scene)


@persistent
def _fill_override_references(_file) -> None:
    """Library overrides keep their takes list through saves on every Blender (see ``compat``): before a
    save, and after a load (the linked references are read again without the group)."""
    fill_override_references("thunder")


def register() -> None:
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.thunder = PointerProperty(type=THUNDER_PG_scene)
    bpy.types.Object.thunder = PointerProperty(type=THUNDER_PG_object, override={"LIBRARY_OVERRIDABLE"})
    bpy.types.SoundStrip.thunder = PointerProperty(type=THUNDER_PG_transcript)
    bpy.app.handlers.save_pre.append(_fill_override_references)
    bpy.app.handlers.load_post.append(_fill_override_references)


def unregister() -> None:
    for handlers in (bpy.app.handlers.save_pre, bpy.app.handlers.load_post):
        if _fill_override_references in handlers:
            handlers.remove(_fill_override_references)
    del bpy.types.SoundStrip.thunder
    del bpy.types.Object.thunder
    del bpy.types.Scene.thunder
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
