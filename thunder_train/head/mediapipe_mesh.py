"""Read MediaPipe's canonical face mesh out of the npm package ``@mediapipe/face_mesh``.

The package packs several files into ``face_mesh_solution_packed_assets.data``; the loader script next to it
lists each file's byte range. ``geometry_pipeline_metadata_landmarks.binarypb`` is a protobuf whose field 1
is the canonical mesh: field 3 holds repeated floats (x, y, z, u, v) per vertex (centimetres, x to the
subject's left, y up, z toward the viewer) and field 4 repeated uint32 triangle indices.

The mesh is Apache-2.0 (Google LLC). Only the numbers are read here; no MediaPipe code is used.
"""
from __future__ import annotations

import json
import re
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = ROOT / "node_modules" / "@mediapipe" / "face_mesh"
PACKED = "face_mesh_solution_packed_assets.data"
LOADER = "face_mesh_solution_packed_assets_loader.js"
MEMBER = "geometry_pipeline_metadata_landmarks.binarypb"


@dataclass(frozen=True)
class CanonicalMesh:
    """positions: (468, 3) float64 centimetres (MediaPipe axes); uvs: (468, 2) (v down); faces: (898, 3) int."""

    positions: np.ndarray
    uvs: np.ndarray
    faces: np.ndarray
    package_version: str


def ensure_package(package_dir: Path = PACKAGE_DIR) -> Path:
    """Return the package folder, running ``npm ci`` once if node_modules is missing."""
    if not (package_dir / PACKED).exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=ROOT, check=True)
    if not (package_dir / PACKED).exists():
        raise FileNotFoundError(f"{package_dir / PACKED} is missing after npm ci")
    return package_dir


def _member_range(loader_js: str, member: str) -> tuple[int, int]:
    m = re.search(r'"filename":\s*"[^"]*/' + re.escape(member) + r'",\s*"start":\s*(\d+),\s*"end":\s*(\d+)', loader_js)
    if not m:
        raise ValueError(f"{member} is not listed in {LOADER}")
    return int(m.group(1)), int(m.group(2))


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def _fields(buf: bytes):
    """Yield (field number, wire type, value) for one protobuf message (wire types 0, 1, 2, 5)."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i:i + n], i + n
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def _packed_or_single(wire: int, value, kind: str) -> list:
    if kind == "float":
        if wire == 5:
            return [struct.unpack("<f", value)[0]]
        return list(struct.unpack(f"<{len(value) // 4}f", value))
    if wire == 0:
        return [value]
    out, i = [], 0
    while i < len(value):
        v, i = _varint(value, i)
        out.append(v)
    return out


def read_canonical_mesh(package_dir: Path | None = None) -> CanonicalMesh:
    """Decode the canonical face mesh from the npm package (runs ``npm ci`` if needed)."""
    package_dir = ensure_package(package_dir or PACKAGE_DIR)
    start, end = _member_range((package_dir / LOADER).read_text(), MEMBER)
    with open(package_dir / PACKED, "rb") as fh:
        fh.seek(start)
        blob = fh.read(end - start)
    mesh_msgs = [v for n, w, v in _fields(blob) if n == 1 and w == 2]
    if len(mesh_msgs) != 1:
        raise ValueError(f"expected one mesh message in {MEMBER}, found {len(mesh_msgs)}")
    floats: list[float] = []
    indices: list[int] = []
    for n, w, v in _fields(mesh_msgs[0]):
        if n == 3:
            floats += _packed_or_single(w, v, "float")
        elif n == 4:
            indices += _packed_or_single(w, v, "int")
    vert = np.asarray(floats, dtype=np.float64).reshape(-1, 5)
    faces = np.asarray(indices, dtype=np.int64).reshape(-1, 3)
    if vert.shape[0] != 468 or faces.shape[0] != 898:
        raise ValueError(f"unexpected canonical mesh size: {vert.shape[0]} vertices, {faces.shape[0]} triangles")
    version = json.loads((package_dir / "package.json").read_text()).get("version", "?")
    return CanonicalMesh(positions=vert[:, :3], uvs=vert[:, 3:], faces=faces, package_version=version)
