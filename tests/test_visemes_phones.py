"""Visemes from the encoder's phone-class posteriors (core.visemes.visemes_from_phones) and their plumbing
through a real onnxruntime generation (Takes.cues) into the shape-key mapping."""
from __future__ import annotations

import json

import numpy as np
import pytest

from thunder_blender.core.channels import INDEX, N_CHANNELS
from thunder_blender.core.rig_names import build_mapping
from thunder_blender.core.visemes import (
    PHONE_CLASSES,
    VISEMES,
    SpeechCues,
    lips_sealed_arkit,
    sibilance,
    visemes_from_phones,
)


def _onehot(cls: str, t: int = 5) -> np.ndarray:
    p = np.zeros((t, len(PHONE_CLASSES)), np.float32)
    p[:, PHONE_CLASSES.index(cls)] = 1.0
    return p


def _mouth(**kw: float) -> np.ndarray:
    a = np.zeros((5, N_CHANNELS), np.float32)
    for k, v in kw.items():
        a[:, INDEX[k]] = v
    return a


@pytest.mark.parametrize("cls, arkit, viseme", [
    ("sil", {}, "sil"), ("bilabial", {}, "PP"), ("labiodental", {"jawOpen": 0.1}, "FF"),
    ("dental", {"jawOpen": 0.15}, "TH"), ("postalveolar", {"mouthFunnel": 0.4}, "CH"), ("dorsal", {}, "kk"),
    ("open", {"jawOpen": 0.6}, "aa"),
    ("rounded", {"jawOpen": 0.35, "mouthFunnel": 0.5}, "O"), ("rounded", {"jawOpen": 0.12, "mouthPucker": 0.7}, "U"),
    ("mid", {"jawOpen": 0.35}, "E"), ("mid", {"jawOpen": 0.14, "mouthSmileLeft": 0.2}, "I"),
    ("alveolar", {"jawOpen": 0.1, "mouthStretchLeft": 0.3, "mouthStretchRight": 0.3}, "SS"),
    ("alveolar", {"jawOpen": 0.1, "mouthPucker": 0.5, "mouthFunnel": 0.4}, "RR"),
    ("alveolar", {"jawOpen": 0.25}, "DD"), ("alveolar", {"jawOpen": 0.05}, "nn"),
])
def test_each_class_and_mouth_gives_its_viseme(cls, arkit, viseme):
    w = visemes_from_phones(_onehot(cls), _mouth(**arkit))
    assert w.shape == (5, 15) and w.dtype == np.float32
    assert VISEMES[int(np.argmax(w[2]))] == viseme
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-5)
    assert w.min() >= 0.0


@pytest.mark.parametrize("sib_db, viseme", [(0.5, "SS"), (-4.0, "DD"), (-6.5, "nn")])
def test_alveolars_are_split_by_the_audio_sibilance(sib_db, viseme):
    w = visemes_from_phones(_onehot("alveolar"), _mouth(jawOpen=0.15), sibilance_db=np.full(5, sib_db))
    assert VISEMES[int(np.argmax(w[2]))] == viseme


def test_sibilance_is_high_for_hiss_and_low_for_a_hum():
    from thunder_blender.core import features

    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    hum = 0.3 * np.sin(2 * np.pi * 150 * t) + 0.2 * np.sin(2 * np.pi * 300 * t)
    b = np.array([1.0, -1.0])  # first difference: a high-passed noise, like /s/
    hiss = np.convolve(rng.standard_normal(16001) * 0.1, b, mode="valid")[:16000]
    s_hum = sibilance(features.log_mel(hum.astype(np.float32)))
    s_hiss = sibilance(features.log_mel(hiss.astype(np.float32)))
    assert s_hum.shape == (50,) and np.median(s_hiss) - np.median(s_hum) > 5.0
    assert np.median(s_hiss) > -1.8 > np.median(s_hum)


def test_sealed_lips_take_pp_and_rest_the_vowels():
    sealed = _mouth(jawOpen=0.1, mouthClose=0.1)
    assert lips_sealed_arkit(sealed).min() == 1.0
    w = visemes_from_phones(_onehot("open"), sealed)  # the phone head says vowel, the mouth is sealed
    assert w[2, VISEMES.index("PP")] > 0.99 and w[2, VISEMES.index("aa")] < 0.01
    # silence is not overridden by a closed mouth
    w = visemes_from_phones(_onehot("sil"), sealed)
    assert w[2, 0] > 0.99


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="phone posteriors"):
        visemes_from_phones(np.zeros((4, 9)), np.zeros((4, 55)))
    with pytest.raises(ValueError, match="phone posteriors"):
        visemes_from_phones(np.zeros((4, 10)), np.zeros((3, 55)))


def test_mapping_uses_posteriors_when_given():
    m = build_mapping([f"viseme_{v}" for v in VISEMES] + ["aa", "neutral"])
    perf = _mouth(jawOpen=0.6)
    with_phones = m.evaluate(perf, SpeechCues(_onehot("dorsal")))
    without = m.evaluate(perf)
    kk = m.targets.index("viseme_kk")
    assert with_phones[0, kk] > 0.9 and without[0, kk] < 0.5


@pytest.fixture(scope="module")
def real_model():
    from thunder_blender.runtime.model import load_model

    return load_model(providers=["CPUExecutionProvider"])


def test_card_phone_classes_are_the_ones_visemes_read():
    from thunder_blender.runtime.model import find_model_dir

    card = json.loads((find_model_dir() / "model.json").read_text())
    assert tuple(card["phone_classes"]) == PHONE_CLASSES
    assert card["outputs"]["encoder"]["phone_logits"][-1] == len(PHONE_CLASSES)


def test_generation_carries_phone_posteriors(real_model):
    from thunder_blender.runtime.generate import GenerateRequest, generate

    rng = np.random.default_rng(0)
    pcm = (0.1 * rng.standard_normal(16000)).astype(np.float32)
    takes = generate(GenerateRequest(pcm=pcm, n_takes=1, seed=0, steps=1), real_model)
    cues = takes.cues
    assert cues is not None and cues.phone_probs.shape == (takes.weights.shape[1], 10)
    assert cues.sibilance.shape == (takes.weights.shape[1],) and np.all(np.isfinite(cues.sibilance))
    np.testing.assert_allclose(cues.phone_probs.sum(axis=1), 1.0, atol=1e-4)
    half = cues.resampled(takes.fps, takes.fps / 2, len(cues) // 2)
    assert len(half) == len(cues) // 2 and half.sibilance.shape == (len(cues) // 2,)


def test_transcript_cues_follow_the_aligned_class_and_keep_the_rest():
    from thunder_blender.core.phones import CLASS_INDEX, UNKNOWN
    from thunder_blender.core.visemes import TRANSCRIPT_WEIGHT, SpeechCues

    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(10), size=6).astype(np.float32)
    frames = np.array([UNKNOWN, CLASS_INDEX["bilabial"], CLASS_INDEX["rounded"], UNKNOWN, 0, 9])
    q = SpeechCues(p, np.zeros(6, np.float32)).with_transcript(frames)
    np.testing.assert_allclose(q.phone_probs.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(q.phone_probs[[0, 3]], p[[0, 3]])          # not aligned: the audio's cues
    known = frames >= 0
    assert (q.phone_probs[known].argmax(axis=1) == frames[known]).all()
    assert (q.phone_probs[known, frames[known]] >= TRANSCRIPT_WEIGHT).all()
    assert q.sibilance is not None and p[1, 1] < 0.5                          # the input was not already sure


def test_viseme_head_posteriors_drive_the_visemes_and_rest_on_sealed_lips():
    from thunder_blender.core.visemes import visemes_from_head

    v = np.full((5, len(VISEMES)), 0.01, np.float32)
    v[:, VISEMES.index("RR")] = 0.86   # a class the phone posteriors cannot name on their own
    w = SpeechCues(_onehot("alveolar"), None, viseme_probs=v).visemes(_mouth(jawOpen=0.25))
    assert w.shape == (5, 15) and (w.argmax(axis=1) == VISEMES.index("RR")).all()
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-5)
    sealed = visemes_from_head(v, _mouth(jawOpen=0.1, mouthClose=0.1))   # lips together: PP takes over
    assert (sealed.argmax(axis=1) == VISEMES.index("PP")).all()
    with pytest.raises(ValueError, match="viseme posteriors"):
        visemes_from_head(v[:, :10], _mouth())


def test_transcript_keeps_the_viseme_head_inside_the_aligned_class():
    from thunder_blender.core.phones import CLASS_INDEX, UNKNOWN
    from thunder_blender.core.visemes import CLASS_VISEMES, TRANSCRIPT_WEIGHT

    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(10), size=4).astype(np.float32)
    v = rng.dirichlet(np.ones(15), size=4).astype(np.float32)
    frames = np.array([UNKNOWN, CLASS_INDEX["rounded"], CLASS_INDEX["alveolar"], CLASS_INDEX["bilabial"]])
    q = SpeechCues(p, None, viseme_probs=v).with_transcript(frames)
    np.testing.assert_allclose(q.viseme_probs.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(q.viseme_probs[0], v[0])                  # not aligned: unchanged
    for f, cls in ((1, "rounded"), (2, "alveolar"), (3, "bilabial")):
        inside = [VISEMES.index(x) for x in CLASS_VISEMES[cls]]
        assert q.viseme_probs[f, inside].sum() >= TRANSCRIPT_WEIGHT
        # within the class the head's own split is kept
        ratio = q.viseme_probs[f, inside] / v[f, inside]
        np.testing.assert_allclose(ratio, ratio[0], rtol=1e-3)
    half = q.resampled(50.0, 25.0, 2)
    assert half.viseme_probs.shape == (2, 15)
