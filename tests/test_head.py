"""The demo head asset: size, load API, mouth/eye behaviour of the key shapes, mirror symmetry, regions,
and mesh integrity. Pure numpy (plus the npm package for the reproducibility test)."""
from __future__ import annotations

import numpy as np
import pytest

from thunder_blender.core.channels import ARKIT_52, INDEX, mirror_name
from thunder_blender.core.head import ASSET_PATH, eye_opening, load_demo_head, mouth_opening, pose

MM = 1e-3
TOL = 0.05 * MM  # "does not move": below 0.05 mm

# jawOpen = 1 opens the inner lips by about 30 mm (the jaw turns 0.27 rad about a hinge in front of the ear);
# a wide-open human mouth is 35-50 mm between the incisors, a relaxed "ah" 15-25 mm.
JAW_OPEN_GAP_MM = (22.0, 38.0)


@pytest.fixture(scope="module")
def head():
    return load_demo_head()


def weights(**kw) -> np.ndarray:
    w = np.zeros(52, np.float32)
    for k, v in kw.items():
        w[INDEX[k]] = v
    return w


def test_asset_is_small_and_complete(head):
    assert ASSET_PATH.stat().st_size < 2 * 1024 * 1024
    assert head.shape_names == ARKIT_52
    V = head.n_vertices
    assert head.vertices.shape == (V, 3) and head.vertices.dtype == np.float32
    assert head.deltas.shape == (52, V, 3)
    assert head.uvs.shape == (V, 2)
    assert head.faces.shape[1] == 3 and head.faces.min() >= 0 and head.faces.max() < V
    assert head.material_index.shape == (len(head.faces),)
    assert head.material_index.max() < len(head.material_names)
    for idx in (head.lip_idx, head.upper_face_idx, head.inner_lip_pairs, head.mirror):
        assert idx.min() >= 0 and idx.max() < V
    assert head.inner_lip_pairs.shape[1] == 2 and len(head.inner_lip_pairs) >= 5
    assert load_demo_head() is head  # cached
    # the face is about life size: 17-19 cm from forehead to chin, looking toward -Y
    skin = head.vertices[head.part == 0]
    assert 0.16 < np.ptp(skin[:, 2]) < 0.20
    nose = head.vertices[4]
    assert nose[1] < skin[:, 1].mean()


def test_pose_batches_and_ignores_head_channels(head):
    w = np.stack([weights(), weights(jawOpen=1.0), weights(jawOpen=0.5)])
    p = pose(head, w)
    assert p.shape == (3, head.n_vertices, 3)
    np.testing.assert_allclose(p[0], head.vertices)
    np.testing.assert_allclose(p[2] - p[0], 0.5 * (p[1] - p[0]), atol=1e-7)
    w55 = np.concatenate([w, np.full((3, 3), 0.3, np.float32)], axis=1)
    np.testing.assert_allclose(pose(head, w55), p)
    with pytest.raises(ValueError):
        pose(head, np.zeros(51))


def test_jaw_open_opens_the_mouth(head):
    rest = mouth_opening(head, head.vertices)
    opened = mouth_opening(head, pose(head, weights(jawOpen=1.0)))
    assert rest < 1.0 * MM  # the lips touch at rest
    lo, hi = JAW_OPEN_GAP_MM
    assert lo * MM < opened < hi * MM, f"jawOpen=1 gap {opened / MM:.1f} mm"
    half = mouth_opening(head, pose(head, weights(jawOpen=0.5)))
    assert 0.35 * opened < half < 0.65 * opened


@pytest.mark.parametrize("w", [0.25, 0.5, 1.0])
def test_mouth_close_seals_the_lips_with_the_jaw_open(head, w):
    sealed = mouth_opening(head, pose(head, weights(jawOpen=w, mouthClose=w)))
    assert sealed < 1.0 * MM, f"jawOpen=mouthClose={w}: gap {sealed / MM:.2f} mm"
    # and the jaw stays open: the chin is still lowered
    chin = 152
    moved = pose(head, weights(jawOpen=w, mouthClose=w))[chin] - head.vertices[chin]
    assert moved[2] < -0.5 * w * 0.02


def test_blink_closes_one_eye_only(head):
    p = pose(head, weights(eyeBlinkLeft=1.0))
    assert eye_opening(head, head.vertices, "left") > 3.0 * MM
    assert eye_opening(head, p, "left") < 0.6 * MM
    np.testing.assert_array_equal(eye_opening(head, p, "right"), eye_opening(head, head.vertices, "right"))
    right_half = head.vertices[:, 0] < 0
    assert np.abs(p[right_half] - head.vertices[right_half]).max() == 0.0
    p = pose(head, weights(eyeBlinkRight=1.0))
    assert eye_opening(head, p, "right") < 0.6 * MM


def _mirrored(head, d: np.ndarray) -> np.ndarray:
    return d[head.mirror] * np.array([-1.0, 1.0, 1.0], np.float32)


def test_mirror_map_is_a_symmetry(head):
    m = head.mirror
    np.testing.assert_array_equal(m[m], np.arange(head.n_vertices))
    np.testing.assert_allclose(head.vertices[m] * [-1, 1, 1], head.vertices, atol=1e-6)


@pytest.mark.parametrize("name", ARKIT_52)
def test_left_right_pairs_mirror_and_centre_shapes_are_symmetric(head, name):
    d = head.deltas[INDEX[name]]
    other = head.deltas[INDEX[mirror_name(name)]]
    np.testing.assert_allclose(_mirrored(head, d), other, atol=1e-6)
    assert np.abs(d).max() > 1.5 * MM, f"{name} barely moves anything"


def _region_limits(head):
    """Geometric regions each shape must stay inside (independent of how the shapes were built)."""
    v = head.vertices
    z_eye_low = v[374, 2]  # left lower lid, centre
    z_nose_bottom = v[2, 2]
    limits = {}
    for name in ARKIT_52:
        outside = np.zeros(len(v), bool)
        if name.startswith(("eye", "brow", "cheekSquint")):
            outside |= v[:, 2] < z_nose_bottom  # nothing below the nose
        if name.startswith(("mouth", "jaw", "tongue", "cheekPuff", "noseSneer")):
            outside |= v[:, 2] > z_eye_low  # nothing at or above the eyes
        if name.startswith("brow"):
            outside |= v[:, 2] < z_eye_low - 0.005
        if name.startswith("eyeLook"):
            eye = v[263] if name.endswith("Left") else v[33]
            outside |= np.linalg.norm(v - (v[263 if name.endswith("Left") else 33] + v[362 if name.endswith(
                "Left") else 133]) / 2, axis=1) > 0.035
            del eye
        sided = name.endswith(("Left", "Right")) and not name.startswith(("jawLeft", "jawRight", "mouthLeft",
                                                                          "mouthRight"))
        if sided:
            sign = 1.0 if name.endswith("Left") else -1.0
            outside |= sign * v[:, 0] < -0.010  # the other half of the face stays put
        limits[name] = outside
    return limits


def test_every_shape_stays_in_its_region(head):
    limits = _region_limits(head)
    bad = {}
    for k, name in enumerate(ARKIT_52):
        moved = np.linalg.norm(head.deltas[k], axis=1)
        worst = moved[limits[name]].max(initial=0.0)
        if worst > TOL:
            bad[name] = round(float(worst / MM), 3)
    assert not bad, f"shapes moving vertices outside their region (mm): {bad}"


def test_lip_and_upper_face_sets_are_where_they_should_be(head):
    v = head.vertices
    lips = v[head.lip_idx]
    assert len(head.lip_idx) >= 40
    assert np.all(np.abs(lips[:, 0]) < 0.03) and np.all(lips[:, 2] < v[2, 2])
    upper = v[head.upper_face_idx]
    assert np.all(upper[:, 2] > v[4, 2])
    assert not set(head.lip_idx) & set(head.upper_face_idx)
    # the upper face moves for eye/brow shapes and not at all for lip shapes
    for name in ("mouthFunnel", "mouthSmileLeft", "jawOpen", "mouthClose"):
        assert np.abs(head.deltas[INDEX[name]][head.upper_face_idx]).max() <= TOL
    for name in ("eyeBlinkLeft", "browInnerUp", "eyeLookUpRight"):
        assert np.abs(head.deltas[INDEX[name]][head.upper_face_idx]).max() > 1.0 * MM


def _edges(faces):
    return np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])


def _triangle_areas(v, f):
    return 0.5 * np.linalg.norm(np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]), axis=1)


def test_mesh_is_manifold_and_consistently_oriented(head):
    f = head.faces
    directed = _edges(f)
    # no directed edge twice: every edge is shared by at most two triangles with opposite winding
    keys = directed[:, 0].astype(np.int64) * head.n_vertices + directed[:, 1]
    assert len(np.unique(keys)) == len(keys)
    und = np.sort(directed, axis=1)
    ukeys, counts = np.unique(und[:, 0].astype(np.int64) * head.n_vertices + und[:, 1], return_counts=True)
    assert counts.max() == 2
    # closed: the face oval is joined to the back of the head, mouth and eyes to their cavities; eyeballs,
    # teeth and tongue are closed surfaces
    assert counts.min() == 2
    # the canonical face keeps its own triangles (minus the 18 + 2 x 14 that closed the mouth and the eyes)
    skin_faces = np.all(head.part[f] == 0, axis=1)
    assert skin_faces.sum() == 898 - 18 - 2 * 14
    assert _triangle_areas(head.vertices, f).min() > 1e-10
    # no shape at full weight collapses a triangle
    for k, name in enumerate(ARKIT_52):
        area = _triangle_areas(head.vertices + head.deltas[k], f)
        assert area.min() > 1e-11, name


@pytest.mark.node
def test_asset_is_reproducible_from_the_npm_package(tmp_path):
    pytest.importorskip("scipy")
    from thunder_train.head.build import build
    from thunder_train.head.mediapipe_mesh import PACKAGE_DIR, PACKED

    if not (PACKAGE_DIR / PACKED).exists():
        pytest.skip("node_modules/@mediapipe/face_mesh is not installed (npm ci)")
    out = tmp_path / "head.npz"
    build(out)
    fresh = load_demo_head(out)
    shipped = load_demo_head()
    np.testing.assert_allclose(fresh.vertices, shipped.vertices, atol=1e-7)
    np.testing.assert_array_equal(fresh.faces, shipped.faces)
    np.testing.assert_allclose(fresh.deltas, shipped.deltas, atol=1e-7)


@pytest.mark.node
def test_landmark_contours_follow_mesh_edges():
    from thunder_train.head import landmarks as lm
    from thunder_train.head.mediapipe_mesh import PACKAGE_DIR, PACKED, read_canonical_mesh

    if not (PACKAGE_DIR / PACKED).exists():
        pytest.skip("node_modules/@mediapipe/face_mesh is not installed (npm ci)")
    mesh = read_canonical_mesh()
    assert mesh.positions.shape == (468, 3) and mesh.faces.shape == (898, 3)
    und = {tuple(sorted(e)) for e in _edges(mesh.faces).tolist()}
    for contour in (lm.LIP_INNER_UPPER, lm.LIP_INNER_LOWER, lm.LIP_OUTER_UPPER, lm.LIP_OUTER_LOWER,
                    lm.EYE_LEFT_UPPER, lm.EYE_LEFT_LOWER, lm.EYE_RIGHT_UPPER, lm.EYE_RIGHT_LOWER,
                    lm.FACE_OVAL + lm.FACE_OVAL[:1]):
        assert all(tuple(sorted(p)) in und for p in zip(contour[:-1], contour[1:], strict=True)), contour
    x = mesh.positions[:, 0]
    assert x[lm.EYE_LEFT_UPPER[4]] > 0 > x[lm.EYE_RIGHT_UPPER[4]]  # subject's left is +x
    for left, right in ((lm.EYE_LEFT_UPPER, lm.EYE_RIGHT_UPPER), (lm.BROW_LEFT, lm.BROW_RIGHT)):
        np.testing.assert_allclose(mesh.positions[list(left)] * [-1, 1, 1], mesh.positions[list(right)], atol=1e-5)


def _pupil(head, part: int) -> int:
    """The front-most vertex of an eyeball (its pupil pole)."""
    idx = np.flatnonzero(head.part == part)
    return int(idx[np.argmin(head.vertices[idx, 1])])


# (shape, vertex, axis, sign): the vertex must move at least 1 mm along +/- axis (0 = X subject's left,
# 1 = Y backward, 2 = Z up). Vertex numbers are MediaPipe landmarks (291 left mouth corner, 0/17 upper/lower
# lip midline, 269/405 left upper/lower outer lip, 386/374 left upper/lower lid, 285 left inner brow,
# 276 left outer brow, 282 left brow middle, 152 chin).
DIRECTIONS = [
    ("mouthSmileLeft", 291, 2, +1), ("mouthSmileLeft", 291, 0, +1), ("mouthFrownLeft", 291, 2, -1),
    ("mouthStretchLeft", 291, 0, +1), ("mouthDimpleLeft", 291, 1, +1),
    ("mouthPucker", 0, 1, -1), ("mouthPucker", 291, 0, -1), ("mouthFunnel", 17, 1, -1),
    ("mouthFunnel", 291, 0, -1), ("mouthLeft", 0, 0, +1), ("mouthLeft", 17, 0, +1),
    ("mouthUpperUpLeft", 269, 2, +1), ("mouthLowerDownLeft", 405, 2, -1),
    ("mouthPressLeft", 269, 2, -1), ("mouthPressLeft", 405, 2, +1),
    ("mouthRollLower", 17, 1, +1), ("mouthRollUpper", 0, 1, +1),
    ("mouthShrugLower", 17, 2, +1), ("mouthShrugUpper", 0, 2, +1),
    ("jawOpen", 152, 2, -1), ("jawForward", 152, 1, -1), ("jawLeft", 152, 0, +1),
    ("browDownLeft", 282, 2, -1), ("browInnerUp", 285, 2, +1), ("browOuterUpLeft", 276, 2, +1),
    ("eyeSquintLeft", 374, 2, +1), ("eyeWideLeft", 386, 2, +1), ("eyeBlinkLeft", 386, 2, -1),
]


@pytest.mark.parametrize("name,vertex,axis,sign", DIRECTIONS)
def test_shapes_move_landmarks_the_right_way(head, name, vertex, axis, sign):
    d = head.deltas[INDEX[name]][vertex, axis]
    assert sign * d > 1.0 * MM, f"{name}: vertex {vertex} moved {d / MM:+.2f} mm along axis {axis}"
    # and the mirrored shape moves the mirrored vertex the mirrored way
    other = head.deltas[INDEX[mirror_name(name)]][head.mirror[vertex], axis]
    np.testing.assert_allclose(other, -d if axis == 0 else d, atol=1e-6)


@pytest.mark.parametrize("name,axis,sign", [("eyeLookUpLeft", 2, +1), ("eyeLookDownLeft", 2, -1),
                                            ("eyeLookInLeft", 0, -1), ("eyeLookOutLeft", 0, +1),
                                            ("eyeLookInRight", 0, +1), ("eyeLookOutRight", 0, -1)])
def test_eye_looks_turn_the_pupil(head, name, axis, sign):
    part = 3 if name.endswith("Left") else 4
    pupil = _pupil(head, part)
    assert sign * head.deltas[INDEX[name]][pupil, axis] > 2.0 * MM
    other = 4 if part == 3 else 3
    assert np.abs(head.deltas[INDEX[name]][head.part == other]).max() == 0.0


def test_cheek_puff_and_sneer_and_tongue(head):
    v = head.vertices
    puff = head.deltas[INDEX["cheekPuff"]]
    cheeks = (head.part == 0) & (np.abs(v[:, 0]) > 0.035) & (v[:, 2] < v[2, 2]) & (v[:, 2] > v[17, 2])
    outward = (puff[cheeks, 0] * np.sign(v[cheeks, 0])).max()
    assert outward > 3.0 * MM
    sneer = head.deltas[INDEX["noseSneerLeft"]]
    nose_side = (head.part == 0) & (v[:, 0] > 0.008) & (v[:, 0] < 0.03) & (np.abs(v[:, 2] - v[2, 2]) < 0.015)
    assert sneer[nose_side, 2].max() > 2.5 * MM
    tongue = np.flatnonzero(head.part == 5)
    tip = tongue[np.argmin(v[tongue, 1])]
    out = v[tip] + head.deltas[INDEX["tongueOut"]][tip]
    assert out[1] < v[17, 1] - 0.01  # the tip ends at least 1 cm in front of the lower lip


@pytest.mark.parametrize("name", ["eyeBlinkLeft", "eyeSquintLeft", "eyeLookDownLeft", "browDownLeft"])
def test_lids_never_cut_into_the_eyeball(head, name):
    v = head.vertices
    ball = v[head.part == 3]
    centre = (ball.max(axis=0) + ball.min(axis=0)) / 2
    radius = float(np.ptp(ball[:, 0]) / 2)
    skin = head.part == 0
    for w in (0.25, 0.5, 0.75, 1.0):
        p = pose(head, weights(**{name: w}))
        inside = np.linalg.norm(p[skin] - centre, axis=1) - radius
        assert inside.min() > 0.3 * MM, f"{name}={w}: skin {-inside.min() / MM:.2f} mm inside the eyeball"


@pytest.mark.parametrize("combo", [
    dict(jawOpen=1.0, mouthFunnel=1.0), dict(jawOpen=1.0, mouthSmileLeft=1.0, mouthSmileRight=1.0),
    dict(jawOpen=0.7, mouthPucker=1.0, mouthClose=0.7), dict(mouthSmileLeft=1.0, mouthFrownLeft=1.0),
    dict(eyeBlinkLeft=1.0, eyeSquintLeft=1.0, cheekSquintLeft=1.0), dict(jawOpen=1.0, tongueOut=1.0),
])
def test_common_combinations_keep_every_triangle(head, combo):
    area = _triangle_areas(pose(head, weights(**combo)), head.faces)
    assert area.min() > 1e-11
