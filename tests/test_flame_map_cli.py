"""``thunder flame-map``: a synthetic FLAME-like rig built from the demo head (moved, turned and scaled into
another frame, like FLAME's), with a KNOWN linear expression basis and a skinned jaw bone; the fitted map must
recover the known map (relative error < 5 %)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from thunder_blender.core.channels import ARKIT_52, INDEX
from thunder_blender.core.flame_fit import MIN_MOTION, Embedding, fit_flame_map, similarity
from thunder_blender.core.head import load_demo_head
from thunder_cli import cli

pytestmark = pytest.mark.blender

JAW_TRUE = 0.21  # radians of jaw opening in the known map's jawOpen
JAW_LAT_TRUE = 0.06


def _frame():
    """Similarity taking demo-head metres (Z up) into the synthetic rig's frame (Y up, another scale)."""
    rot = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])  # Z up -> Y up
    tilt = np.array([[np.cos(0.2), -np.sin(0.2), 0], [np.sin(0.2), np.cos(0.2), 0], [0, 0, 1]])
    return 1.7, tilt @ rot, np.array([0.01, -0.03, 0.02])


def _embedding(seed=0, n=105):
    """n MediaPipe landmarks placed exactly on their vertex (barycentric (1, 0, 0) in a triangle of it)."""
    head = load_demo_head()
    rng = np.random.default_rng(seed)
    lmk = np.sort(rng.choice(468, n, replace=False))
    faces, bary = [], []
    for v in lmk:
        f = int(np.flatnonzero((head.faces == v).any(1))[0])
        faces.append(f)
        b = (head.faces[f] == v).astype(np.float64)
        bary.append(b)
    return Embedding(np.array(faces), np.array(bary), lmk)


def _identifiable(emb, min_ratio=0.1):
    """ARKit shapes whose landmark motions are well apart (jaw shapes first, then in ARKit order, each kept if
    the smallest singular value of the kept set stays >= min_ratio of their RMS): the known map is defined
    on these, where it is unique and well conditioned."""
    head = load_demo_head()
    d = head.deltas[:, emb.landmark_idx].astype(np.float64).reshape(52, -1)
    rms = np.sqrt((d ** 2).sum(1) / len(emb.landmark_idx))
    order = [INDEX["jawOpen"], INDEX["jawLeft"], INDEX["jawRight"]] + \
        [a for a in range(52) if a not in (INDEX["jawOpen"], INDEX["jawLeft"], INDEX["jawRight"])]
    kept: list[int] = []
    for a in order:
        if rms[a] < MIN_MOTION:
            continue
        sv = np.linalg.svd(d[kept + [a]], compute_uv=False)
        if sv[-1] >= min_ratio * np.sqrt((sv ** 2).mean()):
            kept.append(a)
    return sorted(kept)


def _mixing(k, seed):
    """A well-conditioned random mixing matrix: orthogonal times gains in 0.8..1.25."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((k, k)))
    return q * rng.uniform(0.8, 1.25, k)


def _jaw_vertex_weights(verts):
    """Skin weights of the synthetic jaw: the lower face below the mouth corners, fading over 1 cm."""
    z = verts[:, 2]
    return np.clip((-0.02 - z) / 0.01, 0.0, 1.0) * (verts[:, 1] < 0.02)


def build_rig(bpy, path, emb):
    """Save the synthetic FLAME-like rig to ``path``; returns the known map (coef (52, K), names, idx)."""
    head = load_demo_head()
    s, r, t = _frame()
    verts = s * head.vertices.astype(np.float64) @ r.T + t
    deltas = s * np.einsum("ij,avj->avi", r, head.deltas.astype(np.float64))
    bpy.ops.wm.read_homefile(use_empty=True)
    # armature: root, neck, jaw (pivot behind the mouth, pointing forward), eyes; AXIS_ANGLE like the add-on
    arm_data = bpy.data.armatures.new("FLAME-like")
    arm = bpy.data.objects.new("FLAME-like", arm_data)
    bpy.context.scene.collection.objects.link(arm)
    bpy.context.view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode="EDIT")
    pivot = s * np.array([0.0, 0.05, -0.01]) @ r.T + t
    fwd = s * np.array([0.0, -0.06, -0.02]) @ r.T
    for name, head_p, tail_p, parent in (("root", t, t + [0, 0.02, 0], None),
                                         ("neck", t, t + [0, 0.05, 0], "root"),
                                         ("jaw", pivot, pivot + fwd, "neck"),
                                         ("left_eye", t + [0.05, 0.05, 0.05], t + [0.05, 0.05, 0.07], "neck"),
                                         ("right_eye", t + [-0.05, 0.05, 0.05], t + [-0.05, 0.05, 0.07], "neck")):
        eb = arm_data.edit_bones.new(name)
        eb.head, eb.tail = tuple(head_p), tuple(tail_p)
        if parent:
            eb.parent = arm_data.edit_bones[parent]
    bpy.ops.object.mode_set(mode="OBJECT")
    for pb in arm.pose.bones:
        pb.rotation_mode = "AXIS_ANGLE"
    me = bpy.data.meshes.new("FLAME-generic")
    me.from_pydata(verts.tolist(), [], head.faces.tolist())
    obj = bpy.data.objects.new("FLAME-generic", me)
    bpy.context.scene.collection.objects.link(obj)
    obj.parent = arm
    obj.modifiers.new("Armature", "ARMATURE").object = arm
    w = _jaw_vertex_weights(head.vertices)
    vg = obj.vertex_groups.new(name="jaw")
    for i in np.flatnonzero(w > 0):
        vg.add([int(i)], float(w[i]), "REPLACE")
    obj.shape_key_add(name="Basis")
    # the jaw's motion per radian (the same finite difference the command measures)
    deps = bpy.context.evaluated_depsgraph_get()

    def evaluated():
        deps.update()
        ev = obj.evaluated_get(deps)
        m = ev.to_mesh()
        out = np.array([v.co[:] for v in m.vertices])
        ev.to_mesh_clear()
        return out

    pb = arm.pose.bones["jaw"]
    pb.rotation_mode = "XYZ"
    base = evaluated()
    cols = []
    for e in ((0.05, 0, 0), (0, 0, 0.05)):
        pb.rotation_euler = e
        cols.append((evaluated() - base) / 0.05)
    pb.rotation_euler = (0, 0, 0)
    pb.rotation_mode = "AXIS_ANGLE"
    # known basis: Exp_k = sum over identifiable shapes of G[k, a] * (shape a minus its jaw part)
    ident = _identifiable(emb)
    res = deltas[ident].copy()
    res[ident.index(INDEX["jawOpen"])] -= JAW_TRUE * cols[0]
    for ch, sign in (("jawLeft", 1.0), ("jawRight", -1.0)):
        if INDEX[ch] in ident:
            res[ident.index(INDEX[ch])] -= sign * JAW_LAT_TRUE * cols[1]
    k = len(ident)
    g = _mixing(k, 5)
    exp = np.einsum("ka,avc->kvc", g, res)
    names = [f"Exp{i:03d}" for i in range(k)]
    for name, dv in zip(names, exp, strict=True):
        kb = obj.shape_key_add(name=name, from_mix=False)
        kb.data.foreach_set("co", (verts + dv).ravel().astype(np.float32))
    for i in range(1, 37):
        obj.shape_key_add(name=f"Pose{i}", from_mix=False)
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    known = np.zeros((52, k))
    ginv = np.linalg.inv(g)  # res = ginv @ exp: shape a = sum_k ginv[j, k] * Exp_k (+ its jaw part)
    for j, a in enumerate(ident):
        known[a] = ginv[j]
    return known, names, ident


def _save_embedding(path, emb):
    np.savez(path, lmk_face_idx=emb.face_idx, lmk_b_coords=emb.bary, landmark_indices=emb.landmark_idx)


def test_similarity_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    src = rng.standard_normal((50, 3))
    s, r, t = _frame()
    s2, r2, t2 = similarity(src, s * src @ r.T + t)
    assert s2 == pytest.approx(s) and np.allclose(r2, r) and np.allclose(t2, t)


def test_flame_map_command_recovers_the_known_map(bpy, tmp_path, capsys):
    emb = _embedding()
    rig = tmp_path / "flame_like.blend"
    known, names, ident = build_rig(bpy, rig, emb)
    before = rig.read_bytes()
    _save_embedding(tmp_path / "emb.npz", emb)
    out = tmp_path / "map.json"
    assert cli.main(["flame-map", str(rig), "--landmarks", str(tmp_path / "emb.npz"), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert rig.read_bytes() == before  # the user's rig file is not touched
    data = json.loads(out.read_text())
    assert data["fitted"] is True and data["format"] == "thunder-flame-map/1"
    fitted = np.zeros_like(known)
    for k, name in enumerate(names):
        for ch, wgt in data["expressions"].get(name, {}).items():
            fitted[ARKIT_52.index(ch), k] = wgt
    err = np.linalg.norm(fitted[ident] - known[ident]) / np.linalg.norm(known[ident])
    print(f"relative error of the recovered map: {err:.4f} over {len(ident)} shapes")
    assert err < 0.05, err
    per_shape = np.linalg.norm(fitted[ident] - known[ident], axis=1) / np.linalg.norm(known[ident], axis=1)
    assert per_shape.max() < 0.05, {ARKIT_52[a]: round(float(e), 3) for a, e in zip(ident, per_shape, strict=True)}
    assert data["jaw"]["open_radians"] == pytest.approx(JAW_TRUE, rel=0.05)
    assert data["jaw"]["lateral_radians"] == pytest.approx(JAW_LAT_TRUE, rel=0.05)
    assert max(data["residual"][ARKIT_52[a]] for a in ident) < 0.05
    assert data["residual"]["eyeLookInLeft"] is None and "no landmark motion" in text
    assert "jawOpen" in text and "wrote" in text
    # the add-on reads the fitted map: every Exp key driven, jaw angles from the fit
    from thunder_blender.core.rig_names import build_mapping, load_flame_map

    fmap = load_flame_map(out)
    assert fmap.fitted and fmap.jaw_open_radians == pytest.approx(JAW_TRUE, rel=0.05)
    assert build_mapping(names, flame_map=fmap).count("flame") == len(names)


def test_flame_map_core_fit_is_exact_without_ridge():
    """The same recovery in numpy only, with an exact linear jaw column and no ridge: machine precision."""
    head = load_demo_head()
    emb = _embedding(seed=1, n=140)
    ident = _identifiable(emb)
    verts = head.vertices.astype(np.float64)
    deltas = head.deltas.astype(np.float64)
    jaw = np.zeros((2, len(verts), 3))
    w = _jaw_vertex_weights(verts)
    jaw[0] = w[:, None] * np.cross([1.0, 0.0, 0.0], verts - [0, 0.05, -0.01])
    jaw[1] = w[:, None] * np.cross([0.0, 0.0, 1.0], verts - [0, 0.05, -0.01])
    res = deltas[ident].copy()
    res[ident.index(INDEX["jawOpen"])] -= JAW_TRUE * jaw[0]
    g = _mixing(len(ident), 2)
    exp = np.einsum("ka,avc->kvc", g, res)
    fit = fit_flame_map(verts, deltas, verts, head.faces, exp, tuple(f"Exp{i}" for i in range(len(ident))), jaw,
                        emb, ridge=0.0)
    known = np.linalg.inv(g)  # (shapes, K)
    assert np.allclose(fit.coefficients[ident], known, atol=1e-6)
    assert fit.jaw_open == pytest.approx(JAW_TRUE, abs=1e-6)
    assert np.max(fit.residual[ident]) < 1e-6


def test_flame_map_bad_inputs_give_clear_errors(bpy, tmp_path, capsys):
    bad = tmp_path / "emb.npz"
    np.savez(bad, something=np.zeros(3))
    out = tmp_path / "m.json"
    assert cli.main(["flame-map", str(tmp_path / "none.blend"), "--landmarks", str(bad), "--out", str(out)]) == 2
    assert "lmk_face_idx" in capsys.readouterr().err and not out.exists()
    from tests.blender.test_export import make_face

    bpy.ops.wm.read_homefile(use_empty=True)
    make_face(bpy, "Rig")
    src = tmp_path / "arkit.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(src))
    _save_embedding(bad, _embedding())
    assert cli.main(["flame-map", str(src), "--landmarks", str(bad), "--out", str(out)]) == 2
    assert "no FLAME rig" in capsys.readouterr().err and not out.exists()
