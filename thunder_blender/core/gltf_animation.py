"""Read and replace glTF animation data in a (document, BIN chunk) pair, numpy only.

Used to write long takes without sampling them through Blender's glTF exporter: the exporter writes the
scene (nodes, meshes, skins) with a coarsely sampled copy of each take, and the full-rate samples, computed
from the take's keys, replace those animations (``replace_animations``). ``gltf_compact.compact`` then drops
the coarse data and repacks the file.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .gltf_compact import FLOAT, N_COMPONENTS, _accessor_bytes

_TYPE_OF_WIDTH = {1: "SCALAR", 3: "VEC3", 4: "VEC4"}


@dataclass
class Channel:
    """One animated property: ``values`` (K, C) float at ``times`` (K,) seconds, linear interpolation.

    path: "weights" (C = the mesh's morph-target count), "rotation" (C = 4, x y z w), "translation" or
    "scale" (C = 3)."""

    node: int
    path: str
    times: np.ndarray
    values: np.ndarray


def sampler_data(doc: dict, blob: bytes, anim: dict, channel: dict) -> tuple[np.ndarray, np.ndarray]:
    """A channel's (times (K,), values (K, C)) as float64; C is the morph-target count for weights."""
    sampler = anim["samplers"][channel["sampler"]]
    times = _read_float(doc, blob, sampler["input"]).reshape(-1)
    values = _read_float(doc, blob, sampler["output"])
    return times, values.reshape(len(times), -1)


def _read_float(doc: dict, blob: bytes, index: int) -> np.ndarray:
    acc = doc["accessors"][index]
    if acc["componentType"] != FLOAT or "sparse" in acc or "bufferView" not in acc:
        raise ValueError(f"accessor {index} is not plain float data")
    return np.frombuffer(_accessor_bytes(doc, blob, acc), "<f4").astype(np.float64).reshape(
        acc["count"], N_COMPONENTS[acc["type"]])


def replace_animations(doc: dict, blob: bytes, animations: list[tuple[str, list[Channel]]]) -> bytes:
    """Replace ``doc["animations"]`` (in place) by ``animations`` [(name, channels)]; returns the new BIN chunk.

    Each channel gets its own input and output accessor and bufferView, appended to the buffer; the old
    animations' accessors stay in the document unreferenced (``gltf_compact.compact`` drops them)."""
    out = bytearray(blob)
    doc["animations"] = []
    for name, channels in animations:
        anim = {"name": name, "channels": [], "samplers": []}
        for ch in channels:
            times = np.asarray(ch.times, np.float32).reshape(-1)
            values = np.asarray(ch.values, np.float32).reshape(len(times), -1)
            if len(times) == 0 or not (np.all(np.isfinite(times)) and np.all(np.isfinite(values))):
                raise ValueError(f"animation {name!r}: empty or non-finite {ch.path} samples")
            if np.any(np.diff(times) <= 0):
                raise ValueError(f"animation {name!r}: {ch.path} times are not increasing")
            width = values.shape[1]
            scalar = ch.path == "weights"
            if not scalar and width not in (3, 4):
                raise ValueError(f"animation {name!r}: {ch.path} needs 3 or 4 components, got {width}")
            t_acc = _append(doc, out, times, "SCALAR")
            doc["accessors"][t_acc]["min"] = [float(times[0])]
            doc["accessors"][t_acc]["max"] = [float(times[-1])]
            v_acc = _append(doc, out, values, "SCALAR" if scalar else _TYPE_OF_WIDTH[width])
            anim["samplers"].append({"input": t_acc, "output": v_acc, "interpolation": "LINEAR"})
            anim["channels"].append({"sampler": len(anim["samplers"]) - 1,
                                     "target": {"node": int(ch.node), "path": ch.path}})
        doc["animations"].append(anim)
    doc["buffers"][0]["byteLength"] = len(out)
    return bytes(out)


def _append(doc: dict, out: bytearray, data: np.ndarray, kind: str) -> int:
    """Append float32 ``data`` as a new bufferView + accessor; returns the accessor index."""
    out.extend(b"\x00" * (-len(out) % 4))
    raw = np.ascontiguousarray(data, "<f4").tobytes()
    doc.setdefault("bufferViews", []).append({"buffer": 0, "byteOffset": len(out), "byteLength": len(raw)})
    out.extend(raw)
    count = data.size // N_COMPONENTS[kind]
    doc.setdefault("accessors", []).append({"bufferView": len(doc["bufferViews"]) - 1, "componentType": FLOAT,
                                            "count": int(count), "type": kind})
    return len(doc["accessors"]) - 1
