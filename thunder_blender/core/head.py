"""The demo head: MediaPipe's canonical face with the 52 ARKit shape keys (numpy only).

The asset ``assets/demo_head.npz`` is built by ``python -m thunder_train.head.build`` (source and licence:
``assets/NOTICE.md``). Units are metres in Blender axes: +X is the subject's left, the face looks toward -Y,
+Z is up.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .channels import ARKIT_52

ASSET_PATH = Path(__file__).resolve().parents[1] / "assets" / "demo_head.npz"


@dataclass(frozen=True)
class DemoHead:
    """A head mesh with ARKit-52 blendshapes.

    vertices: (V, 3) float32, metres, Blender axes (Z up, face looking toward -Y).
    faces: (F, 3) int32 triangles, consistently oriented.
    uvs: (V, 2) float32, one UV per vertex (Blender convention, v up).
    material_index: (F,) int8 index into ``material_names`` (skin, mouth, sclera, iris, pupil, tongue, teeth,
        lips, brows).
    shape_names: == ``channels.ARKIT_52`` (same order).
    deltas: (52, V, 3) float32, metres; posed = vertices + weights @ deltas.
    lip_idx: (L,) int32 skin vertices of both lips (between the outer and inner lip contours).
    upper_face_idx: (U,) int32 face skin above the nose tip (forehead, brows, lids, upper cheeks, upper nose);
        eyeballs excluded, so eye turns count only through the lids.
    inner_lip_pairs: (K, 2) int32 (upper, lower) vertices facing each other across the mouth opening.
    lid_pairs_left / lid_pairs_right: (E, 2) int32 (upper lid, lower lid) vertices across each eye opening.
    mirror: (V,) int32 index of each vertex's mirror image across x = 0.
    part: (V,) int8 0 skin (the canonical face), 1 mouth cavity, 2 eye socket, 3 left eyeball, 4 right eyeball,
        5 tongue, 6/7 upper/lower teeth, 8 back of the head.
    """

    vertices: np.ndarray
    faces: np.ndarray
    uvs: np.ndarray
    material_index: np.ndarray
    material_names: tuple[str, ...]
    shape_names: tuple[str, ...]
    deltas: np.ndarray
    lip_idx: np.ndarray
    upper_face_idx: np.ndarray
    inner_lip_pairs: np.ndarray
    lid_pairs_left: np.ndarray
    lid_pairs_right: np.ndarray
    mirror: np.ndarray
    part: np.ndarray
    source: str = ""

    @property
    def n_vertices(self) -> int:
        return int(self.vertices.shape[0])


_CACHE: dict[str, DemoHead] = {}


def load_demo_head(path: str | Path | None = None) -> DemoHead:
    """Load the demo head (cached per path after the first call). Arrays are read-only."""
    path = Path(path) if path is not None else ASSET_PATH
    key = str(path)
    if key in _CACHE:
        return _CACHE[key]
    if not path.is_file():
        raise FileNotFoundError(f"demo head asset not found: {path} (build it with `thunder-train head`)")
    with np.load(path, allow_pickle=False) as z:
        data = {k: z[k] for k in z.files}
    names = tuple(str(n) for n in data["shape_names"])
    if names != ARKIT_52:
        raise ValueError(f"{path}: shape keys are not the ARKit-52 set in order")
    arrays = dict(
        vertices=data["vertices"].astype(np.float32),
        faces=data["faces"].astype(np.int32),
        uvs=data["uvs"].astype(np.float32),
        material_index=data["material_index"].astype(np.int8),
        deltas=data["deltas"].astype(np.float32),
        lip_idx=data["lip_idx"].astype(np.int32),
        upper_face_idx=data["upper_face_idx"].astype(np.int32),
        inner_lip_pairs=data["inner_lip_pairs"].astype(np.int32),
        lid_pairs_left=data["lid_pairs_left"].astype(np.int32),
        lid_pairs_right=data["lid_pairs_right"].astype(np.int32),
        mirror=data["mirror"].astype(np.int32),
        part=data["part"].astype(np.int8),
    )
    for a in arrays.values():
        a.flags.writeable = False
    head = DemoHead(material_names=tuple(str(n) for n in data["material_names"]), shape_names=names,
                    source=str(data["source"]), **arrays)
    _CACHE[key] = head
    return head


def pose(head: DemoHead, weights: np.ndarray) -> np.ndarray:
    """Posed vertices. weights: (..., 52) (or (..., 55): head-rotation channels are ignored here).
    Returns (..., V, 3) float32."""
    w = np.asarray(weights, dtype=np.float32)
    if w.shape[-1] not in (52, 55):
        raise ValueError(f"weights must end in 52 (or 55) channels, got shape {w.shape}")
    w = w[..., :52]
    flat = w.reshape(-1, 52) @ head.deltas.reshape(52, -1)
    return (flat.reshape(*w.shape[:-1], head.n_vertices, 3) + head.vertices).astype(np.float32)


def _pair_gap(vertices: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    up = vertices[..., pairs[:, 0], :]
    lo = vertices[..., pairs[:, 1], :]
    dist = np.linalg.norm(up - lo, axis=-1)
    crossed = up[..., 2] < lo[..., 2]  # lips pushed through each other count as closed
    return np.where(crossed, 0.0, dist).mean(axis=-1)


def mouth_opening(head: DemoHead, vertices: np.ndarray) -> np.ndarray:
    """Inner-lip gap in metres: mean over ``inner_lip_pairs`` of the distance between the upper and the lower
    vertex (0 for a pair whose upper lip lies below its lower lip). vertices: (..., V, 3) -> (...,)."""
    return _pair_gap(np.asarray(vertices, dtype=np.float32), head.inner_lip_pairs)


def eye_opening(head: DemoHead, vertices: np.ndarray, side: str = "left") -> np.ndarray:
    """Lid gap in metres for one eye, measured like ``mouth_opening``. vertices: (..., V, 3) -> (...,)."""
    pairs = head.lid_pairs_left if side == "left" else head.lid_pairs_right
    return _pair_gap(np.asarray(vertices, dtype=np.float32), pairs)
