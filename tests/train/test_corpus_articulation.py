"""Articulation model: closures survive any phone length, frame rate and smoothing; silence is closed."""
from __future__ import annotations

import numpy as np
import pytest

from thunder_blender.core.channels import INDEX
from thunder_train.corpus.articulation import (
    POSES,
    ArticulationStyle,
    articulate,
    closure_frames,
    enforce_closures,
    lips_sealed,
)
from thunder_train.corpus.expression import ExpressionStyle
from thunder_train.corpus.render import render
from thunder_train.phones import CLASS_INDEX

OPEN_POSES = ["ɑ", "æ", "o", "u", "i", "ɛ", "w", "labiodental", "alveolar", "postalveolar"]


def _random_segments(rng: np.random.Generator, n: int) -> list[tuple[str, int, float, float]]:
    """Alternating open sounds and bilabials with random (often very short) durations."""
    segs, t = [("sil", 0, 0.0, 0.3)], 0.3
    for _ in range(n):
        pose = OPEN_POSES[int(rng.integers(len(OPEN_POSES)))]
        cls = {"ɑ": "open", "æ": "open", "o": "rounded", "u": "rounded", "w": "rounded", "i": "mid",
               "ɛ": "mid"}.get(pose, pose)
        d = rng.uniform(0.03, 0.2)
        segs.append((pose, CLASS_INDEX[cls], t, t + d))
        t += d
        d = rng.choice([rng.uniform(0.005, 0.02), rng.uniform(0.02, 0.12)])
        segs.append(("bilabial", CLASS_INDEX["bilabial"], t, t + d))
        t += d
    segs.append(("sil", 0, t, t + 0.5))
    return segs


@pytest.mark.parametrize("fps", [24.0, 25.0, 30.0, 50.0, 60.0])
def test_every_bilabial_is_sealed_for_a_full_frame(fps):
    rng = np.random.default_rng(int(fps))
    for trial in range(6):
        segs = _random_segments(rng, 40)
        dur = segs[-1][3]
        sr = 16000
        audio = (rng.standard_normal(int(dur * sr)) * 0.1).astype(np.float32)
        art, expr = ArticulationStyle.sample(rng), ExpressionStyle.sample(rng)
        r = render(audio, sr, segs, fps, emotion=2 + trial % 6, intensity=1.0, art=art, expr=expr, rng=rng)
        sealed = lips_sealed(r.perf, tol=0.02)
        for _, cid, s, e in segs:
            if cid != CLASS_INDEX["bilabial"]:
                continue
            # at least one whole frame [f/fps, (f+1)/fps) touching the phone is sealed and labelled
            frames = np.arange(int(np.floor(s * fps)), int(np.ceil(e * fps)))
            assert len(frames) and sealed[frames].any() and r.closure[frames].any(), (fps, s, e)
        assert sealed[r.closure].all()
        # the seal is real lip contact: mouthClose matches jawOpen on closure frames
        np.testing.assert_allclose(r.perf[r.closure, INDEX["mouthClose"]], r.perf[r.closure, INDEX["jawOpen"]])


def test_closure_survives_heavy_smoothing_but_raw_trajectory_would_lose_it():
    """A 12 ms /b/ between open vowels: the smoothed trajectory alone is not sealed, the enforced one is."""
    segs = [("sil", 0, 0.0, 0.2), ("ɑ", CLASS_INDEX["open"], 0.2, 0.4), ("bilabial", 1, 0.4, 0.412),
            ("ɑ", CLASS_INDEX["open"], 0.412, 0.6), ("sil", 0, 0.6, 1.0)]
    style = ArticulationStyle(width=1.4)
    for fps in (30.0, 50.0):
        raw = articulate(segs, int(fps), fps, style)
        mask = closure_frames(segs, int(fps), fps)
        assert mask.sum() >= 1
        assert not lips_sealed(raw)[mask].all()  # the problem the guarantee exists for
        fixed = enforce_closures(raw.copy(), segs, fps)
        assert lips_sealed(fixed)[mask].all()


def test_silence_is_closed_and_relaxed_and_vowels_are_open():
    rng = np.random.default_rng(3)
    segs = _random_segments(rng, 10)
    segs = segs[:-1] + [("sil", 0, segs[-1][2], segs[-1][2] + 1.0)]
    dur = segs[-1][3]
    audio = (rng.standard_normal(int(dur * 16000)) * 0.1).astype(np.float32)
    r = render(audio, 16000, segs, 50.0, 4, 1.0, ArticulationStyle(), ExpressionStyle(), rng)
    t = (np.arange(len(r.perf)) + 0.5) / 50.0
    deep = (t > segs[-1][2] + 0.06) & (t < dur - 0.02)
    assert deep.sum() > 30
    assert lips_sealed(r.perf)[deep].all()
    assert (r.perf[deep, INDEX["jawOpen"]] <= POSES["sil"]["jawOpen"] + 1e-6).all()
    vowel = (r.phone_class == CLASS_INDEX["open"]) & ~r.closure
    assert vowel.sum() >= 5 and (~lips_sealed(r.perf)[vowel]).mean() >= 0.9


def test_lips_sealed_criterion():
    perf = np.zeros((4, 55), np.float32)
    perf[1, INDEX["jawOpen"]] = 0.3                                   # jaw open, lips follow: open
    perf[2, INDEX["jawOpen"]] = perf[2, INDEX["mouthClose"]] = 0.3    # lips held together: sealed
    perf[3, INDEX["mouthFunnel"]] = 0.4                               # funnel: open
    assert lips_sealed(perf).tolist() == [True, False, True, False]


def _seq(phones: list[tuple[str, str, float]], lead: float = 0.3) -> list[tuple[str, int, float, float]]:
    """(pose, class, duration) list -> segments between silences."""
    segs, t = [("sil", 0, 0.0, lead)], lead
    for pose, cls, d in phones:
        segs.append((pose, CLASS_INDEX[cls], t, t + d))
        t += d
    segs.append(("sil", 0, t, t + 0.4))
    return segs


def _render_neutral(segs, fps=50.0):
    n = int(np.ceil(segs[-1][3] * fps))
    perf = articulate(segs, n, fps, ArticulationStyle())
    return enforce_closures(perf, segs, fps)


def _peak(perf, seg, channel, fps=50.0):
    a, b = int(seg[2] * fps), max(int(np.ceil(seg[3] * fps)), int(seg[2] * fps) + 1)
    return float(perf[a:b, INDEX[channel]].max())


# "who knew you would move ... blue moon ... so go slow old crow" in short phones of connected speech
CONNECTED = [
    [("alveolar", "alveolar", 0.06), ("u", "rounded", 0.09), ("alveolar", "alveolar", 0.05)],        # "tuːt"
    [("bilabial", "bilabial", 0.07), ("u", "rounded", 0.10), ("labiodental", "labiodental", 0.06)],  # "move"
    [("bilabial", "bilabial", 0.06), ("alveolar", "alveolar", 0.05), ("u", "rounded", 0.12)],        # "blue"
    [("dorsal", "dorsal", 0.06), ("alveolar", "alveolar", 0.05), ("o", "rounded", 0.13)],            # "crow"
    [("alveolar", "alveolar", 0.08), ("o", "rounded", 0.14), ("alveolar", "alveolar", 0.06)],        # "so d"
    [("w", "rounded", 0.06), ("ɪ", "mid", 0.08), ("alveolar", "alveolar", 0.05)],                    # "wit"
]


@pytest.mark.parametrize("phones", CONNECTED)
def test_rounded_vowels_reach_their_targets_in_connected_speech(phones):
    segs = _seq(phones)
    perf = _render_neutral(segs)
    for seg in segs:
        if seg[0] in ("u", "o", "ʊ", "w"):
            ch = "mouthFunnel" if seg[0] == "o" else "mouthPucker"
            want = POSES[seg[0]][ch]
            assert _peak(perf, seg, ch) >= 0.85 * want, (seg, _peak(perf, seg, ch), want)


def test_rounding_spreads_to_consonants_and_more_before_the_vowel_than_after():
    # "t u t": the /t/ before /u/ is rounded more than the one after it, both well above rest
    segs = _seq([("alveolar", "alveolar", 0.07), ("u", "rounded", 0.10), ("alveolar", "alveolar", 0.07)])
    perf = _render_neutral(segs)
    vowel = _peak(perf, segs[2], "mouthPucker")
    centre = lambda seg: perf[int(0.5 * (seg[2] + seg[3]) * 50), INDEX["mouthPucker"]]  # noqa: E731
    before, after = centre(segs[1]), centre(segs[3])
    assert before >= 0.75 * vowel, (before, vowel)
    assert after >= 0.5 * vowel and before > after, (before, after)
    # two consonants ahead ("s t u"): the first is rounded too
    segs = _seq([("alveolar", "alveolar", 0.06), ("alveolar", "alveolar", 0.06), ("u", "rounded", 0.10)])
    perf = _render_neutral(segs)
    assert centre(segs[1]) >= 0.5 * _peak(perf, segs[3], "mouthPucker")
    # an unrounded context stays unrounded
    segs = _seq([("alveolar", "alveolar", 0.07), ("i", "mid", 0.10), ("alveolar", "alveolar", 0.07)])
    assert _render_neutral(segs)[:, INDEX["mouthPucker"]].max() < 0.02


def test_bilabial_before_a_rounded_vowel_is_sealed_and_rounded():
    segs = _seq([("bilabial", "bilabial", 0.08), ("u", "rounded", 0.12)])
    perf = _render_neutral(segs)
    mask = closure_frames(segs, len(perf), 50.0)
    assert mask.any() and lips_sealed(perf)[mask].all()
    assert perf[mask, INDEX["mouthPucker"]].max() >= 0.5 * POSES["u"]["mouthPucker"]
