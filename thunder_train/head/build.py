"""Build ``thunder_blender/assets/demo_head.npz`` from the MediaPipe canonical face (npm package).

    python -m thunder_train.head.build [--out PATH]
    thunder-train head [--out PATH]

Deterministic: the same package version gives the same file.
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np

from thunder_blender.core.channels import ARKIT_52

from . import landmarks as lm
from .assembly import MATERIALS, PART_SKIN, assemble
from .mediapipe_mesh import read_canonical_mesh
from .shapes import ShapeConfig, build_deltas

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "thunder_blender" / "assets" / "demo_head.npz"
SOURCE = ("MediaPipe canonical face mesh (468 vertices, 898 triangles, UVs), (c) Google LLC, Apache-2.0, "
          "from npm @mediapipe/face_mesh@{version}, geometry_pipeline_metadata_landmarks.binarypb; "
          "mouth/eyes opened, cavities, eyeballs, teeth, tongue and 52 ARKit shapes added by "
          "thunder_train.head.build")


def _pairs(upper, lower) -> np.ndarray:
    return np.array(list(zip(upper[1:-1], lower[1:-1], strict=True)), dtype=np.int32)


def build(out: Path = DEFAULT_OUT, cfg: ShapeConfig | None = None) -> dict:
    mesh = read_canonical_mesh()
    a = assemble(mesh)
    deltas, b = build_deltas(a, cfg)
    z_tip = a.vertices[lm.NOSE_TIP, 2]
    # skin only: the eyeballs' 600+ vertices would otherwise dominate an upper-face average
    upper = np.flatnonzero((a.part == PART_SKIN) & (a.vertices[:, 2] > z_tip))
    arrays = dict(
        vertices=a.vertices.astype(np.float32),
        faces=a.faces.astype(np.int32),
        uvs=a.uvs.astype(np.float32),
        material_index=a.material.astype(np.int8),
        material_names=np.array(MATERIALS),
        shape_names=np.array(ARKIT_52),
        deltas=deltas.astype(np.float32),
        lip_idx=np.flatnonzero(b.lip > 0).astype(np.int32),
        upper_face_idx=upper.astype(np.int32),
        inner_lip_pairs=_pairs(lm.LIP_INNER_UPPER, lm.LIP_INNER_LOWER),
        lid_pairs_left=_pairs(lm.EYE_LEFT_UPPER, lm.EYE_LEFT_LOWER),
        lid_pairs_right=_pairs(lm.EYE_RIGHT_UPPER, lm.EYE_RIGHT_LOWER),
        mirror=b.mirror.astype(np.int32),
        part=a.part.astype(np.int8),
        source=np.array(SOURCE.format(version=mesh.package_version)),
    )
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(buf.getvalue())
    return arrays


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output .npz (default: the shipped asset)")


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    arrays = build(args.out)
    v, f = arrays["vertices"], arrays["faces"]
    size = args.out.stat().st_size
    print(f"wrote {args.out}: {len(v)} vertices, {len(f)} triangles, {len(arrays['shape_names'])} shape keys, "
          f"{size / 1024:.0f} KiB in {time.perf_counter() - t0:.1f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m thunder_train.head.build", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
