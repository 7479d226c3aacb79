"""The 52 ARKit blendshapes as vertex deltas on the assembled demo head.

Shapes are written for the subject's left side (+X) and mirrored for the right, so every left/right pair is
an exact mirror image. Region weights come from the landmark contours (``landmarks``) through geodesic
distances on the skin and a harmonic jaw field. All lengths are metres.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from thunder_blender.core.channels import ARKIT_52, mirror_name

from . import landmarks as lm
from .assembly import (
    PART_EYEBALL_L,
    PART_MOUTH_BAG,
    PART_SKIN,
    PART_SKULL,
    PART_TEETH_LO,
    PART_TONGUE,
    Assembly,
)
from .regions import SurfaceGraph, falloff, smoothstep

MM = 0.001


@dataclass(frozen=True)
class ShapeConfig:
    jaw_open_angle: float = 0.27  # radians at jawOpen = 1
    jaw_hinge_back: float = 0.026  # hinge Y behind the ear-side oval point, metres
    jaw_hinge_up: float = 0.004  # hinge Z above that point
    close_upper_share: float = 0.3  # mouthClose: share of the jaw motion the upper lip follows
    eye_look_updown: float = np.radians(16)
    eye_look_side: float = np.radians(26)


def mirror_map(vertices: np.ndarray) -> np.ndarray:
    """(V,) index of each vertex's mirror image across x = 0; raises if the mesh is not symmetric."""
    d, m = cKDTree(vertices).query(vertices * [-1.0, 1.0, 1.0])
    if d.max() > 1e-7:
        raise ValueError(f"assembled head is not mirror-symmetric (max error {d.max():.2e} m)")
    return m


def _rot_x(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rot_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


class Builder:
    def __init__(self, a: Assembly, cfg: ShapeConfig):
        self.a, self.cfg = a, cfg
        v = self.v = a.vertices
        self.V = len(v)
        self.skin = a.part == PART_SKIN
        self.g = SurfaceGraph(v, a.faces, self.skin)
        self.x, self.y, self.z = v[:, 0], v[:, 1], v[:, 2]
        iu, il = np.array(lm.LIP_INNER_UPPER), np.array(lm.LIP_INNER_LOWER)
        ou, ol = np.array(lm.LIP_OUTER_UPPER), np.array(lm.LIP_OUTER_LOWER)
        self.iu, self.il = iu, il
        # lips: geodesic parameter t between the inner (0) and outer (1) contour
        d_in_u = self.g.distance(iu[1:-1], blocked=il)
        d_in_l = self.g.distance(il[1:-1], blocked=iu)
        d_out_u = self.g.distance(ou)
        d_out_l = self.g.distance(ol)
        self.upper_side = d_in_u < d_in_l
        outer = np.concatenate([ou, ol])
        d_lip = self.g.distance(np.concatenate([iu, il]), blocked=outer)
        inside = np.isfinite(d_lip) & self.skin
        inside[outer] = True
        self.lip_u = (inside & self.upper_side).astype(float)
        self.lip_l = (inside & ~self.upper_side).astype(float)
        self.lip = inside.astype(float)
        d_in = np.where(self.upper_side, d_in_u, d_in_l)
        d_out = np.where(self.upper_side, d_out_u, d_out_l)
        ratio = np.where(self.lip > 0, d_in / np.maximum(np.where(np.isfinite(d_in + d_out), d_in + d_out, 1.0), 1e-9), 0.0)
        self.t_lip = np.clip(np.nan_to_num(ratio), 0, 1)
        self.d_lips = self.g.distance(np.flatnonzero(self.lip > 0))  # distance from the lips
        self.mirror = mirror_map(v)
        for name in ("upper_side", "lip_u", "lip_l", "lip", "t_lip", "d_lips"):
            setattr(self, name, self.symmetric(getattr(self, name)))
        self.jaw = self.symmetric(self._jaw_weights())

    def symmetric(self, f: np.ndarray) -> np.ndarray:
        """Copy a per-vertex field from the left half (x >= 0) onto the right half."""
        return np.where(self.x >= 0, f, f[self.mirror])

    # ---------- fields ----------
    def _jaw_weights(self) -> np.ndarray:
        fixed = {int(i): 1.0 for i in np.flatnonzero(self.lip_l > 0) if i not in (self.iu[0], self.iu[-1],
                                                                                  lm.LIP_OUTER_LOWER[0], lm.LIP_OUTER_LOWER[-1])}
        fixed.update({i: 1.0 for i in lm.JAW_LINE})
        z_nose = self.z[lm.NOSE_BOTTOM]
        for i in np.flatnonzero(self.skin & ((self.lip_u > 0) | (self.z > z_nose - 0.004))):
            if i not in (self.iu[0], self.iu[-1], lm.LIP_OUTER_UPPER[0], lm.LIP_OUTER_UPPER[-1]):
                fixed[int(i)] = 0.0
        w = self.g.harmonic(fixed, self.skin)
        return np.clip(w, 0, 1)

    def side(self, width: float = 0.008) -> np.ndarray:
        """Left-side weight: 0 on the right, 1 on the left, 0.5 on the midline (s(x) + s(-x) = 1)."""
        return smoothstep(-width, width, self.x)

    def propagate(self, d: np.ndarray) -> np.ndarray:
        """Cavity vertices follow their opening contour vertex."""
        f = self.a.follow >= 0
        d[f] = d[self.a.follow[f]] * self.a.follow_factor[f, None]
        return d

    def zeros(self) -> np.ndarray:
        return np.zeros((self.V, 3))

    # ---------- jaw ----------
    def hinge(self) -> np.ndarray:
        ear = self.v[lm.FACE_OVAL[28]]  # 234, the ear-side oval point on the right
        return np.array([0.0, ear[1] + self.cfg.jaw_hinge_back, ear[2] + self.cfg.jaw_hinge_up])

    def jaw_weights_all(self) -> np.ndarray:
        """Jaw weight for every vertex: skin from the harmonic field; cavity vertices from their contour
        vertex; tongue and lower teeth ride the jaw rigidly."""
        w = self.jaw.copy()
        f = self.a.follow >= 0
        w[f] = self.jaw[self.a.follow[f]]
        skull = self.a.part == PART_SKULL
        w[skull] *= self.a.follow_factor[skull]
        bag = self.a.part == PART_MOUTH_BAG
        w[bag & (self.z < self.z[self.il[5]] - 0.006)] = 1.0
        w[(self.a.part == PART_TONGUE) | (self.a.part == PART_TEETH_LO)] = 1.0
        return w

    def rigid_jaw(self, transform) -> np.ndarray:
        w = self.jaw_weights_all()
        moved = transform(self.v)
        return (moved - self.v) * w[:, None]

    def jaw_open(self) -> np.ndarray:
        h, R = self.hinge(), _rot_x(self.cfg.jaw_open_angle)
        return self.rigid_jaw(lambda p: (p - h) @ R.T + h)

    def lower_lip_jaw_field(self, d_jaw: np.ndarray) -> np.ndarray:
        """(V,3) jaw displacement of the lower inner lip, interpolated at each vertex's x."""
        il = self.il
        order = np.argsort(self.x[il])
        return np.stack([np.interp(self.x, self.x[il][order], d_jaw[il][order, k]) for k in range(3)], axis=1)

    def mouth_close(self, d_jaw: np.ndarray) -> np.ndarray:
        """With jawOpen = w and mouthClose = w, every lip vertex ends at p + s * D(x): the lips meet."""
        s = self.cfg.close_upper_share
        zone = falloff(self.d_lips, 0.0, 0.012) * self.skin
        d = (s * self.lower_lip_jaw_field(d_jaw) - d_jaw) * zone[:, None]
        d = self.propagate(d)
        return d

    # ---------- eyes (left) ----------
    def lid_fields(self):
        up, lo = np.array(lm.EYE_LEFT_UPPER), np.array(lm.EYE_LEFT_LOWER)
        d_up = self.g.distance(up[1:-1], blocked=lo)
        d_lo = self.g.distance(lo[1:-1], blocked=up)
        upper = (d_up < d_lo) & self.skin & (self.x > 0)
        lower = (d_lo < d_up) & self.skin & (self.x > 0)
        return up, lo, d_up, d_lo, upper, lower

    def interp_ring(self, ring, values) -> np.ndarray:
        order = np.argsort(self.x[ring])
        xs = self.x[ring][order]
        return np.stack([np.interp(self.x, xs, values[order, k]) for k in range(values.shape[1])], axis=1)

    def eye_blink(self) -> np.ndarray:
        up, lo, d_up, d_lo, upper, _ = self.lid_fields()
        # target of each upper contour vertex: the lower contour at the same x, slightly in front
        order = np.argsort(self.x[lo])
        tz = np.interp(self.x[up], self.x[lo][order], self.z[lo][order])
        ty = np.interp(self.x[up], self.x[lo][order], self.y[lo][order]) - 0.0008
        disp = np.stack([np.zeros(len(up)), ty - self.y[up], tz - self.z[up]], axis=1)
        disp[[0, -1]] = 0.0
        field = self.interp_ring(up, disp)
        w = falloff(d_up, 0.0, 0.013) * upper
        w[up[1:-1]] = 1.0
        d = field * w[:, None]
        return self.propagate(d)

    def lid_move(self, which: str, dz: float, radius: float, dy: float = 0.0) -> np.ndarray:
        up, lo, d_up, d_lo, upper, lower = self.lid_fields()
        ring, dist, mask = (up, d_up, upper) if which == "upper" else (lo, d_lo, lower)
        # taper to zero at the eye corners
        corner_taper = smoothstep(0.0, 0.006, np.minimum(np.abs(self.x - self.x[ring[0]]),
                                                         np.abs(self.x - self.x[ring[-1]])))
        w = falloff(dist, 0.0, radius) * mask * corner_taper
        d = self.zeros()
        d[:, 2] = dz * w
        d[:, 1] = dy * w
        return self.propagate(d)

    def eye_look(self, axis: str, angle: float) -> np.ndarray:
        """Turn the left eyeball: about X (positive angle: the pupil goes down) or Z (positive: toward +X)."""
        c = self.a.eyeball_center[PART_EYEBALL_L]
        R = _rot_x(angle) if axis == "x" else _rot_z(angle)
        eb = self.a.part == PART_EYEBALL_L
        d = self.zeros()
        d[eb] = (self.v[eb] - c) @ R.T + c - self.v[eb]
        return d

    # ---------- generic regional pushes ----------
    def region(self, seeds, inner: float, outer: float, blocked=()) -> np.ndarray:
        return falloff(self.g.distance(seeds, blocked), inner, outer) * self.skin

    def push(self, w: np.ndarray, vec) -> np.ndarray:
        d = w[:, None] * np.asarray(vec, dtype=np.float64)[None]
        return self.propagate(d)

    def nearest(self, point) -> int:
        idx = np.flatnonzero(self.skin)
        return int(idx[np.argmin(np.linalg.norm(self.v[idx] - point, axis=1))])


def build_deltas(a: Assembly, cfg: ShapeConfig | None = None) -> tuple[np.ndarray, Builder]:
    """Return deltas (52, V, 3) float64 in ``ARKIT_52`` order and the builder (for index sets)."""
    cfg = cfg or ShapeConfig()
    b = Builder(a, cfg)
    x, z = b.x, b.z
    S: dict[str, np.ndarray] = {}
    L = b.side()
    mouth_c = (b.v[lm.MOUTH_CORNER_LEFT] + b.v[lm.MOUTH_CORNER_RIGHT]) / 2

    # eyes (left; right by mirroring)
    S["eyeBlinkLeft"] = b.eye_blink()
    look = b.eye_look
    S["eyeLookUpLeft"] = look("x", -cfg.eye_look_updown) + b.lid_move("upper", 1.8 * MM, 0.012)
    S["eyeLookDownLeft"] = look("x", cfg.eye_look_updown) + 0.3 * S["eyeBlinkLeft"] \
        + b.lid_move("lower", -1.0 * MM, 0.008)
    S["eyeLookInLeft"] = look("z", -cfg.eye_look_side)  # left eye turns toward the nose (-X)
    S["eyeLookOutLeft"] = look("z", cfg.eye_look_side)
    S["eyeSquintLeft"] = b.lid_move("lower", 2.2 * MM, 0.014, -0.4 * MM) + b.lid_move("upper", -0.8 * MM, 0.008)
    S["eyeWideLeft"] = b.lid_move("upper", 3.2 * MM, 0.016, 0.3 * MM)

    # jaw
    d_jaw = b.jaw_open()
    S["jawOpen"] = d_jaw
    S["jawForward"] = b.rigid_jaw(lambda p: p + [0.0, -5.5 * MM, 0.0])
    S["jawLeft"] = b.rigid_jaw(lambda p: p + [6.5 * MM, 0.0, 0.0])
    S["mouthClose"] = b.mouth_close(d_jaw)

    # lips, symmetric
    lips_zone = falloff(b.d_lips, 0.0, 0.014) * b.skin
    around = lips_zone
    t = b.t_lip
    corner_x = b.x[lm.MOUTH_CORNER_LEFT]
    inner_open = np.where(b.upper_side, 1.0, -1.0) * (1 - t) * (b.lip > 0) \
        * smoothstep(0.0, 0.008, corner_x - np.abs(x))
    dx_toward = -(x - mouth_c[0])
    d = b.zeros()
    d[:, 0] = 0.22 * dx_toward * around
    d[:, 1] = -(3.5 * MM + 2.5 * MM * t) * around
    d[:, 2] = 2.8 * MM * inner_open
    S["mouthFunnel"] = b.propagate(d)
    d = b.zeros()
    d[:, 0] = 0.32 * dx_toward * around
    d[:, 1] = -(6.0 * MM + 2.0 * MM * (1 - np.abs(x) / 0.025).clip(0, 1)) * around
    d[:, 2] = -0.6 * MM * inner_open
    S["mouthPucker"] = b.propagate(d)
    mouth_zone = falloff(b.d_lips, 0.002, 0.024) * b.skin
    d = b.zeros()
    d[:, 0] = 6.5 * MM * mouth_zone
    d[:, 1] = 1.5 * MM * mouth_zone * np.clip(x / 0.025, -1, 1)  # follows the face's curvature
    S["mouthLeft"] = b.propagate(d)
    lower_zone = np.maximum(b.lip_l, falloff(b.d_lips, 0, 0.008) * (~b.upper_side)) * b.skin
    upper_zone = np.maximum(b.lip_u, falloff(b.d_lips, 0, 0.006) * b.upper_side) * b.skin
    d = b.zeros()
    d[:, 1] = (2.0 * MM + 2.5 * MM * t) * b.lip_l
    d[:, 2] = 2.8 * MM * t * b.lip_l
    S["mouthRollLower"] = b.propagate(d)
    d = b.zeros()
    d[:, 1] = (2.0 * MM + 2.5 * MM * t) * b.lip_u
    d[:, 2] = -2.6 * MM * t * b.lip_u
    S["mouthRollUpper"] = b.propagate(d)
    chin = b.region(lm.JAW_LINE[:1] + lm.LIP_OUTER_LOWER[4:7], 0.004, 0.030, blocked=lm.LIP_INNER_UPPER)
    chin *= (~b.upper_side)
    S["mouthShrugLower"] = b.push(np.maximum(chin, lower_zone), [0.0, -1.8 * MM, 3.0 * MM])
    S["mouthShrugUpper"] = b.push(upper_zone, [0.0, -1.2 * MM, 2.4 * MM])

    # lips and corners, left side
    corner = b.region([lm.MOUTH_CORNER_LEFT, lm.LIP_INNER_UPPER[-1]], 0.003, 0.032) * L
    corner_tight = b.region([lm.MOUTH_CORNER_LEFT, lm.LIP_INNER_UPPER[-1]], 0.002, 0.020) * L
    S["mouthSmileLeft"] = b.push(corner, [6.0 * MM, 4.0 * MM, 7.5 * MM])
    S["mouthFrownLeft"] = b.push(corner, [1.5 * MM, 0.5 * MM, -6.0 * MM])
    S["mouthDimpleLeft"] = b.push(corner_tight, [2.5 * MM, 4.5 * MM, 0.5 * MM])
    S["mouthStretchLeft"] = b.push(corner, [7.0 * MM, 1.5 * MM, -2.5 * MM])
    press = (b.lip_u * -1.0 + b.lip_l * 1.0) * t * L
    d = b.zeros()
    d[:, 2] = 2.0 * MM * press
    d[:, 1] = 0.8 * MM * t * b.lip * L
    S["mouthPressLeft"] = b.propagate(d)
    lip_side = smoothstep(-0.006, 0.010, x)
    S["mouthLowerDownLeft"] = b.push(lower_zone * lip_side, [0.0, -0.8 * MM, -4.0 * MM])
    S["mouthUpperUpLeft"] = b.push(upper_zone * lip_side, [0.0, -0.6 * MM, 3.8 * MM])

    # brows
    # brows move the skin above the eyes; the lids themselves stay (the skin between them folds)
    lid_keep = b.symmetric(smoothstep(0.003, 0.012, b.g.distance(lm.EYE_LEFT_UPPER)))
    brow_l = b.region(lm.BROW_LEFT, 0.004, 0.022) * (z > b.z[lm.EYE_LEFT_UPPER[4]]) * L * lid_keep
    inner_w = 1 - smoothstep(0.015, 0.05, x)
    d = b.push(brow_l, [0.0, 0.5 * MM, -6.0 * MM])
    d[:, 0] -= 1.8 * MM * brow_l * inner_w
    S["browDownLeft"] = d
    inner = b.region(lm.BROW_LEFT_INNER + tuple(int(b.mirror[i]) for i in lm.BROW_LEFT_INNER), 0.004, 0.026)
    inner *= (z > b.z[lm.EYE_LEFT_UPPER[4]] + 0.002) * lid_keep
    S["browInnerUp"] = b.push(inner, [0.0, 0.0, 7.0 * MM])
    outer = b.region(lm.BROW_LEFT_OUTER, 0.004, 0.024) * (z > b.z[lm.EYE_LEFT_UPPER[4]] + 0.002) * L * lid_keep
    S["browOuterUpLeft"] = b.push(outer, [0.0, 0.0, 7.0 * MM])

    # cheeks and nose
    eye_l = b.v[lm.EYE_LEFT_LOWER[4]]
    cheek_pt = b.nearest(eye_l + [0.012, -0.004, -0.038])
    puff = b.region([cheek_pt, int(b.mirror[cheek_pt])], 0.006, 0.032) * (b.lip == 0)
    n = _vertex_normals(b.v, a.faces)
    S["cheekPuff"] = b.propagate(n * (7.0 * MM * puff)[:, None])
    sq_pt = b.nearest(eye_l + [0.004, -0.002, -0.016])
    sq = b.region([sq_pt], 0.004, 0.020) * L
    S["cheekSquintLeft"] = b.push(sq, [0.0, -0.8 * MM, 3.5 * MM])
    below_tip = 1 - smoothstep(b.z[lm.NOSE_TIP] - 0.014, b.z[lm.NOSE_TIP] - 0.002, z)  # mouth shapes stay low
    cheek_low = b.region([sq_pt], 0.006, 0.030) * L * below_tip
    S["mouthSmileLeft"] = S["mouthSmileLeft"] + b.push(cheek_low, [0.0, -0.6 * MM, 1.8 * MM])  # cheek rises
    ala = b.nearest(b.v[lm.NOSE_BOTTOM] + [0.016, -0.004, 0.006])
    sneer = b.region([ala], 0.003, 0.018) * L * (b.lip == 0)
    S["noseSneerLeft"] = b.push(sneer, [0.8 * MM, 1.2 * MM, 4.2 * MM])

    # tongue
    d = b.zeros()
    tongue = a.part == PART_TONGUE
    ty = b.y[tongue]
    front = 1 - (ty - ty.min()) / (ty.max() - ty.min())
    d[tongue, 1] = -(0.012 + 0.022 * front)
    d[tongue, 2] = -0.004 * front
    d[tongue, 0] = -0.25 * b.x[tongue] * front
    lips_apart = falloff(np.abs(x), 0.006, 0.02) * lips_zone
    d[:, 2] += np.where(b.upper_side, 1.0 * MM, -3.5 * MM) * lips_apart
    S["tongueOut"] = d

    # socket & bag follow for shapes that did not call propagate; then mirror
    for name in list(S):
        if name.endswith("Left"):
            S[mirror_name(name)] = S[name][b.mirror] * [-1.0, 1.0, 1.0]
    missing = [n for n in ARKIT_52 if n not in S]
    if missing:
        raise RuntimeError(f"shapes not built: {missing}")
    return np.stack([S[n] for n in ARKIT_52]), b


def _vertex_normals(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    n = np.zeros_like(v)
    for k in range(3):
        np.add.at(n, f[:, k], fn)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


__all__ = ["ShapeConfig", "build_deltas", "mirror_map"]
