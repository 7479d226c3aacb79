"""The viseme split (E/I, O/U from the take's mouth): its card form, the default, and the per-model fit."""
from __future__ import annotations

import numpy as np
import pytest

from thunder_blender.core.channels import INDEX
from thunder_blender.core.visemes import DEFAULT_SPLIT, VISEMES, VisemeSplit, visemes_from_phones
from thunder_blender.runtime.card import CardError, ModelCard
from thunder_train.viseme_split import fit_logistic, intervals


def test_default_split_is_the_jaw_threshold():
    a = np.zeros((3, 52))
    a[:, INDEX["jawOpen"]] = [0.10, 0.235, 0.40]
    e, o = DEFAULT_SPLIT.shares(a)
    assert e[0] < 0.02 and abs(e[1] - 0.5) < 1e-9 and e[2] > 0.98
    assert o[0] < 0.02 and o[2] > 0.98


def test_split_moves_mid_vowels_between_e_and_i():
    a = np.zeros((4, 52))
    a[:, INDEX["jawOpen"]] = 0.3
    mid = np.zeros((4, 10))
    mid[:, 5] = 1.0
    lean_i = VisemeSplit(e=(-20.0, 0.0, 0.0, 0.0), o=DEFAULT_SPLIT.o)
    assert visemes_from_phones(mid, a)[:, VISEMES.index("E")].min() > 0.5     # default: an open jaw is E
    assert visemes_from_phones(mid, a, split=lean_i)[:, VISEMES.index("I")].min() > 0.5


def test_split_in_the_card_is_checked_and_round_trips():
    card = ModelCard(perf_mean=(0.0,) * 55, perf_std=(1.0,) * 55)
    assert card.split == DEFAULT_SPLIT
    s = VisemeSplit(e=(1.0, 2.0, 3.0, 4.0), o=(-1.0, 0.5, 0.0, 2.0))
    withs = card.with_changes(viseme_split=s.to_dict())
    assert ModelCard.from_dict(withs.to_dict()).split == s
    for bad in ({"e": [1, 2, 3]}, {"e": [1, 2, 3, 4], "o": [0, 0, 0, float("nan")]}, {"e": "x", "o": [1]}):
        with pytest.raises(CardError, match="viseme_split"):
            card.with_changes(viseme_split=bad)


def test_logistic_fit_recovers_a_known_boundary():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (4000, 3))
    w_true = np.array([-4.0, 10.0, -3.0, 0.0])
    p = 1 / (1 + np.exp(-(w_true[0] + x @ w_true[1:])))
    y = (rng.uniform(size=len(p)) < p).astype(float)
    w = fit_logistic(x, y, ridge=1e-6)
    assert np.allclose(w, w_true, atol=0.8)
    # the fitted boundary agrees with the true one on almost every point
    assert np.mean(((w[0] + x @ w[1:]) > 0) == ((w_true[0] + x @ w_true[1:]) > 0)) > 0.97


def test_intervals_take_the_mean_features_of_labelled_vowels():
    perf = np.zeros((50, 55), np.float32)
    perf[10:20, INDEX["jawOpen"]] = 0.4
    perf[30:40, INDEX["mouthPucker"]] = 0.6
    segs = [("ɛ", 5, 0.2, 0.4), ("u", 3, 0.6, 0.8), ("alveolar", 7, 0.4, 0.6), ("i", 5, 0.9, 1.2)]
    out = intervals(perf, segs, 50.0)
    (xe, ye), (xo, yo) = out["e"], out["o"]
    assert ye == [1.0, 0.0] and np.allclose(xe[0], [0.4, 0.0, 0.0]) and np.allclose(xe[1], 0.0)
    assert yo == [0.0] and np.allclose(xo[0], [0.0, 0.6, 0.0])
