"""core.gltf_compact on small hand-built documents: what is rewritten, what is left alone."""
from __future__ import annotations

import numpy as np
import pytest

from thunder_blender.core import gltf_compact as gc


def _doc(weights: np.ndarray, zero_target: bool = True) -> tuple[dict, bytes]:
    """One triangle with 2 morph targets (the second all zeros, stored sparse as Blender does), a TEXCOORD_0,
    one weights animation; one bufferView per accessor."""
    pos = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], "<f4")
    uv = np.zeros((3, 2), "<f4")
    idx = np.array([0, 1, 2], "<u2")
    t0 = np.array([[0, 0, 0.5], [0, 0, 0], [0, 0, 0]], "<f4")
    sp_idx, sp_val = np.array([0], "<u1"), np.zeros((1, 3), "<f4")
    times = (np.arange(len(weights)) / 30).astype("<f4")
    parts = [pos, uv, idx, t0, sp_idx, sp_val, times, weights.astype("<f4")]
    blob, views = b"", []
    for p in parts:
        blob += b"\0" * (-len(blob) % 4)
        views.append({"buffer": 0, "byteOffset": len(blob), "byteLength": p.nbytes})
        blob += p.tobytes()
    blob += b"\0" * (-len(blob) % 4)
    z = {"componentType": 5126, "count": 3, "type": "VEC3", "min": [0, 0, 0], "max": [0, 0, 0]}
    z["sparse"] = {"count": 1, "indices": {"bufferView": 4, "componentType": 5121}, "values": {"bufferView": 5}}
    accessors = [
        {"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3", "min": [0, 0, 0], "max": [1, 1, 0]},
        {"bufferView": 1, "componentType": 5126, "count": 3, "type": "VEC2"},
        {"bufferView": 2, "componentType": 5123, "count": 3, "type": "SCALAR"},
        {"bufferView": 3, "componentType": 5126, "count": 3, "type": "VEC3", "min": [0, 0, 0],
         "max": [0, 0, 0.5]},
        z,
        {"bufferView": 6, "componentType": 5126, "count": len(times), "type": "SCALAR",
         "min": [0.0], "max": [float(times[-1])]},
        {"bufferView": 7, "componentType": 5126, "count": weights.size, "type": "SCALAR"},
    ]
    doc = {
        "asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0, "TEXCOORD_0": 1}, "indices": 2,
                                    "targets": [{"POSITION": 3}, {"POSITION": 4}]}], "weights": [0, 0]}],
        "animations": [{"channels": [{"sampler": 0, "target": {"node": 0, "path": "weights"}}],
                        "samplers": [{"input": 5, "output": 6}]}],
        "accessors": accessors, "bufferViews": views, "buffers": [{"byteLength": len(blob)}],
    }
    return doc, blob


def test_rewrites_weights_texcoords_empty_targets_and_views():
    rng = np.random.default_rng(0)
    weights = rng.uniform(0, 1, (20, 2))
    weights[3] = [0.0, 1.0]
    doc, blob = _doc(weights)
    new, new_blob, report = gc.compact(doc, blob)
    assert report.skipped is None and report.quantized_outputs == 1 and report.emptied_targets == 1
    assert report.dropped_attributes == ["TEXCOORD_0"] and report.buffer_views_before == 8
    assert len(new["bufferViews"]) == 3 and len(new["accessors"]) == 6  # TEXCOORD_0 accessor gone
    prim = new["meshes"][0]["primitives"][0]
    assert set(prim["attributes"]) == {"POSITION"}
    empty = new["accessors"][prim["targets"][1]["POSITION"]]
    assert "bufferView" not in empty and "sparse" not in empty
    out = new["accessors"][new["animations"][0]["samplers"][0]["output"]]
    assert out["componentType"] == 5123 and out["normalized"] and "min" not in out
    view = new["bufferViews"][out["bufferView"]]
    q = np.frombuffer(new_blob, "<u2", out["count"], view["byteOffset"] + out.get("byteOffset", 0))
    assert np.abs(q / 65535.0 - weights.ravel()).max() <= 0.5 / 65535 + 1e-9
    assert q[6] == 0 and q[7] == 65535
    # Vertex data shares one strided view; positions and the target come back unchanged.
    for i, ref in ((prim["attributes"]["POSITION"], [[0, 0, 0], [1, 0, 0], [0, 1, 0]]),
                   (prim["targets"][0]["POSITION"], [[0, 0, 0.5], [0, 0, 0], [0, 0, 0]])):
        acc = new["accessors"][i]
        v = new["bufferViews"][acc["bufferView"]]
        assert v["byteStride"] == 12 and v["target"] == gc.ARRAY_BUFFER
        got = np.frombuffer(new_blob, "<f4", 9, v["byteOffset"] + acc.get("byteOffset", 0)).reshape(3, 3)
        np.testing.assert_array_equal(got, ref)
    # The container round-trips.
    assert gc.read_glb(gc.write_glb(new, new_blob)) == (new, new_blob)
    assert doc["bufferViews"] and len(doc["bufferViews"]) == 8  # the input is not modified


def test_weights_outside_zero_one_stay_float():
    weights = np.full((5, 2), 0.5)
    weights[2, 1] = 1.2  # e.g. an overdriven corrective
    new, _, report = gc.compact(*_doc(weights))
    assert report.quantized_outputs == 0
    assert new["accessors"][new["animations"][0]["samplers"][0]["output"]]["componentType"] == 5126


def test_textures_keep_texcoords():
    doc, blob = _doc(np.zeros((4, 2)))
    doc["textures"] = [{"source": 0}]
    doc["images"] = [{"uri": "skin.png"}]
    new, _, report = gc.compact(doc, blob)
    assert report.dropped_attributes == [] and "TEXCOORD_0" in new["meshes"][0]["primitives"][0]["attributes"]


@pytest.mark.parametrize("change, reason", [
    (lambda d: d["buffers"].append({"byteLength": 4, "uri": "x.bin"}), "one embedded buffer"),
    (lambda d: d.update(extensionsUsed=["EXT_meshopt_compression"]), "EXT_meshopt_compression"),
    (lambda d: d["accessors"][1].update(bufferView=0), "shared"),
    (lambda d: d["bufferViews"][0].update(byteStride=12), "interleaved"),
])
def test_unsupported_documents_are_left_alone(change, reason):
    doc, blob = _doc(np.zeros((4, 2)))
    change(doc)
    new, new_blob, report = gc.compact(doc, blob)
    assert reason in report.skipped and new is doc and new_blob is blob


def test_bad_glb_header():
    with pytest.raises(gc.GlbError, match="bad header"):
        gc.read_glb(b"glTF" + b"\0" * 30)
