"""Blinks and gaze of generated takes: the seeded layer on the shipped model (real onnxruntime sessions).

Over more than 5 minutes of takes of recorded speech (the demo clip, repeated with pauses between the
repeats), blinks come at a human rate that differs between takes, close fully, last 100-400 ms, are
symmetric within 20 ms and cluster at pauses; gaze holds still between saccades.
"""
from __future__ import annotations

import numpy as np
import pytest

from thunder_blender.core import activity, blinks, gaze
from thunder_blender.core.channels import INDEX
from thunder_blender.runtime import generate as G
from thunder_blender.runtime.model import load_model
from thunder_cli.audio_file import read_audio

DEMO = "thunder_blender/assets/demo_speech.wav"


@pytest.fixture(scope="module")
def model():
    return load_model()


@pytest.fixture(scope="module")
def speech():
    """About 64 s of recorded speech: the demo clip 9 times with 0.4-1.5 s pauses (seeded) between."""
    pcm, sr = read_audio(DEMO)
    rng = np.random.default_rng(5)
    parts = []
    for _ in range(9):
        parts += [pcm, np.zeros(int(rng.uniform(0.4, 1.5) * sr), np.float32)]
    return np.concatenate(parts), sr


@pytest.fixture(scope="module")
def long_takes(model, speech):
    """6 takes x ~64 s = over 6 minutes, with the eye layer (the default) and without it (same seeds)."""
    pcm, sr = speech
    with_layer = G.generate(G.GenerateRequest(pcm=pcm, sample_rate=sr, n_takes=6, seed=11), model)
    without = G.generate(G.GenerateRequest(pcm=pcm, sample_rate=sr, n_takes=6, seed=11, eye_layer=False), model)
    return with_layer, without


def test_blink_statistics_over_five_minutes(long_takes):
    takes, _ = long_takes
    assert takes.weights.shape[0] * takes.duration >= 300.0
    stats = [blinks.measure_blinks(w, takes.fps) for w in takes.weights]
    total = sum(len(s.onsets) for s in stats)
    rate = 60.0 * total / sum(s.seconds for s in stats)
    assert 12.0 <= rate <= 25.0, rate
    per_take = np.array([s.rate_per_min for s in stats])
    assert per_take.min() > 0 and per_take.std() > 1.0, per_take  # every take blinks, takes differ
    peaks = np.concatenate([np.minimum(s.peaks_left, s.peaks_right) for s in stats])
    assert peaks.min() >= 0.9, peaks.min()  # full closure, both eyes
    durs = np.concatenate([s.durations for s in stats])
    assert durs.min() >= 0.1 and durs.max() <= 0.4, (durs.min(), durs.max())
    lags = np.concatenate([s.lag for s in stats])
    assert lags.max() <= 0.02, lags.max()


def test_blinks_cluster_at_pauses(long_takes, speech):
    takes, _ = long_takes
    pcm, sr = speech
    n = takes.weights.shape[1]
    pause = activity.pause_frames(pcm, sr, takes.fps, n)
    w = int(round(0.25 * takes.fps))
    near = np.convolve(pause.astype(float), np.ones(2 * w + 1), mode="same") > 0
    onsets = np.concatenate([blinks.measure_blinks(t, takes.fps).onsets for t in takes.weights])
    share = near[np.clip(np.round(onsets * takes.fps).astype(int), 0, n - 1)].mean()
    assert 0.1 < near.mean() < 0.9
    assert share > near.mean() + 0.1, (share, near.mean())


def test_model_alone_blinks_rarely_and_partially(long_takes):
    """The measurement behind the layer (models/MODEL_CARD.md): the sampler loses sparse events."""
    _, without = long_takes
    stats = [blinks.measure_blinks(w, without.fps) for w in without.weights]
    rate = 60.0 * sum(len(s.onsets) for s in stats) / sum(s.seconds for s in stats)
    assert rate < 12.0, rate


def test_gaze_holds_between_saccades(long_takes):
    takes, without = long_takes

    def still(perf):
        x, y = gaze.read_gaze(perf)
        return np.mean(np.hypot(np.diff(x), np.diff(y)) * takes.fps < 0.05)

    layered = np.mean([still(w) for w in takes.weights])
    model_only = np.mean([still(w) for w in without.weights])
    assert layered > 0.8 and model_only < 0.5, (layered, model_only)
    # saccades are brief: the layer moves the gaze on few frames, in jumps of about saccade_s
    x, _ = gaze.read_gaze(takes.weights[0])
    moving = np.abs(np.diff(x)) > 1e-4
    assert 0.0 < moving.mean() < 0.15


def test_layer_is_seeded_by_the_take_and_leaves_the_mouth_alone(model, long_takes, speech):
    takes, without = long_takes
    pcm, sr = speech
    n = takes.weights.shape[1]
    pause = activity.pause_frames(G.prepare_audio(pcm, sr), 16000, takes.fps, n)
    for k in (0, 3):
        again = G.add_eye_layer(without.weights[k], takes.fps, pause, takes.seeds[k])
        np.testing.assert_array_equal(again, takes.weights[k])
    # a re-roll of one take (explicit seed) reproduces it
    one = G.generate(G.GenerateRequest(pcm=pcm, sample_rate=sr, take_seeds=(takes.seeds[2],)), model)
    np.testing.assert_array_equal(one.weights[0], takes.weights[2])
    eyes = [i for n_, i in INDEX.items() if n_.startswith("eye")]
    others = [i for i in range(55) if i not in eyes]
    np.testing.assert_array_equal(takes.weights[..., others], without.weights[..., others])
    assert not np.array_equal(takes.weights[0][:, eyes], takes.weights[1][:, eyes])
    assert takes.settings["eye_layer"] is True and without.settings["eye_layer"] is False


def test_blink_curve_reaches_full_closure_at_any_rate():
    for fps in (12.0, 24.0, 29.97, 50.0, 60.0):
        for d in (0.15, 0.2, 0.36):
            y = blinks.blink_curve(200, fps, 0.5 + 0.37 / fps, d, 0.3)
            assert y.max() == 1.0
            assert np.count_nonzero(y > 0) <= int(np.ceil(d * fps)) + 1


def test_measure_blinks_counts_and_times_known_blinks():
    fps = 50.0
    perf = np.zeros((500, 55), np.float32)
    for t0, d in ((1.0, 0.2), (4.0, 0.3)):
        y = blinks.blink_curve(500, fps, t0, d, 0.3)
        perf[:, INDEX["eyeBlinkLeft"]] = np.maximum(perf[:, INDEX["eyeBlinkLeft"]], y)
        perf[:, INDEX["eyeBlinkRight"]] = np.maximum(perf[:, INDEX["eyeBlinkRight"]],
                                                     blinks.blink_curve(500, fps, t0 + 0.01, d, 0.3))
    s = blinks.measure_blinks(perf, fps)
    assert len(s.onsets) == 2 and s.rate_per_min == pytest.approx(12.0)
    np.testing.assert_allclose(s.onsets, [1.0, 4.0], atol=0.06)
    np.testing.assert_allclose(s.durations, [0.2, 0.3], atol=0.06)
    np.testing.assert_allclose(s.lag, 0.01, atol=0.003)
    assert np.all(s.peaks_left == 1.0)


def test_pause_frames_find_silence():
    sr, fps = 16000, 50.0
    t = np.arange(3 * sr) / sr
    x = 0.3 * np.sin(2 * np.pi * 200 * t)
    x[sr:int(1.5 * sr)] = 0.0          # a 0.5 s pause
    x[2 * sr:int(2.06 * sr)] = 0.0     # a 60 ms dip: not a pause
    p = activity.pause_frames(x.astype(np.float32), sr, fps, 150)
    assert p[52:73].all() and not p[:48].any() and not p[77:].any()
