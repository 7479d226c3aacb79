"""Fit a linear ARKit->FLAME map on the user's own FLAME head (numpy only).

Inputs:

* the demo head (``core.head``): MediaPipe canonical topology, vertex ``i < 468`` is MediaPipe landmark ``i``,
  with its 52 ARKit blendshapes;
* the FLAME rig, read from Blender by the caller: neutral vertices (N, 3), triangles (F, 3), the ``Exp*``
  shape-key deltas (K, N, 3), and the vertex motion per radian of the jaw bone's opening and lateral turn
  (``jaw_columns``, (2, N, 3), linearised around the rest pose);
* the FLAME-MediaPipe landmark embedding that users download with FLAME: for L landmarks, the FLAME triangle
  (``lmk_face_idx`` (L,)), barycentric coordinates (``lmk_b_coords`` (L, 3)) and the MediaPipe landmark index
  (``landmark_indices`` (L,)).

Method (per ARKit shape ``a``):

1. Similarity alignment (Umeyama): scale ``s``, rotation ``R`` and translation taking the demo head's neutral
   landmarks onto the FLAME neutral landmarks (least squares).
2. Target: the demo head's landmark displacements of shape ``a`` in FLAME's frame, ``d_a = s R delta_a`` (3L,).
3. Basis: the landmark displacements of each ``Exp`` key (3L, K), plus the jaw opening column for ``jawOpen``
   and the jaw lateral column for ``jawLeft``/``jawRight`` (the map format carries the jaw as angles of those
   channels only).
4. Ridge least squares: ``c_a = argmin ||B c - d_a||^2 + ridge * ||B||_F^2 / n_cols * ||c||^2``.
5. Residual per shape: ``||B c_a - d_a|| / ||d_a||`` (relative); shapes without landmark motion (eye turns,
   tongue) are reported as such and get no Exp weights (the eyes are turned by the eye bones).

The map ``Exp_k = sum_a c_a[k] * a`` is written in the ``thunder-flame-map/1`` JSON format
(``core.rig_names.load_flame_map``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .channels import ARKIT_52, INDEX
from .rig_names import MAX_JAW_RADIANS, MAX_MAP_WEIGHT

N_MEDIAPIPE = 468
MIN_MOTION = 1e-5  # metres of landmark motion (RMS) below which a shape is "not visible on the landmarks"


class FitError(ValueError):
    """The inputs cannot be fitted (bad embedding, mismatched mesh...). The message is user-facing."""


@dataclass(frozen=True)
class Embedding:
    """MediaPipe landmarks on the FLAME mesh: faces (L,), barycentric (L, 3), MediaPipe indices (L,)."""

    face_idx: np.ndarray
    bary: np.ndarray
    landmark_idx: np.ndarray


def load_embedding(path) -> Embedding:
    """Read the FLAME-MediaPipe embedding ``.npz`` (keys ``lmk_face_idx``, ``lmk_b_coords``,
    ``landmark_indices``)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise FitError(f"cannot read landmark embedding {path}: {exc}") from None
    missing = [k for k in ("lmk_face_idx", "lmk_b_coords", "landmark_indices") if k not in data]
    if missing:
        raise FitError(f"landmark embedding {path} lacks {', '.join(missing)} (expected the FLAME-MediaPipe "
                       "embedding: lmk_face_idx, lmk_b_coords, landmark_indices)")
    face = np.asarray(data["lmk_face_idx"]).astype(np.int64).ravel()
    bary = np.asarray(data["lmk_b_coords"], np.float64).reshape(-1, 3)
    lmk = np.asarray(data["landmark_indices"]).astype(np.int64).ravel()
    if not (len(face) == len(bary) == len(lmk)) or len(face) < 10:
        raise FitError(f"landmark embedding {path}: need matching arrays of at least 10 landmarks, got "
                       f"{len(face)}, {len(bary)}, {len(lmk)}")
    if lmk.min() < 0 or lmk.max() >= N_MEDIAPIPE:
        raise FitError(f"landmark embedding {path}: landmark_indices must be MediaPipe indices 0..467")
    if not np.all(np.isfinite(bary)):
        raise FitError(f"landmark embedding {path}: barycentric coordinates are not finite")
    return Embedding(face, bary, lmk)


def landmarks(points: npt.ArrayLike, faces: np.ndarray, emb: Embedding) -> npt.NDArray[np.float64]:
    """Points (..., N, 3) on the FLAME mesh -> landmark positions (..., L, 3)."""
    p = np.asarray(points, np.float64)
    tri = faces[emb.face_idx]  # (L, 3)
    return np.einsum("lk,...lkc->...lc", emb.bary, p[..., tri, :])


def similarity(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Umeyama: (s, R, t) minimising ||s R src + t - dst||^2 over points (L, 3)."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    u, sig, vt = np.linalg.svd(b.T @ a / len(src))
    d = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[2, 2] = -1.0
    r = u @ d @ vt
    s = float(np.trace(np.diag(sig) @ d) / (a ** 2).sum(1).mean())
    return s, r, mu_d - s * r @ mu_s


@dataclass
class FlameFit:
    """coefficients: (52, K) Exp weights per ARKit shape; jaw_open / jaw_lateral: radians per unit channel;
    residual: (52,) relative residual (NaN where the shape does not move the landmarks); scale: the
    similarity scale (FLAME units per demo-head metre); clipped: weights clipped to the map's limits."""

    exp_names: tuple[str, ...]
    coefficients: np.ndarray
    jaw_open: float
    jaw_lateral: float
    residual: np.ndarray
    scale: float
    clipped: int = 0

    def to_json(self, description: str = "") -> dict:
        exprs: dict[str, dict[str, float]] = {}
        for k, name in enumerate(self.exp_names):
            col = {ARKIT_52[a]: round(float(self.coefficients[a, k]), 5) for a in range(52)
                   if abs(self.coefficients[a, k]) >= 1e-4}
            if col:
                exprs[name] = col
        return {"format": "thunder-flame-map/1", "fitted": True,
                "description": description or "Fitted by `thunder flame-map` on this FLAME head (landmark "
                               "least squares after similarity alignment, ridge-regularised).",
                "expressions": exprs,
                "jaw": {"open_radians": round(self.jaw_open, 5), "lateral_radians": round(self.jaw_lateral, 5)},
                "residual": {ARKIT_52[a]: (None if not np.isfinite(r) else round(float(r), 4))
                             for a, r in enumerate(self.residual)}}


def fit_flame_map(head_vertices: np.ndarray, head_deltas: np.ndarray, flame_vertices: np.ndarray,
                  flame_faces: np.ndarray, exp_deltas: np.ndarray, exp_names: tuple[str, ...],
                  jaw_columns: np.ndarray, emb: Embedding, ridge: float = 1e-4) -> FlameFit:
    """Fit the map (see the module docstring). head_vertices (V, 3), head_deltas (52, V, 3) of the demo head;
    flame_vertices (N, 3), flame_faces (F, 3), exp_deltas (K, N, 3), jaw_columns (2, N, 3) of the rig."""
    faces = np.asarray(flame_faces, np.int64)
    if emb.face_idx.max() >= len(faces):
        raise FitError(f"the embedding names triangle {int(emb.face_idx.max())} but the FLAME mesh has "
                       f"{len(faces)} triangles: is this the embedding of this FLAME version?")
    if len(exp_names) == 0:
        raise FitError("the FLAME rig has no Exp shape keys")
    f_lmk = landmarks(flame_vertices, faces, emb)  # (L, 3)
    h_lmk = np.asarray(head_vertices, np.float64)[emb.landmark_idx]
    s, r, _t = similarity(h_lmk, f_lmk)
    dh = np.asarray(head_deltas, np.float64)[:, emb.landmark_idx]  # (52, L, 3)
    targets = s * np.einsum("ij,alj->ali", r, dh).reshape(52, -1)  # (52, 3L)
    exp_b = landmarks(exp_deltas, faces, emb).reshape(len(exp_names), -1).T  # (3L, K)
    jaw_b = landmarks(jaw_columns, faces, emb).reshape(2, -1).T  # (3L, 2)
    n_l = len(emb.face_idx)
    coef = np.zeros((52, len(exp_names)))
    residual = np.full(52, np.nan)
    jaw_open, jaw_lat = 0.0, 0.0
    for a in range(52):
        d = targets[a]
        if np.sqrt((d ** 2).sum() / n_l) < MIN_MOTION * s:
            continue
        extra = {INDEX["jawOpen"]: jaw_b[:, :1], INDEX["jawLeft"]: jaw_b[:, 1:], INDEX["jawRight"]: -jaw_b[:, 1:]}
        basis = exp_b if a not in extra else np.concatenate([exp_b, extra[a]], axis=1)
        lam = ridge * float((basis ** 2).sum()) / basis.shape[1]
        c = np.linalg.solve(basis.T @ basis + lam * np.eye(basis.shape[1]), basis.T @ d)
        residual[a] = float(np.linalg.norm(basis @ c - d) / np.linalg.norm(d))
        coef[a] = c[: len(exp_names)]
        if a == INDEX["jawOpen"]:
            jaw_open = float(c[-1])
        elif a == INDEX["jawLeft"]:
            jaw_lat = float(c[-1]) if jaw_lat == 0.0 else 0.5 * (jaw_lat + float(c[-1]))
        elif a == INDEX["jawRight"]:
            jaw_lat = float(c[-1]) if jaw_lat == 0.0 else 0.5 * (jaw_lat + float(c[-1]))
    clipped = int(np.sum(np.abs(coef) > MAX_MAP_WEIGHT))
    coef = np.clip(coef, -MAX_MAP_WEIGHT, MAX_MAP_WEIGHT)
    jaw_open = float(np.clip(jaw_open, -MAX_JAW_RADIANS, MAX_JAW_RADIANS))
    jaw_lat = float(np.clip(jaw_lat, -MAX_JAW_RADIANS, MAX_JAW_RADIANS))
    return FlameFit(tuple(exp_names), coef, jaw_open, jaw_lat, residual, s, clipped)
