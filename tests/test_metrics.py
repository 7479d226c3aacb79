"""Evaluation metrics on constructed inputs with known answers (numpy only)."""
from __future__ import annotations

import numpy as np
import pytest

from thunder_train.evaluation import closure as cl
from thunder_train.evaluation import metrics as mt
from thunder_train.phones import CLASS_INDEX

SIL, BIL, OPEN, RND, MID = (CLASS_INDEX[k] for k in ("sil", "bilabial", "open", "rounded", "mid"))


def test_lve_is_zero_for_identical_and_the_max_lip_error_otherwise():
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(20, 8, 3)) * 0.01
    assert mt.lve_mm(gt, gt) == 0.0
    pred = gt.copy()
    pred[:, 3, 1] += 0.002  # one lip vertex 2 mm off on every frame, another 1 mm off
    pred[:, 5, 0] += 0.001
    assert mt.lve_mm(pred, gt) == pytest.approx(2.0)


def test_pcc_and_ccc():
    t = np.linspace(0, 6, 300)
    s = np.sin(t)
    assert mt.pcc(s, s) == pytest.approx(1.0)
    assert mt.ccc(s, s) == pytest.approx(1.0)
    assert mt.pcc(s, -s) == pytest.approx(-1.0)
    # scale and offset keep PCC at 1 but CCC drops
    assert mt.pcc(s, 2 * s + 1) == pytest.approx(1.0)
    v, m = s.var(), s.mean()
    assert mt.ccc(s, 2 * s + 1) == pytest.approx(4 * v / (5 * v + (m + 1) ** 2))
    assert mt.ccc(s, 2 * s + 1) < 0.6
    assert mt.pcc(s, np.zeros_like(s)) == 0.0
    rng = np.random.default_rng(1)
    # a constant opening with float32 rounding noise in its last bits is still constant
    flat = (np.full(300, 7.3, np.float32) + rng.normal(0, 1e-6, 300).astype(np.float32)).astype(np.float64)
    assert np.ptp(flat) > 0 and mt.pcc(s, flat) == 0.0
    assert mt.pcc(s, s * 1e-3 + 7.3) == pytest.approx(1.0)   # small but real variation still counts
    assert abs(mt.pcc(rng.normal(size=5000), rng.normal(size=5000))) < 0.05


def test_dtw_known_values():
    a = np.array([0.0, 1.0, 2.0, 3.0])
    assert mt.dtw(a, a) == 0.0
    # a time-warped copy aligns at zero cost; a constant offset costs the offset on every step
    assert mt.dtw(np.array([0.0, 0.0, 1.0, 2.0, 3.0, 3.0]), a) == 0.0
    assert mt.dtw(a + 0.5, a) == pytest.approx(0.5)


def test_dtw_matches_a_plain_dynamic_programme():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=23), rng.normal(size=17)
    d = np.full((len(a) + 1, len(b) + 1), np.inf)
    d[0, 0] = 0
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i, j] = abs(a[i - 1] - b[j - 1]) + min(d[i - 1, j], d[i, j - 1], d[i - 1, j - 1])
    assert mt.dtw(a, b) == pytest.approx(d[-1, -1] / len(b))


def test_diversity_zero_for_identical_takes_and_distance_otherwise():
    rng = np.random.default_rng(3)
    take = rng.normal(size=(30, 10, 3)) * 0.01
    assert mt.sample_diversity_mm([take, take, take]) == [0.0, 0.0, 0.0]
    moved = take + np.array([0.0, 0.003, 0.004])  # 5 mm everywhere
    assert mt.sample_diversity_mm([take, moved]) == [pytest.approx(5.0)]
    assert mt.sample_diversity_mm([take]) == []


def test_fdd_zero_for_same_dynamics_and_positive_for_frozen_face():
    rng = np.random.default_rng(4)
    template = rng.normal(size=(6, 3)) * 0.05
    gt = template[None] + rng.normal(size=(40, 6, 3)) * 0.002
    assert mt.fdd_mm(gt, gt, template) == 0.0
    frozen = np.repeat(template[None], 40, axis=0)
    assert mt.fdd_mm(frozen, gt, template) == pytest.approx(mt.dynamics_mm(gt, template).mean())
    assert mt.fdd_mm(frozen, gt, template) > 0.5


def test_lse_from_distance_curve():
    d = np.array([1.0, 0.9, 0.5, 0.95, 1.1])
    lse_d, lse_c, off = mt.lse(d)
    assert lse_d == 0.5 and off == 0 and lse_c == pytest.approx(0.95 - 0.5)
    lse_d, lse_c, off = mt.lse(np.array([0.4, 0.9, 0.8, 0.95, 1.1]))
    assert off == -2 and lse_d == 0.8


def test_mean_std():
    assert mt.mean_std([1.0, 3.0]) == {"mean": 2.0, "std": 1.0, "n": 2}
    assert mt.mean_std([None, float("nan")])["mean"] is None


def test_intervals():
    lab = np.array([0, 1, 1, 0, 1, 0, 0, 1])
    assert cl.intervals(lab, 1) == [(1, 3), (4, 5), (7, 8)]
    assert cl.intervals(lab, 4) == []


def test_closure_accuracy_detects_an_unsealed_bilabial():
    labels = np.array([SIL] * 5 + [MID] * 4 + [BIL] * 3 + [MID] * 4 + [BIL] * 2 + [MID] * 4 + [SIL] * 5)
    gap = np.full(len(labels), 6.0)
    gap[labels == SIL] = 0.0
    gap[10] = 0.4          # first bilabial sealed in its middle frame
    hits = cl.bilabial_sealed(gap, labels)
    assert hits == [True, False]  # second one never closes
    gap[18] = 0.5          # sealed one frame after the interval: accepted with the +-1 frame tolerance
    assert cl.bilabial_sealed(gap, labels) == [True, True]
    gap[18] = 6.0
    gap[19] = 0.5          # two frames after: not accepted
    assert cl.bilabial_sealed(gap, labels) == [True, False]
    assert cl.rate(cl.bilabial_sealed(gap, labels)) == 0.5
    assert cl.rate([]) is None


def test_open_rounded_and_silence():
    labels = np.array([SIL] * 8 + [OPEN] * 4 + [RND] * 4 + [SIL] * 8)
    opening = np.zeros(len(labels))
    opening[8:12] = [3, 9, 10, 4]
    assert cl.open_jaw(opening, labels) == [True]
    assert cl.open_jaw(opening * 0.5, labels) == [False]
    width = np.full(len(labels), 50.0)
    assert cl.rounded_lips(width, 50.0, labels) == [False]
    width[13] = 44.0
    assert cl.rounded_lips(width, 50.0, labels) == [True]
    gap = np.zeros(len(labels))
    far = cl.silent_closed(gap, labels)          # frames >= 3 away from speech: 0..4 and 19..23
    assert far == [True] * 10
    gap[0] = 5.0
    assert cl.rate(cl.silent_closed(gap, labels)) == pytest.approx(0.9)
