"""Turn the canonical face into a demo head: metres in Blender axes, opened mouth and eyes, closed rest lips,
a mouth cavity and eye sockets joined to the openings, eyeballs and a tongue.

Blender axes: +X is the subject's left, -Y is where the face looks, +Z is up.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import landmarks as lm
from .mediapipe_mesh import CanonicalMesh
from .regions import SurfaceGraph, falloff

MATERIALS: tuple[str, ...] = ("Skin", "Mouth", "Sclera", "Iris", "Pupil", "Tongue", "Teeth", "Lips", "Brows")
SKIN, MOUTH, SCLERA, IRIS, PUPIL, TONGUE, TEETH, LIPS, BROWS = range(9)
# Part id per vertex.
PART_SKIN, PART_MOUTH_BAG, PART_EYE_SOCKET, PART_EYEBALL_L, PART_EYEBALL_R, PART_TONGUE, PART_TEETH_UP, \
    PART_TEETH_LO, PART_SKULL = range(9)

REST_LIP_GAP = 0.0005  # metres between the inner lips at rest (a thin dark line, lips touching)
EYEBALL_RADIUS = 0.0124
# Back of the head: an ellipsoid (centre, semi-axes in metres) the face oval is swept onto.
SKULL_CENTRE = (0.0, 0.025, 0.010)
SKULL_AXES = (0.080, 0.095, 0.112)


@dataclass
class Assembly:
    """The head before shape keys. vertices (V,3) m, faces (F,3), uvs (V,2), material (F,), part (V,).

    ``follow[v]``/``follow_factor[v]``: a cavity vertex follows ring vertex ``follow[v]`` by that factor
    (-1 when it is not a cavity vertex). ``eyeball_center`` maps part id -> (3,) centre.
    """

    vertices: np.ndarray
    faces: np.ndarray
    uvs: np.ndarray
    material: np.ndarray
    part: np.ndarray
    follow: np.ndarray
    follow_factor: np.ndarray
    eyeball_center: dict = field(default_factory=dict)
    mirror: np.ndarray | None = None

    def add(self, verts, faces_local, uvs, material, part, follow=None, factor=None) -> np.ndarray:
        base = len(self.vertices)
        n = len(verts)
        self.vertices = np.concatenate([self.vertices, verts])
        self.faces = np.concatenate([self.faces, np.asarray(faces_local) + base])
        self.uvs = np.concatenate([self.uvs, uvs])
        self.material = np.concatenate([self.material, np.broadcast_to(material, (len(faces_local),))])
        self.part = np.concatenate([self.part, np.full(n, part)])
        self.follow = np.concatenate([self.follow, -np.ones(n, np.int64) if follow is None else follow])
        self.follow_factor = np.concatenate([self.follow_factor, np.zeros(n) if factor is None else factor])
        return np.arange(base, base + n)


def to_blender(p_cm: np.ndarray) -> np.ndarray:
    """MediaPipe canonical axes in cm (x left, y up, z toward viewer) -> Blender metres (x, -z, y)."""
    return np.stack([p_cm[:, 0], -p_cm[:, 2], p_cm[:, 1]], axis=1) * 0.01


def fill_faces(faces: np.ndarray) -> np.ndarray:
    """Mask of the triangles that close the mouth and the eyes (all three corners on one opening contour)."""
    mask = np.zeros(len(faces), bool)
    for ring in (lm.LIP_INNER_UPPER + lm.LIP_INNER_LOWER, lm.EYE_LEFT_UPPER + lm.EYE_LEFT_LOWER,
                 lm.EYE_RIGHT_UPPER + lm.EYE_RIGHT_LOWER):
        mask |= np.isin(faces, ring).all(axis=1)
    return mask


def opening_loop(upper, lower) -> list[int]:
    """Closed contour: upper from one corner to the other, then lower back (corners once)."""
    return list(upper) + list(lower[-2:0:-1])


def _close_rest_lips(a: Assembly) -> None:
    """Bring the inner lips together (the canonical face rests with them ~5 mm apart)."""
    v = a.vertices
    g = SurfaceGraph(v, a.faces, a.part == PART_SKIN)
    up, lo = np.array(lm.LIP_INNER_UPPER), np.array(lm.LIP_INNER_LOWER)
    gap = v[up, 2] - v[lo, 2]  # (11,) vertical gap per pair (0 at the corners)
    shift_z = np.maximum(gap - REST_LIP_GAP, 0.0) / 2.0
    shift_y = (v[up, 1] - v[lo, 1]) / 2.0  # the lower lip also rests in front of the upper one
    order = np.argsort(v[up, 0])
    xs = v[up, 0][order]
    d_up = g.distance(up[1:-1], blocked=lo)
    d_lo = g.distance(lo[1:-1], blocked=up)
    sz = np.interp(v[:, 0], xs, shift_z[order])
    sy = np.interp(v[:, 0], xs, shift_y[order])
    w_up = falloff(d_up, 0.0, 0.012) * (d_up < d_lo)
    w_lo = falloff(d_lo, 0.0, 0.012) * (d_lo < d_up)
    v[:, 2] += -sz * w_up + sz * w_lo
    v[:, 1] += -sy * w_up + sy * w_lo


def _lip_faces(a: Assembly) -> np.ndarray:
    """Mask of skin triangles between the outer and the inner lip contours."""
    g = SurfaceGraph(a.vertices, a.faces, a.part == PART_SKIN)
    outer = np.array(lm.LIP_OUTER_UPPER + lm.LIP_OUTER_LOWER)
    d = g.distance(np.array(lm.LIP_INNER_UPPER + lm.LIP_INNER_LOWER), blocked=outer)
    inside = np.isfinite(d)
    inside[outer] = True
    return inside[a.faces].all(axis=1)


def _cavity(a: Assembly, loop: list[int], layers, cap_back: float, cap_factor: float, material: int,
            part: int, mid_follow: int) -> np.ndarray:
    """A pouch joined to the opening contour ``loop``: each layer is (back offset m, x scale, z-up offset
    for upper-half vertices, z offset for lower-half vertices, follow factor). Returns new vertex ids."""
    v = a.vertices
    ring = np.array(loop)
    p = v[ring]
    centre = p.mean(axis=0)
    zmid = centre[2]
    n = len(ring)
    verts, follow, factor, uvs = [], [], [], []
    for back, xs, zu, zl, f in layers:
        q = p.copy()
        q[:, 0] = centre[0] + (p[:, 0] - centre[0]) * xs
        q[:, 1] = p[:, 1] + back
        q[:, 2] = p[:, 2] + np.where(p[:, 2] >= zmid, zu, zl)
        verts.append(q)
        follow.append(ring)
        factor.append(np.full(n, f))
        uvs.append(a.uvs[ring])
    cap = centre.copy()
    cap[1] = p[:, 1].max() + cap_back
    verts = np.concatenate(verts + [cap[None]])
    follow = np.concatenate(follow + [ring[[mid_follow]]])
    factor = np.concatenate(factor + [np.array([cap_factor])])
    uvs = np.concatenate(uvs + [a.uvs[ring].mean(axis=0, keepdims=True)])
    base = len(a.vertices)
    rows = [ring] + [base + k * n + np.arange(n) for k in range(len(layers))]
    faces = []
    for r0, r1 in zip(rows[:-1], rows[1:], strict=True):
        for i in range(n):
            j = (i + 1) % n
            faces += [(r0[i], r0[j], r1[j]), (r0[i], r1[j], r1[i])]
    cap_id = base + len(layers) * n
    last = rows[-1]
    faces += [(last[i], last[(i + 1) % n], cap_id) for i in range(n)]
    faces = np.array(faces) - base  # local, may be negative for ring ids: fix after add
    ids = a.add(verts, np.zeros((0, 3), np.int64), uvs, material, part, follow, factor)
    faces = faces + base
    # orient like the skin: the skin triangle using edge (ring[0], ring[1]) must run opposite to ours
    skin = a.faces[a.part[a.faces].max(axis=1) == PART_SKIN]
    e0, e1 = ring[0], ring[1]
    skin_dir = any((f[k], f[(k + 1) % 3]) == (e0, e1) for f in skin for k in range(3))
    if skin_dir:  # our first face uses (ring[0], ring[1]) in the same direction: flip all
        faces = faces[:, ::-1]
    a.faces = np.concatenate([a.faces, faces])
    a.material = np.concatenate([a.material, np.full(len(faces), material)])
    return ids


def _sphere(center: np.ndarray, radius: float, n_seg: int = 24, n_ring: int = 14):
    """UV sphere with its pole toward -Y. Returns vertices (N,3), faces (M,3), uvs (N,2), polar angle of
    each face centre (M,) measured from the front pole."""
    th = np.linspace(0, np.pi, n_ring + 1)[1:-1]
    ph = np.linspace(0, 2 * np.pi, n_seg, endpoint=False)
    T, P = np.meshgrid(th, ph, indexing="ij")
    pts = np.stack([np.sin(T) * np.cos(P), -np.cos(T), np.sin(T) * np.sin(P)], axis=-1).reshape(-1, 3)
    verts = np.concatenate([[[0, -1, 0]], pts, [[0, 1, 0]]]) * radius + center
    uvs = np.concatenate([[[0.5, 1.0]], np.stack([P / (2 * np.pi), 1 - T / np.pi], -1).reshape(-1, 2), [[0.5, 0]]])
    faces, ang = [], []
    ridx = lambda r, s: 1 + r * n_seg + (s % n_seg)  # noqa: E731
    for s in range(n_seg):
        faces.append((0, ridx(0, s + 1), ridx(0, s)))
        ang.append(th[0] / 2)
    for r in range(n_ring - 2):
        for s in range(n_seg):
            a0, a1, b0, b1 = ridx(r, s), ridx(r, s + 1), ridx(r + 1, s), ridx(r + 1, s + 1)
            faces += [(a0, a1, b1), (a0, b1, b0)]
            ang += [(th[r] + th[r + 1]) / 2] * 2
    last = len(verts) - 1
    for s in range(n_seg):
        faces.append((last, ridx(n_ring - 2, s), ridx(n_ring - 2, s + 1)))
        ang.append(np.pi)
    return verts, np.array(faces), uvs, np.array(ang)


def _ellipsoid(center, axes, n_seg=16, n_ring=10):
    verts, faces, uvs, _ = _sphere(np.zeros(3), 1.0, n_seg, n_ring)
    return verts * np.asarray(axes) + center, faces, uvs


def assemble(mesh: CanonicalMesh) -> Assembly:
    v = to_blender(mesh.positions)
    uv = np.stack([mesh.uvs[:, 0], 1.0 - mesh.uvs[:, 1]], axis=1)  # Blender UVs: v up
    faces = mesh.faces[~fill_faces(mesh.faces)]
    a = Assembly(vertices=v, faces=faces, uvs=uv, material=np.full(len(faces), SKIN),
                 part=np.full(len(v), PART_SKIN), follow=-np.ones(len(v), np.int64), follow_factor=np.zeros(len(v)))
    _close_rest_lips(a)
    a.material[_lip_faces(a)] = LIPS
    a.material[np.isin(a.faces, lm.BROW_LEFT + lm.BROW_RIGHT).all(axis=1)] = BROWS
    # mouth cavity: (back, x scale, z upper, z lower, follow factor)
    mouth_loop = opening_loop(lm.LIP_INNER_UPPER, lm.LIP_INNER_LOWER)
    _cavity(a, mouth_loop, [(0.004, 0.95, 0.002, -0.002, 0.85), (0.014, 0.9, 0.008, -0.012, 0.6),
                            (0.028, 0.7, 0.010, -0.014, 0.35)], 0.036, 0.25, MOUTH, PART_MOUTH_BAG, len(lm.LIP_INNER_UPPER) // 2)
    for up, lo in ((lm.EYE_LEFT_UPPER, lm.EYE_LEFT_LOWER), (lm.EYE_RIGHT_UPPER, lm.EYE_RIGHT_LOWER)):
        _cavity(a, opening_loop(up, lo), [(0.003, 0.9, 0.0, 0.0, 0.8), (0.008, 0.6, 0.0, 0.0, 0.4)],
                0.011, 0.2, MOUTH, PART_EYE_SOCKET, len(up) // 2)
    # eyeballs (left built, right mirrored exactly)
    up, lo = np.array(lm.EYE_LEFT_UPPER), np.array(lm.EYE_LEFT_LOWER)
    c = np.array([(a.vertices[up[0], 0] + a.vertices[up[-1], 0]) / 2,
                  0.0, (a.vertices[up[4], 2] + a.vertices[lo[4], 2]) / 2])
    front = (a.vertices[up[4], 1] + a.vertices[lo[4], 1]) / 2 + 0.0012
    c[1] = front + EYEBALL_RADIUS
    sv, sf, su, ang = _sphere(c, EYEBALL_RADIUS)
    mat = np.where(ang < 0.17, PUPIL, np.where(ang < 0.5, IRIS, SCLERA))
    for part, sign in ((PART_EYEBALL_L, 1.0), (PART_EYEBALL_R, -1.0)):
        verts = sv * [sign, 1, 1]
        f = sf if sign > 0 else sf[:, ::-1]
        ids = a.add(verts, f, su, SKIN, part)
        a.material[-len(f):] = mat
        a.eyeball_center[part] = c * [sign, 1, 1]
        del ids
    # tongue: a flattened ellipsoid lying on the floor of the mouth
    lip_y = a.vertices[lm.LIP_INNER_LOWER[5], 1]
    lip_z = a.vertices[lm.LIP_INNER_LOWER[5], 2]
    tv, tf, tu = _ellipsoid(np.array([0.0, lip_y + 0.030, lip_z - 0.008]), (0.017, 0.024, 0.0055))
    a.add(tv, tf, tu, TONGUE, PART_TONGUE)
    _teeth(a)
    _skull(a)
    return a


def _skull(a: Assembly, n_rings: int = 7) -> None:
    """Close the face into a head: sweep the face oval over an ellipsoid to a pole at the back.
    Ring k follows its oval vertex with a factor fading from 0.6 to 0 (so the jaw drags the underside)."""
    oval = np.array(lm.FACE_OVAL)
    c, ax = np.array(SKULL_CENTRE), np.array(SKULL_AXES)
    q = (a.vertices[oval] - c) / ax  # normalised
    r0 = np.linalg.norm(q, axis=1)
    d0 = q / r0[:, None]
    back = np.array([0.0, 1.0, 0.0])
    omega = np.arccos(np.clip(d0 @ back, -1.0, 1.0))  # (36,)
    verts, follow, factor = [], [], []
    for k in range(1, n_rings + 1):
        t = k / (n_rings + 1)
        # slerp from the oval direction to the back pole; radius eases from the oval's to the ellipsoid's
        s0 = np.sin((1 - t) * omega) / np.sin(omega)
        s1 = np.sin(t * omega) / np.sin(omega)
        d = d0 * s0[:, None] + back[None] * s1[:, None]
        r = r0 + (1.0 - r0) * (1 - (1 - t) ** 2)
        verts.append(c + ax * d * r[:, None])
        follow.append(oval)
        factor.append(np.full(len(oval), max(0.0, 0.6 * (1 - 2 * t))))
    pole = c + ax * back
    verts = np.concatenate(verts + [pole[None]])
    follow = np.concatenate(follow + [oval[:1]])
    factor = np.concatenate(factor + [np.zeros(1)])
    uvs = np.tile(a.uvs[oval], (n_rings, 1))
    uvs = np.concatenate([uvs, a.uvs[oval[:1]]])
    base = len(a.vertices)
    n = len(oval)
    rows = [oval] + [base + k * n + np.arange(n) for k in range(n_rings)]
    faces = []
    for r_0, r_1 in zip(rows[:-1], rows[1:], strict=True):
        for i in range(n):
            j = (i + 1) % n
            faces += [(r_0[i], r_0[j], r_1[j]), (r_0[i], r_1[j], r_1[i])]
    pole_id = base + n_rings * n
    faces += [(rows[-1][i], rows[-1][(i + 1) % n], pole_id) for i in range(n)]
    faces = np.array(faces)
    skin = a.faces[a.part[a.faces].max(axis=1) == PART_SKIN]
    if any((f[k], f[(k + 1) % 3]) == (oval[0], oval[1]) for f in skin for k in range(3)):
        faces = faces[:, ::-1]
    a.add(verts, np.zeros((0, 3), np.int64), uvs, SKIN, PART_SKULL, follow, factor)
    a.faces = np.concatenate([a.faces, faces])
    a.material = np.concatenate([a.material, np.full(len(faces), SKIN)])


def _teeth(a: Assembly) -> None:
    """Upper and lower rows of teeth: thin curved bands behind the inner lips."""
    for row, part, zsign in ((lm.LIP_INNER_UPPER, PART_TEETH_UP, 1.0), (lm.LIP_INNER_LOWER, PART_TEETH_LO, -1.0)):
        ring = np.array(row)
        p = a.vertices[ring][1:-1]
        x = p[:, 0] * 0.8
        # upper incisors reach 2.5 mm below the lip line and sit in front of the lower ones (overbite)
        y = p[:, 1] + (0.006 if zsign > 0 else 0.0085) + 0.004 * (x / x.max()) ** 2
        z_edge = p[:, 2] - zsign * (0.0025 if zsign > 0 else 0.0005)
        top = z_edge + zsign * 0.009
        # a band: edge row and root row, each with a front and a back copy (closed thin slab)
        k = len(x)
        rows = []
        for zz, dy in ((z_edge, 0.0), (top, 0.0), (top, 0.003), (z_edge, 0.003)):
            rows.append(np.stack([x, y + dy, zz], axis=1))
        verts = np.concatenate(rows)
        faces = []
        for r in range(4):
            r0, r1 = r * k, ((r + 1) % 4) * k
            for i in range(k - 1):
                faces += [(r0 + i, r0 + i + 1, r1 + i + 1), (r0 + i, r1 + i + 1, r1 + i)]
        # end caps
        for i in (0, k - 1):
            quad = [i, k + i, 2 * k + i, 3 * k + i]
            faces += [(quad[0], quad[1], quad[2]), (quad[0], quad[2], quad[3])] if i == 0 else \
                [(quad[0], quad[2], quad[1]), (quad[0], quad[3], quad[2])]
        faces = np.array(faces)
        if zsign < 0:
            faces = faces[:, ::-1]
        uvs = np.zeros((len(verts), 2))
        a.add(verts, faces, uvs, TEETH, part)
