"""The demo head inside real Blender: the operator, its 53 key blocks, and evaluated vertices that match
``core.head.pose``."""
from __future__ import annotations

import numpy as np
import pytest

from thunder_blender.core.channels import ARKIT_52
from thunder_blender.core.head import load_demo_head, pose


def _evaluated_vertices(bpy, obj) -> np.ndarray:
    depsgraph = bpy.context.evaluated_depsgraph_get()
    ev = obj.evaluated_get(depsgraph)
    mesh = ev.to_mesh()
    try:
        co = np.empty(len(mesh.vertices) * 3, np.float32)
        mesh.vertices.foreach_get("co", co)
    finally:
        ev.to_mesh_clear()
    return co.reshape(-1, 3)


def test_operator_adds_the_head_with_all_arkit_keys(bpy, empty_scene):
    assert "FINISHED" in bpy.ops.thunder.add_demo_head()
    obj = bpy.context.view_layer.objects.active
    assert obj is not None and obj.type == "MESH" and obj.name == "THUNDER Demo Head"
    keys = obj.data.shape_keys.key_blocks
    assert len(keys) == 53
    assert [k.name for k in keys] == ["Basis", *ARKIT_52]
    head = load_demo_head()
    assert len(obj.data.vertices) == head.n_vertices and len(obj.data.polygons) == len(head.faces)
    assert obj.data.uv_layers.active is not None
    assert len(obj.data.materials) == len(head.material_names)
    assert all(p.use_smooth for p in obj.data.polygons)
    # the Add > Mesh menu shows the operator
    menu_funcs = bpy.types.VIEW3D_MT_mesh_add._dyn_ui_initialize()
    assert any(getattr(f, "__module__", "").endswith("blender.demo_head") for f in menu_funcs)


def test_evaluated_jaw_open_matches_core_pose(bpy, empty_scene):
    bpy.ops.thunder.add_demo_head()
    obj = bpy.context.view_layer.objects.active
    head = load_demo_head()
    rest = _evaluated_vertices(bpy, obj)
    np.testing.assert_allclose(rest, head.vertices, atol=1e-6)
    for name, value in (("jawOpen", 1.0), ("mouthClose", 0.6), ("eyeBlinkLeft", 0.4)):
        obj.data.shape_keys.key_blocks[name].value = value
        w = np.zeros(52, np.float32)
        for k in obj.data.shape_keys.key_blocks[1:]:
            w[ARKIT_52.index(k.name)] = k.value
        np.testing.assert_allclose(_evaluated_vertices(bpy, obj), pose(head, w), atol=2e-6)


def test_bad_asset_reports_and_leaves_the_scene_untouched(bpy, empty_scene, addon, monkeypatch):
    import importlib

    mod = importlib.import_module(f"{addon.__name__}.blender.demo_head")

    def broken():
        raise OSError("demo head asset not found: /nowhere/demo_head.npz")

    monkeypatch.setattr(mod, "load_demo_head", broken)
    n_obj, n_mesh = len(bpy.data.objects), len(bpy.data.meshes)
    with pytest.raises(RuntimeError, match="Could not load the demo head"):
        bpy.ops.thunder.add_demo_head()
    assert len(bpy.data.objects) == n_obj and len(bpy.data.meshes) == n_mesh


def test_contact_sheet_tiles_show_the_shapes(bpy, empty_scene):
    """The sheet's renderer (Cycles, CPU): jawOpen changes the lower face far more than the upper face,
    and eyeBlinkLeft changes the upper face more than the lower face."""
    from thunder_train.head.sheet import render_tiles

    neutral, jaw, blink = render_tiles(["neutral", "jawOpen", "eyeBlinkLeft"], size=96, samples=4,
                                       view="front")
    assert neutral.shape == (115, 96, 4)
    assert neutral[..., :3].std() > 0.05  # a face, not an empty frame

    def change(img, rows):
        return float(np.abs(img[rows, :, :3] - neutral[rows, :, :3]).mean())

    h = neutral.shape[0]
    upper, lower = slice(0, h // 2), slice(h // 2, h)
    assert change(jaw, lower) > 3 * change(jaw, upper)
    assert change(blink, upper) > 3 * change(blink, lower)
