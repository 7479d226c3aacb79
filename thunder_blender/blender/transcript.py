"""The transcript of a sound strip (or of the audio file source): where it is stored, and its aligned words.

A sound strip holds ``strip.thunder`` (``THUNDER_PG_transcript``): a one-line ``transcript``, or a Text
datablock ``transcript_text`` for longer scripts (it wins when it has text), and ``words``, the words of the
last generation as aligned (JSON, scene frames). The audio-file source keeps the same group on the scene
(``scene.thunder.file_transcript``). Both are saved with the .blend.

``thunder.word_markers`` shows the aligned words as timeline markers (in the Sequencer they sit over the
strip's waveform), and removes them again; the markers it made are recorded with the words, so only those
are removed, and a new generation moves them to the new words.
"""
from __future__ import annotations

import json

import bpy

MAX_WORDS_SHOWN = 60


def holder(scene, source: str):
    """The transcript group of an audio source (``strip:<name>`` / ``file:<path>``); None when the strip is gone."""
    if source.startswith("strip:"):
        from .strips import find_strip

        strip = find_strip(scene, source[len("strip:"):])
        return None if strip is None else strip.thunder
    return scene.thunder.file_transcript


def text_of(group) -> str | None:
    """The transcript in ``group``: the Text datablock's text if it has any, else the line; None when empty."""
    if group is None:
        return None
    if group.transcript_text is not None:
        text = group.transcript_text.as_string()
        if text.strip():
            return text
    return group.transcript if group.transcript.strip() else None


def store_words(group, alignment, start_frame: int, scene_fps: float, scene=None) -> None:
    """Record the aligned words (``core.alignment.Alignment``) on ``group`` in scene frames (word markers of
    ``scene`` shown for the old words move to the new ones)."""
    words = []
    for w in alignment.words:
        if w.start is None:
            words.append([w.text, None, None, 0.0, False])
            continue
        first = int(start_frame + round(w.start * scene_fps))
        last = max(first, int(start_frame + round(w.end * scene_fps)) - 1)
        words.append([w.text, first, last, round(w.confidence, 2), bool(w.used)])
    shown = scene is not None and remove_markers(scene, group)
    group.words = json.dumps({"words": words, "notes": list(alignment.notes), "markers": []})
    if shown:
        add_markers(scene, group)


def _data(group) -> dict:
    try:
        return json.loads(group.words) if group is not None and group.words else {}
    except (TypeError, ValueError):
        return {}


def has_markers(group) -> bool:
    return bool(_data(group).get("markers"))


def add_markers(scene, group) -> int:
    """A timeline marker on the first frame of every placed word (``word?`` when left to the audio)."""
    data = _data(group)
    made = []
    for text, first, _last, _conf, used in data.get("words", []):
        if first is None:
            continue
        name = text if used else f"{text}?"
        scene.timeline_markers.new(name, frame=int(first))
        made.append([name, int(first)])
    data["markers"] = made
    group.words = json.dumps(data)
    return len(made)


def remove_markers(scene, group) -> bool:
    """Remove the markers ``add_markers`` made (a marker the user renamed or moved stays). True if any were
    recorded."""
    data = _data(group)
    made = {(n, f) for n, f in data.get("markers", [])}
    if not made:
        return False
    for m in [m for m in scene.timeline_markers if (m.name, m.frame) in made]:
        scene.timeline_markers.remove(m)
    data["markers"] = []
    group.words = json.dumps(data)
    return True


def active_group(scene):
    """The transcript group of the panel's audio source (the active sound strip, or the audio file)."""
    if scene.thunder.audio_source == "FILE":
        return scene.thunder.file_transcript
    from .strips import active_sound_strip

    strip = active_sound_strip(scene)
    return None if strip is None else strip.thunder


def clear_words(group) -> None:
    if group is not None and group.words:
        group.words = ""


def stored_words(group) -> tuple[list[list], list[str]]:
    """([text, first frame, last frame, confidence, used] per word, notes) of the last alignment."""
    data = _data(group)
    return list(data.get("words", [])), list(data.get("notes", []))


def draw(layout, group, label: str = "Transcript") -> None:
    """The transcript fields and the aligned words of the last generation."""
    col = layout.column(align=True)
    col.label(text=f"{label} (optional)", icon="TEXT")
    row = col.row(align=True)
    row.enabled = group.transcript_text is None
    row.prop(group, "transcript", text="")
    col.prop(group, "transcript_text", text="Text")
    col.prop(group, "language", text="Language")
    words, notes = stored_words(group)
    if not words:
        return
    box = layout.box()
    used = sum(1 for w in words if w[4])
    box.label(text=f"Aligned words: {used}/{len(words)} used", icon="ALIGN_JUSTIFY")
    grid = box.grid_flow(columns=2, even_columns=True, align=True)
    for text, first, last, _conf, ok in words[:MAX_WORDS_SHOWN]:
        where = "not found" if first is None else f"{first}-{last}"
        grid.label(text=f"{text}  {where}", icon="NONE" if ok else "ERROR")
    if len(words) > MAX_WORDS_SHOWN:
        box.label(text=f"... and {len(words) - MAX_WORDS_SHOWN} more")
    for note in notes[:3]:
        box.label(text=note, icon="INFO")
    box.operator("thunder.word_markers", icon="MARKER_HLT",
                 text="Remove Word Markers" if has_markers(group) else "Words as Markers")


class THUNDER_OT_word_markers(bpy.types.Operator):
    """Show the aligned words as timeline markers (over the strip in the Sequencer), or remove them"""

    bl_idname = "thunder.word_markers"
    bl_label = "Word Markers"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        if context.scene is None or not stored_words(active_group(context.scene))[0]:
            cls.poll_message_set("generate with a transcript first")
            return False
        return True

    def execute(self, context):
        scene = context.scene
        group = active_group(scene)
        if remove_markers(scene, group):
            self.report({"INFO"}, "Word markers removed")
        else:
            self.report({"INFO"}, f"{add_markers(scene, group)} word markers added")
        return {"FINISHED"}


register, unregister = bpy.utils.register_classes_factory((THUNDER_OT_word_markers,))
