"""The mapping, visible and editable in the panel: the list (target, channel, gain, on/off) drawn into a
RecordingLayout, unmatched keys with a channel picker, edits stored on the object and saved with the .blend,
driving the written keys, JSON export/import, and ``thunder mapping`` printing the same table."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.blender.helpers import addon_module, curve_values, fcurves, make_mesh
from tests.blender.layout import RecordingLayout


def _rig(bpy):
    from thunder_blender.core.channels import ARKIT_52

    names = [f"A{i + 1:02d}_{n}" for i, n in enumerate(ARKIT_52[:10])] + ["Mouth_Smile_L", "Jaw_Open", "Wrinkles",
                                                                           "MyJaw"]
    return make_mesh(bpy, "Face", names)


def _takes(t=40):
    gen = addon_module("runtime.generate")
    w = np.random.default_rng(4).random((1, t, 55)).astype(np.float32)
    return gen.Takes(weights=w, fps=50.0, seeds=(3,))


def _rows(obj):
    return {r.target: r for r in obj.thunder.map_rows}


def test_mapping_list_edits_drive_keys_and_survive_save(bpy, empty_scene, tmp_path, capsys):
    ui, kf, rig_mod = addon_module("blender.ui"), addon_module("blender.keyframes"), addon_module("blender.rig")
    from thunder_blender.core.channels import INDEX

    obj = _rig(bpy)
    ui._RIG_CACHE.clear()
    layout = RecordingLayout()
    ui.draw_thunder(layout, bpy.context)  # before editing: the read-only table and the Edit button
    texts = layout.texts()
    assert "Mapping of 'Face'" in texts
    assert any(t.startswith("Mouth_Smile_L <- mouthSmileLeft") for t in texts)
    assert any(t.startswith("Wrinkles <- (none)") and "unmatched" in t for t in texts)
    assert any(c.args[:1] == ("thunder.mapping_edit",) for c in layout.called("operator"))

    assert bpy.ops.thunder.mapping_edit() == {"FINISHED"}
    rows = _rows(obj)
    assert set(rows) == {kb.name for kb in obj.data.shape_keys.key_blocks[1:]} | {"object Face"}
    assert rows["object Face"].detected == "headPitch, headYaw, headRoll"
    assert rows["Jaw_Open"].detected == "jawOpen" and rows["MyJaw"].detected == ""
    rows["MyJaw"].channel, rows["MyJaw"].gain = "jawOpen", 0.5  # an unmatched key gets a channel
    rows["Jaw_Open"].enabled = False  # and the detected one is switched off
    rows["Mouth_Smile_L"].gain = 2.0  # a gain on a detected driver

    ui._RIG_CACHE.clear()
    layout = RecordingLayout()
    ui.draw_thunder(layout, bpy.context)
    (tl,) = [c for c in layout.called("template_list") if c.args[:1] == ("THUNDER_UL_mapping",)]
    assert tl.args[3] == "map_rows" and tl.args[2] == bpy.data.objects["Face"].thunder
    item = RecordingLayout()
    ui.THUNDER_UL_mapping.draw_item(None, bpy.context, item, obj.thunder, rows["MyJaw"], 0, obj.thunder,
                                    "map_active", 0)
    assert [c.args[1] for c in item.called("prop")] == ["enabled", "channel", "gain"]
    assert "MyJaw" in item.texts()

    rig = rig_mod.detect_rig(obj)
    assert "Jaw_Open" not in rig.mapping.targets
    table = {r[0]: r for r in rig.table()}
    assert table["MyJaw"][1:] == ("0.5*jawOpen", "edited", "on")
    assert table["Mouth_Smile_L"][1:] == ("2*mouthSmileLeft", "edited", "on")
    assert table["Jaw_Open"][3] == "off" and table["Wrinkles"][2:] == ("unmatched", "not driven")

    takes = _takes()
    empty_scene.render.fps = 50
    (act,) = kf.write_takes(obj, takes, 1, 50.0, head_motion=False)
    curves = {fc.data_path: fc for fc in fcurves(act, "KEY")}
    assert 'key_blocks["Jaw_Open"].value' not in curves
    np.testing.assert_allclose(curve_values(curves['key_blocks["MyJaw"].value'])[1],
                               0.5 * takes.weights[0, :, INDEX["jawOpen"]], atol=1e-6)

    # saved with the file; the command line prints the same table
    path = tmp_path / "edited.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.wm.open_mainfile(filepath=str(path), load_ui=False)
    again = _rows(bpy.data.objects["Face"])
    assert again["MyJaw"].channel == "jawOpen" and not again["Jaw_Open"].enabled
    from thunder_cli import cli

    assert cli.main(["mapping", str(path)]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.strip().startswith("MyJaw"))
    assert "0.5*jawOpen" in line and "edited" in line
    assert any(x.strip().startswith("Jaw_Open") and x.rstrip().endswith("off") for x in out.splitlines())


def test_mapping_json_export_import_round_trip(bpy, empty_scene, tmp_path):
    rig_mod = addon_module("blender.rig")
    obj = _rig(bpy)
    bpy.context.view_layer.objects.active = obj
    assert bpy.ops.thunder.mapping_edit() == {"FINISHED"}
    rows = _rows(obj)
    rows["MyJaw"].channel, rows["MyJaw"].gain = "viseme_aa", 0.8
    rows["Wrinkles"].enabled = False
    out = tmp_path / "map.json"
    assert bpy.ops.thunder.mapping_export(filepath=str(out)) == {"FINISHED"}
    data = json.loads(out.read_text())
    assert data["shape_keys"]["MyJaw"] == {"viseme_aa": pytest.approx(0.8)} and data["disabled"] == ["Wrinkles"]
    before = rig_mod.detect_rig(obj).table()

    other = _rig(bpy)  # a second rig named the same way gets the same mapping from the file
    bpy.context.view_layer.objects.active = other
    assert bpy.ops.thunder.mapping_import(filepath=str(out)) == {"FINISHED"}
    assert rig_mod.detect_rig(other).table()[:-1] == before[:-1]  # (the last row names the head object)

    bad = tmp_path / "bad.json"
    bad.write_text('{"shape_keys": {"MyJaw": {"notAChannel": 1}}}')
    state = [(r.target, r.channel, r.gain, r.enabled) for r in other.thunder.map_rows]
    with pytest.raises(RuntimeError, match="unknown channel"):
        bpy.ops.thunder.mapping_import(filepath=str(bad))
    assert [(r.target, r.channel, r.gain, r.enabled) for r in other.thunder.map_rows] == state
    assert bpy.ops.thunder.mapping_reset() == {"FINISHED"} and len(other.thunder.map_rows) == 0


def test_unknown_channel_typed_in_a_row_is_reported_not_applied(bpy, empty_scene):
    rig_mod = addon_module("blender.rig")
    obj = _rig(bpy)
    assert bpy.ops.thunder.mapping_edit() == {"FINISHED"}
    _rows(obj)["MyJaw"].channel = "jawOpn"
    rig = rig_mod.detect_rig(obj)
    assert "MyJaw" not in rig.mapping.targets
    assert any("unknown channel 'jawOpn'" in n for n in rig.summary_lines())
