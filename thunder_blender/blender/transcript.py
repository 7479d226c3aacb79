"""The transcript of a sound strip (or of the audio file source): where it is stored, and its aligned words.

A sound strip holds ``strip.thunder`` (``THUNDER_PG_transcript``): a one-line ``transcript``, or a Text
datablock ``transcript_text`` for longer scripts (it wins when it has text), and ``words``, the words of the
last generation as aligned (JSON, scene frames). The audio-file source keeps the same group on the scene
(``scene.thunder.file_transcript``). Both are saved with the .blend.
"""
from __future__ import annotations

import json

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


def store_words(group, alignment, start_frame: int, scene_fps: float) -> None:
    """Record the aligned words (``core.alignment.Alignment``) on ``group`` in scene frames."""
    words = []
    for w in alignment.words:
        if w.start is None:
            words.append([w.text, None, None, 0.0, False])
            continue
        first = int(start_frame + round(w.start * scene_fps))
        last = max(first, int(start_frame + round(w.end * scene_fps)) - 1)
        words.append([w.text, first, last, round(w.confidence, 2), bool(w.used)])
    group.words = json.dumps({"words": words, "notes": list(alignment.notes)})


def clear_words(group) -> None:
    if group is not None and group.words:
        group.words = ""


def stored_words(group) -> tuple[list[list], list[str]]:
    """([text, first frame, last frame, confidence, used] per word, notes) of the last alignment."""
    if group is None or not group.words:
        return [], []
    try:
        data = json.loads(group.words)
        return list(data.get("words", [])), list(data.get("notes", []))
    except (TypeError, ValueError):
        return [], []


def draw(layout, group, label: str = "Transcript") -> None:
    """The transcript fields and the aligned words of the last generation."""
    col = layout.column(align=True)
    col.label(text=f"{label} (English, optional)", icon="TEXT")
    row = col.row(align=True)
    row.enabled = group.transcript_text is None
    row.prop(group, "transcript", text="")
    col.prop(group, "transcript_text", text="Text")
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
