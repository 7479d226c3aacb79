"""Make a binary glTF (GLB) written by Blender's exporter smaller, without changing what it shows.

Blender writes one bufferView per accessor, float morph-target weights in every animation, and a
TEXCOORD_0 attribute even when no material samples a texture. ``compact`` rewrites the document:

* **Weights** animation outputs whose values all lie in [0, 1] are stored as normalized unsigned 16-bit
  integers (allowed for ``weights`` samplers by the glTF 2.0 core spec, no extension needed). The error is
  at most half a step, 1 / 131070 (7.6e-6).
* **Texture coordinates** (``TEXCOORD_n``) are dropped when the document has no textures at all.
* **Identical animation inputs** (every take keyed on the same frames) are stored once.
* **Empty morph targets** (all-zero displacements) are stored as accessors without data, which the spec
  defines as zeros, and the empty targets of one size share a single accessor.
* **bufferViews are repacked**: one view per vertex-attribute element size (with ``byteStride``), one for
  indices, one for everything else (animation data, sparse morph-target data, skins), one per embedded
  image. Every accessor starts on a 4-byte boundary.

Documents this code does not fully understand (several buffers, interleaved or shared views, extensions
that point at accessors or bufferViews) are returned unchanged, with the reason in ``CompactReport``.
Pure Python + numpy; the GLB container is read and written here too.
"""
from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963
FLOAT, UNSIGNED_SHORT = 5126, 5123
COMPONENT_SIZE = {5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4}
N_COMPONENTS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
# Extensions that never point at accessors or bufferViews: safe to carry through a repack.
SAFE_EXTENSIONS = frozenset({
    "KHR_materials_emissive_strength", "KHR_materials_ior", "KHR_materials_specular",
    "KHR_materials_transmission", "KHR_materials_volume", "KHR_materials_clearcoat", "KHR_materials_sheen",
    "KHR_materials_unlit", "KHR_materials_variants", "KHR_materials_anisotropy", "KHR_materials_iridescence",
    "KHR_materials_dispersion", "KHR_texture_transform", "KHR_lights_punctual", "KHR_mesh_quantization",
})


class GlbError(ValueError):
    """Not a readable GLB file (one-line message)."""


@dataclass
class CompactReport:
    """What ``compact`` did. ``skipped`` is the reason the document was left as it was (else None)."""

    skipped: str | None = None
    quantized_outputs: int = 0
    dropped_attributes: list[str] = field(default_factory=list)
    merged_inputs: int = 0
    emptied_targets: int = 0
    buffer_views_before: int = 0
    buffer_views_after: int = 0


def read_glb(data: bytes) -> tuple[dict, bytes]:
    """GLB bytes -> (JSON document, BIN chunk; b"" when there is none)."""
    if len(data) < 20:
        raise GlbError("file too short for a GLB")
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    if magic != b"glTF" or version != 2 or length != len(data):
        raise GlbError("not a glTF 2.0 binary (bad header)")
    jlen, jtype = struct.unpack_from("<I4s", data, 12)
    if jtype != b"JSON":
        raise GlbError("first GLB chunk is not JSON")
    doc = json.loads(data[20:20 + jlen])
    blob = b""
    pos = 20 + jlen
    if pos + 8 <= len(data):
        blen, btype = struct.unpack_from("<I4s", data, pos)
        if btype == b"BIN\x00":
            blob = data[pos + 8:pos + 8 + blen]
    return doc, blob


def write_glb(doc: dict, blob: bytes) -> bytes:
    """(JSON document, BIN chunk) -> GLB bytes (chunks padded to 4 bytes: JSON with spaces, BIN with 0)."""
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 4)
    parts = [struct.pack("<I4s", len(text), b"JSON"), text]
    if blob:
        pad = -len(blob) % 4
        parts += [struct.pack("<I4s", len(blob) + pad, b"BIN\x00"), blob, b"\x00" * pad]
    size = 12 + sum(len(p) for p in parts)
    return b"".join([struct.pack("<4sII", b"glTF", 2, size), *parts])  # one copy of the BIN chunk, not three


def _elem_size(acc: dict) -> int:
    return COMPONENT_SIZE[acc["componentType"]] * N_COMPONENTS[acc["type"]]


def _accessor_bytes(doc: dict, blob: bytes, acc: dict) -> bytes:
    view = doc["bufferViews"][acc["bufferView"]]
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    return blob[start:start + acc["count"] * _elem_size(acc)]


def _sparse_bytes(doc: dict, blob: bytes, part: dict, size: int) -> bytes:
    view = doc["bufferViews"][part["bufferView"]]
    start = view.get("byteOffset", 0) + part.get("byteOffset", 0)
    return blob[start:start + size]


def _unsupported(doc: dict, blob: bytes) -> str | None:
    """Why this document cannot be repacked safely, or None."""
    if len(doc.get("buffers", [])) != 1 or "uri" in doc["buffers"][0]:
        return "needs exactly one embedded buffer"
    unknown = set(doc.get("extensionsUsed", [])) - SAFE_EXTENSIONS
    if unknown:
        return f"extension {sorted(unknown)[0]} may reference buffer data"
    users: dict[int, int] = {}
    for acc in doc.get("accessors", []):
        if acc["type"] not in N_COMPONENTS or acc["componentType"] not in COMPONENT_SIZE:
            return "unknown accessor type"
        if acc["type"].startswith("MAT") and COMPONENT_SIZE[acc["componentType"]] < 4:
            return "padded matrix accessor"
        refs = [acc.get("bufferView")]
        if "sparse" in acc:
            refs += [acc["sparse"]["indices"]["bufferView"], acc["sparse"]["values"]["bufferView"]]
        for v in refs:
            if v is not None:
                users[v] = users.get(v, 0) + 1
    for img in doc.get("images", []):
        if "bufferView" in img:
            users[img["bufferView"]] = users.get(img["bufferView"], 0) + 1
    if any(n > 1 for n in users.values()):
        return "a bufferView is shared"
    if any("byteStride" in v for v in doc.get("bufferViews", [])):
        return "interleaved bufferView"
    return None


def _quantize_weights(doc: dict, blob: bytes, report: CompactReport) -> dict[int, bytes]:
    """New data for weights outputs stored as normalized uint16: {accessor index: bytes}."""
    paths: dict[int, set[str]] = {}
    for anim in doc.get("animations", []):
        for ch in anim["channels"]:
            out = anim["samplers"][ch["sampler"]]["output"]
            paths.setdefault(out, set()).add(ch["target"]["path"])
    new: dict[int, bytes] = {}
    for i, used_by in paths.items():
        acc = doc["accessors"][i]
        if used_by != {"weights"} or acc["componentType"] != FLOAT or "sparse" in acc or "bufferView" not in acc:
            continue
        values = np.frombuffer(_accessor_bytes(doc, blob, acc), "<f4")
        if values.size == 0 or not (np.all(np.isfinite(values)) and values.min() >= 0.0 and values.max() <= 1.0):
            continue
        new[i] = np.round(values.astype(np.float64) * 65535.0).astype("<u2").tobytes()
        acc["componentType"] = UNSIGNED_SHORT
        acc["normalized"] = True
        acc.pop("min", None)
        acc.pop("max", None)
        report.quantized_outputs += 1
    return new


def _drop_texcoords(doc: dict, report: CompactReport) -> None:
    if doc.get("textures"):
        return
    for mesh in doc.get("meshes", []):
        for prim in mesh["primitives"]:
            for name in [a for a in prim["attributes"] if a.startswith("TEXCOORD_")]:
                del prim["attributes"][name]
                if name not in report.dropped_attributes:
                    report.dropped_attributes.append(name)


def _merge_inputs(doc: dict, blob: bytes, report: CompactReport) -> None:
    seen: dict[tuple, int] = {}
    for anim in doc.get("animations", []):
        for sampler in anim["samplers"]:
            acc = doc["accessors"][sampler["input"]]
            if "bufferView" not in acc or "sparse" in acc:
                continue
            key = (acc["componentType"], acc["type"], acc["count"], _accessor_bytes(doc, blob, acc))
            first = seen.setdefault(key, sampler["input"])
            if first != sampler["input"]:
                sampler["input"] = first
                report.merged_inputs += 1


def _zero_targets(doc: dict, blob: bytes, report: CompactReport) -> None:
    """Morph-target accessors whose data is all zeros lose their data: an accessor with neither a
    bufferView nor sparse values is zeros by definition. (Blender writes an empty target as a sparse
    accessor with one zero entry, since sparse.count must be at least 1.)"""
    for mesh in doc.get("meshes", []):
        for prim in mesh["primitives"]:
            for target in prim.get("targets", []):
                for i in target.values():
                    acc = doc["accessors"][i]
                    if acc["componentType"] != FLOAT:
                        continue
                    if "sparse" in acc:
                        sp = acc["sparse"]
                        raw = _sparse_bytes(doc, blob, sp["values"], sp["count"] * _elem_size(acc))
                        if np.any(np.frombuffer(raw, "<f4")):
                            continue
                    if "bufferView" in acc and np.any(np.frombuffer(_accessor_bytes(doc, blob, acc), "<f4")):
                        continue
                    if "sparse" in acc or "bufferView" in acc:
                        for k in ("sparse", "bufferView", "byteOffset"):
                            acc.pop(k, None)
                        report.emptied_targets += 1
    # Empty targets of the same size are the same accessor: reference one.
    first: dict[str, int] = {}
    for mesh in doc.get("meshes", []):
        for prim in mesh["primitives"]:
            for target in prim.get("targets", []):
                for name, i in target.items():
                    acc = doc["accessors"][i]
                    if "bufferView" not in acc and "sparse" not in acc:
                        target[name] = first.setdefault(json.dumps(acc, sort_keys=True), i)


def _accessor_refs(doc: dict):
    """Every place an accessor index is stored: yields (container, key)."""
    for mesh in doc.get("meshes", []):
        for prim in mesh["primitives"]:
            yield from ((prim["attributes"], k) for k in prim["attributes"])
            if "indices" in prim:
                yield prim, "indices"
            for target in prim.get("targets", []):
                yield from ((target, k) for k in target)
    for anim in doc.get("animations", []):
        for sampler in anim["samplers"]:
            yield sampler, "input"
            yield sampler, "output"
    for skin in doc.get("skins", []):
        if "inverseBindMatrices" in skin:
            yield skin, "inverseBindMatrices"


def compact(doc: dict, blob: bytes) -> tuple[dict, bytes, CompactReport]:
    """Compact a GLB's (document, BIN chunk). Returns new (document, BIN chunk, report); the inputs are not
    modified. See the module docstring for what changes."""
    report = CompactReport(buffer_views_before=len(doc.get("bufferViews", [])))
    reason = _unsupported(doc, blob)
    if reason is not None:
        report.skipped = reason
        report.buffer_views_after = report.buffer_views_before
        return doc, blob, report
    doc = json.loads(json.dumps(doc))
    new_data = _quantize_weights(doc, blob, report)
    _drop_texcoords(doc, report)
    _merge_inputs(doc, blob, report)
    _zero_targets(doc, blob, report)

    # Keep only referenced accessors, in their original order.
    refs = list(_accessor_refs(doc))
    used = sorted({c[k] for c, k in refs})
    remap = {old: new for new, old in enumerate(used)}
    for container, key in refs:
        container[key] = remap[container[key]]
    old_accessors = doc.get("accessors", [])
    accessors = [old_accessors[i] for i in used]
    data = {remap[i]: b for i, b in new_data.items() if i in remap}

    vertex = {c[k] for c, k in refs if c is not doc and k not in ("indices", "input", "output",
                                                                    "inverseBindMatrices")}
    index = {c[k] for c, k in refs if k == "indices"}
    groups: dict[tuple, list[tuple[dict, str, bytes]]] = {}  # group key -> [(owner, field, bytes)]
    for i, acc in enumerate(accessors):
        if "bufferView" in acc:
            raw = data.get(i) or _accessor_bytes(doc, blob, acc)
            if i in vertex and _elem_size(acc) % 4 == 0:
                key = ("vertex", _elem_size(acc))
            elif i in index:
                key = ("index", 0)
            else:
                key = ("other", 0)
            groups.setdefault(key, []).append((acc, "main", raw))
        if "sparse" in acc:
            sp = acc["sparse"]
            n = sp["count"]
            groups.setdefault(("other", 0), []).append(
                (sp["indices"], "part", _sparse_bytes(doc, blob, sp["indices"],
                                                      n * COMPONENT_SIZE[sp["indices"]["componentType"]])))
            groups.setdefault(("other", 0), []).append(
                (sp["values"], "part", _sparse_bytes(doc, blob, sp["values"], n * _elem_size(acc))))
    images = [(img, _sparse_bytes(doc, blob, img, doc["bufferViews"][img["bufferView"]]["byteLength"]))
              for img in doc.get("images", []) if "bufferView" in img]

    out = bytearray()
    views: list[dict] = []

    def align() -> None:
        out.extend(b"\x00" * (-len(out) % 4))

    order = sorted(groups, key=lambda k: ({"vertex": 0, "index": 1, "other": 2}[k[0]], k[1]))
    for key in order:
        align()
        start = len(out)
        for owner, _, raw in groups[key]:
            align()
            owner["bufferView"] = len(views)
            owner["byteOffset"] = len(out) - start
            if owner["byteOffset"] == 0:
                del owner["byteOffset"]
            out.extend(raw)
        view = {"buffer": 0, "byteOffset": start, "byteLength": len(out) - start}
        if key[0] == "vertex":
            view["target"] = ARRAY_BUFFER
            if len(groups[key]) > 1:
                view["byteStride"] = key[1]
        elif key[0] == "index":
            view["target"] = ELEMENT_ARRAY_BUFFER
        views.append(view)
    for img, raw in images:
        align()
        img["bufferView"] = len(views)
        views.append({"buffer": 0, "byteOffset": len(out), "byteLength": len(raw)})
        out.extend(raw)
    align()
    doc["accessors"] = accessors
    doc["bufferViews"] = views
    doc["buffers"] = [{**doc["buffers"][0], "byteLength": len(out)}]
    report.buffer_views_after = len(views)
    return doc, bytes(out), report


def compact_file(path: str | os.PathLike) -> CompactReport:
    """Compact a .glb in place (written to a temporary file first, then renamed over it)."""
    path = Path(path)
    doc, blob = read_glb(path.read_bytes())
    new_doc, new_blob, report = compact(doc, blob)
    if report.skipped is None:
        tmp = path.with_name(f".{path.name}.compact")
        try:
            tmp.write_bytes(write_glb(new_doc, new_blob))
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    return report
