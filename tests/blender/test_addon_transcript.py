"""A sound strip's transcript in the add-on: stored on the strip (line or Text datablock, through save and
reload), used by Generate and re-roll with the shipped model, its aligned words on the strip and in the panel."""
from __future__ import annotations

import json

import pytest

from tests.blender.helpers import DEMO_SPEECH, addon_module, model_available
from tests.blender.layout import RecordingLayout

needs_model = pytest.mark.skipif(not model_available(), reason="no trained model in models/ (model.json)")
DEMO_TEXT = "Watch the lips press shut on every b, p and m, then open wide for a bright hello."


def _strip(scene, frame_start=11):
    se = scene.sequence_editor_create()
    return se.strips.new_sound("speech", str(DEMO_SPEECH), channel=1, frame_start=frame_start)


def _panel_texts(ui, bpy) -> list[str]:
    layout = RecordingLayout()
    ui.draw_thunder(layout, bpy.context)
    return layout.texts()


def test_transcript_is_stored_on_the_strip_and_survives_reload(bpy, empty_scene, tmp_path):
    tr = addon_module("blender.transcript")
    strip = _strip(empty_scene)
    assert tr.text_of(strip.thunder) is None
    strip.thunder.transcript = "a line of words"
    assert tr.text_of(strip.thunder) == "a line of words"
    text = bpy.data.texts.new("line_12")
    text.write("the script\nof this line")
    strip.thunder.transcript_text = text
    assert tr.text_of(strip.thunder) == "the script\nof this line"  # the Text datablock wins when it has text
    strip.thunder.language = "nl"
    empty_scene.thunder.file_transcript.transcript = "file words"
    path = tmp_path / "saved.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.wm.open_mainfile(filepath=str(path))
    scene = bpy.context.scene
    again = scene.sequence_editor.strips_all["speech"]
    assert again.thunder.transcript == "a line of words" and again.thunder.language == "nl"
    assert tr.text_of(again.thunder) == "the script\nof this line"
    assert tr.holder(scene, "file:/x.wav").transcript == "file words"
    assert tr.holder(scene, "strip:nope") is None


@needs_model
def test_generate_and_reroll_use_the_strip_transcript(bpy, empty_scene):
    ui, tr = addon_module("blender.ui"), addon_module("blender.transcript")
    face = addon_module("blender.demo_head").build_demo_head(bpy.context)
    scene = empty_scene
    strip = _strip(scene, 11)
    strip.thunder.transcript = DEMO_TEXT
    scene.thunder.n_takes = 2
    bpy.context.view_layer.objects.active = face
    assert bpy.ops.thunder.generate() == {"FINISHED"}
    words, notes = tr.stored_words(strip.thunder)
    assert [w[0] for w in words] == DEMO_TEXT.replace(",", "").replace(".", "").split()
    first, end = 11, 11 + round(DEMO_SPEECH.stat().st_size / 2 / 16000 * 30) + 1
    placed = [w for w in words if w[1] is not None]
    assert len(placed) >= len(words) - 1
    assert all(first <= w[1] <= w[2] < end for w in placed)
    assert all(a[1] <= b[1] for a, b in zip(placed, placed[1:], strict=False))  # in order
    info = json.loads(face.thunder.takes[0].action["thunder_settings"])
    assert info["transcript"] == DEMO_TEXT and info["alignment"]["n_words"] == len(words)
    assert info["transcript_language"] == "en" and info["alignment"]["language"] == "en"
    # the panel shows the transcript fields and the aligned words
    texts = _panel_texts(ui, bpy)
    assert any("Transcript (optional" in t for t in texts) and "Words as Markers" in texts
    assert any(t.startswith("Aligned words:") for t in texts)
    assert any(t.startswith("Watch  ") for t in texts)
    # the words as timeline markers (over the strip in the Sequencer), and removed again
    scene.sequence_editor.active_strip = strip
    user_marker = scene.timeline_markers.new("mine", frame=5)
    assert bpy.ops.thunder.word_markers() == {"FINISHED"}
    names = {m.name: m.frame for m in scene.timeline_markers}
    assert names["Watch"] == words[0][1] and len(scene.timeline_markers) == len(placed) + 1
    assert any(t == "Remove Word Markers" for t in _panel_texts(ui, bpy))
    # a new generation moves the markers to its words; removing them leaves the user's own marker
    assert bpy.ops.thunder.generate() == {"FINISHED"}
    assert len(scene.timeline_markers) == len(placed) + 1
    assert bpy.ops.thunder.word_markers() == {"FINISHED"}
    assert [m.name for m in scene.timeline_markers] == ["mine"] and user_marker.frame == 5
    # a re-roll reuses the take's recorded transcript and language, even after the strip's were changed
    strip.thunder.transcript = "something else entirely"
    strip.thunder.language = "es"
    assert bpy.ops.thunder.take_reroll(index=1) == {"FINISHED"}
    info = json.loads(face.thunder.takes[1].action["thunder_settings"])
    assert info["transcript"] == DEMO_TEXT and info["alignment"]["language"] == "en"
    # the strip's language is what the next generation reads the words in
    strip.thunder.transcript = DEMO_TEXT
    assert bpy.ops.thunder.generate() == {"FINISHED"}
    info = json.loads(face.thunder.takes[0].action["thunder_settings"])
    assert info["transcript_language"] == "es" and info["alignment"]["language"] == "es"
    strip.thunder.language = "en"
    assert bpy.ops.thunder.generate() == {"FINISHED"}
    assert [w[0] for w in tr.stored_words(strip.thunder)[0]][0] == "Watch"
    # generating without a transcript clears the old words
    strip.thunder.transcript = ""
    assert bpy.ops.thunder.generate() == {"FINISHED"}
    assert tr.stored_words(strip.thunder) == ([], [])
    assert json.loads(face.thunder.takes[0].action["thunder_settings"])["transcript"] is None
