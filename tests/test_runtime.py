"""generate() on the shipped model with real onnxruntime sessions (numpy + onnxruntime only)."""
from __future__ import annotations

import json
import shutil
import threading

import numpy as np
import pytest

from thunder_blender.core.channels import HEAD_CHANNELS, INDEX, MOUTH_INDEX, UPPER_INDEX
from thunder_blender.runtime import generate as G
from thunder_blender.runtime.card import Window
from thunder_blender.runtime.model import ModelError, candidate_dirs, load_model
from thunder_cli.audio_file import read_audio


@pytest.fixture(scope="module")
def model():
    return load_model()


def _speech(seconds: float, sr: int = 16000, seed: int = 0) -> np.ndarray:
    """Voiced, syllable-modulated test signal (a real clip is used where the demo asset exists)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    phase = 2 * np.pi * np.cumsum(110 + 20 * np.sin(2 * np.pi * 0.5 * t)) / sr
    x = sum(np.sin(k * phase) / k for k in range(1, 25))
    env = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 0.5
    return (0.2 * x * env + 0.003 * rng.standard_normal(len(t))).astype(np.float32)


def test_model_is_found_and_card_is_complete(model):
    assert model.directory in candidate_dirs()
    assert model.fps == 50.0 and model.sample_rate == 16000
    assert 1 <= model.steps <= 8
    assert len(model.card.channels) == 55 and len(model.perf_mean) == 55
    assert model.providers[-1] == "CPUExecutionProvider"
    total = sum((model.directory / f).stat().st_size for f in model.card.files.values())
    assert total <= 15e6


def test_shapes_ranges_progress_and_determinism(model):
    pcm = _speech(3.0)
    calls = []
    req = G.GenerateRequest(pcm=pcm, sample_rate=16000, n_takes=3, seed=11)
    a = G.generate(req, model, progress=lambda d, t: calls.append((d, t)))
    assert a.weights.shape == (3, 150, 55) and a.weights.dtype == np.float32
    assert abs(a.duration - 3.0) < 0.05
    assert a.weights[..., :52].min() >= 0.0 and a.weights[..., :52].max() <= 1.0
    assert calls[-1][0] == calls[-1][1] and [c[0] for c in calls] == list(range(1, len(calls) + 1))
    b = G.generate(req, model)
    np.testing.assert_array_equal(a.weights, b.weights)
    assert len(set(a.seeds)) == 3
    # takes differ from each other (stochastic model), but only within a plausible range
    assert np.abs(a.weights[0] - a.weights[1]).mean() > 1e-4
    # re-roll take 2 on its own: identical
    c = G.generate(G.GenerateRequest(pcm=pcm, take_seeds=(a.seeds[2],)), model)
    np.testing.assert_array_equal(c.weights[0], a.weights[2])


def test_seeds_vary_the_upper_face_more_than_the_mouth(model):
    """Different seeds: different upper faces (blinks, brows, gaze, head), near-identical mouths (speech)."""
    pcm, sr = read_audio(G.__file__.rsplit("runtime", 1)[0] + "assets/demo_speech.wav")
    w = G.generate(G.GenerateRequest(pcm=pcm, sample_rate=sr, n_takes=4, seed=0), model).weights
    jaw = INDEX["jawOpen"]
    for a, b in ((0, 1), (1, 2), (2, 3)):
        d = np.abs(w[a] - w[b])
        upper, mouth = d[:, list(UPPER_INDEX)].mean(), d[:, list(MOUTH_INDEX)].mean()
        assert upper > 1.3 * mouth, (a, b, upper, mouth)
        assert np.corrcoef(w[a][:, jaw], w[b][:, jaw])[0, 1] > 0.9


def test_mouth_temperature_steadies_the_mouth_not_the_upper_face(model):
    """Mouth noise scaled to 0: mouths across seeds agree more closely; the upper face keeps its variety."""
    pcm, sr = read_audio(G.__file__.rsplit("runtime", 1)[0] + "assets/demo_speech.wav")

    def spread(tau: float) -> tuple[float, float]:
        w = G.generate(G.GenerateRequest(pcm=pcm, sample_rate=sr, n_takes=3, seed=5, mouth_temperature=tau),
                       model).weights
        d = np.abs(w[:, None] - w[None, :]).mean(axis=(0, 1, 2))  # (55,) mean pairwise difference
        return float(d[list(MOUTH_INDEX)].mean()), float(d[list(UPPER_INDEX)].mean())

    mouth1, upper1 = spread(1.0)
    mouth0, upper0 = spread(0.0)
    assert mouth0 < 0.8 * mouth1, (mouth0, mouth1)
    assert upper0 > 0.7 * upper1, (upper0, upper1)


def test_resampled_input_and_stereo(model):
    pcm16 = _speech(2.0)
    t16 = G.generate(G.GenerateRequest(pcm=pcm16, n_takes=1, seed=1), model)
    from thunder_blender.core.features import resample
    pcm44 = resample(pcm16, 16000, 44100)
    t44 = G.generate(G.GenerateRequest(pcm=np.stack([pcm44, pcm44], 1), sample_rate=44100, n_takes=1, seed=1),
                     model)
    assert t44.weights.shape == t16.weights.shape
    assert np.abs(t44.weights - t16.weights).mean() < 0.02


def test_head_motion_off_zeroes_head_channels(model):
    out = G.generate(G.GenerateRequest(pcm=_speech(1.5), n_takes=2, head_motion=False), model)
    assert np.all(out.weights[..., [INDEX[h] for h in HEAD_CHANNELS]] == 0.0)


def test_silence_rest_closes_the_mouth_where_the_phone_head_hears_silence(model):
    """With silence_rest the opening channels are scaled by 1 - w, w from the encoder's silence posterior:
    frames of full rest have jaw and lips shut, frames of no rest are unchanged, nothing else changes."""
    from thunder_blender.core.rest import REST_CHANNELS, rest_weights
    from thunder_cli.audio_file import read_audio

    pcm, sr = read_audio(G.__file__.rsplit("runtime", 1)[0] + "assets/demo_speech.wav")
    pcm = np.concatenate([np.zeros(sr // 2, np.float32), pcm, np.zeros(sr // 2, np.float32)])  # pauses at both ends
    req = dict(pcm=pcm, sample_rate=sr, n_takes=2, seed=4)
    plain = G.generate(G.GenerateRequest(**req, silence_rest=False), model)
    rested = G.generate(G.GenerateRequest(**req, silence_rest=True), model)
    assert rested.settings["silence_rest"] and not plain.settings["silence_rest"]
    mel = G.features.normalise(G.features.log_mel(G.prepare_audio(pcm, sr)))
    n = mel.shape[0] // 2
    _, _, logits, _ = G.encode(model, mel, n)
    w = rest_weights(G.softmax(logits[0, :n])[:, G.SIL])
    full, none = w >= 1.0 - 1e-6, w <= 1e-6
    assert full[:10].all() and full[-10:].all() and none.sum() > n // 3   # the padded pauses rest, speech does not
    idx = [INDEX[c] for c in REST_CHANNELS]
    assert np.all(rested.weights[:, full][..., idx] <= 1e-6)
    np.testing.assert_array_equal(rested.weights[:, none], plain.weights[:, none])
    other = [i for i in range(plain.weights.shape[-1]) if i not in idx]
    np.testing.assert_array_equal(rested.weights[..., other], plain.weights[..., other])
    part = ~full & ~none
    expect = plain.weights[:, part][..., idx] * (1.0 - w[part])[None, :, None]
    np.testing.assert_allclose(rested.weights[:, part][..., idx], expect, rtol=1e-5, atol=1e-6)


def test_rest_weights_ease_in_and_out():
    from thunder_blender.core.rest import rest_weights

    w = rest_weights(np.r_[np.zeros(10), np.ones(12), np.zeros(10)])
    assert np.all(w[:6] == 0) and np.all(w[-6:] == 0) and np.allclose(w[13:19], 1.0)
    assert np.all(np.diff(w[5:14]) >= 0) and np.all(np.diff(w[18:27]) <= 0)   # monotone ramps
    assert rest_weights(np.ones(5)).tolist() == [1.0] * 5 and rest_weights(np.zeros(0)).size == 0
    assert np.all(rest_weights(np.r_[np.zeros(9), 1.0, np.zeros(9)]) < 0.5)   # one frame of silence: a partial rest


def test_guidance_changes_emotional_takes_only(model):
    pcm = _speech(2.0)
    base = G.GenerateRequest(pcm=pcm, n_takes=1, seed=5, emotion="happy", intensity=1.0)
    g1 = G.generate(base, model)
    g3 = G.generate(G.GenerateRequest(**{**base.__dict__, "guidance": 3.0}), model)
    assert np.abs(g1.weights - g3.weights).max() > 1e-3
    auto = G.GenerateRequest(pcm=pcm, n_takes=1, seed=5)
    a1 = G.generate(auto, model)
    a3 = G.generate(G.GenerateRequest(**{**auto.__dict__, "guidance": 3.0}), model)
    np.testing.assert_array_equal(a1.weights, a3.weights)


@pytest.mark.parametrize("pcm,sr,msg", [
    (np.zeros(0, np.float32), 16000, "empty"),
    (np.zeros(16000, np.float32), 16000, "silent"),
    (np.full(16000, np.nan, np.float32), 16000, "invalid"),
    (np.ones(100, np.float32) * 0.1, 16000, "too short"),
])
def test_bad_audio_gives_clear_error(model, pcm, sr, msg):
    with pytest.raises(G.InputError, match=msg):
        G.generate(G.GenerateRequest(pcm=pcm, sample_rate=sr), model)


def test_too_long_audio_names_the_limit(model):
    long = np.zeros(int(4000 * (G.MAX_SECONDS + 0.5)), np.float32)
    long[::100] = 0.5
    with pytest.raises(G.InputError, match=r"the audio is 1 h 00 min 00.5 s long; the limit is 1 h 00 min 00 s"):
        G.generate(G.GenerateRequest(pcm=long, sample_rate=4000), model)
    assert G.format_duration(600.5) == "10 min 00.5 s" and G.format_duration(601) == "10 min 01 s"


def test_bad_request_values():
    with pytest.raises(G.InputError, match="unknown emotion"):
        G.GenerateRequest(pcm=np.ones(10), emotion="bored")
    with pytest.raises(G.InputError, match="intensity"):
        G.GenerateRequest(pcm=np.ones(10), intensity=2.0)
    with pytest.raises(G.InputError, match="mouth variation"):
        G.GenerateRequest(pcm=np.ones(10), mouth_temperature=1.5)


def test_cancel_raises_and_returns_nothing(model):
    ev = threading.Event()

    def prog(done, total):
        if done == 2:
            ev.set()

    with pytest.raises(G.GenerationCancelled):
        G.generate(G.GenerateRequest(pcm=_speech(2.0), n_takes=4), model, progress=prog, cancel=ev)


def test_windowed_long_audio_has_no_seams(model):
    """A long clip processed in small overlapping windows matches one pass, with no jump at the borders."""
    pcm = _speech(16.0, seed=3)
    req = G.GenerateRequest(pcm=pcm, n_takes=1, seed=2)
    one = G.generate(req, model).weights[0]
    card = model.card
    model.card = card.with_changes(window=Window(frames=300, overlap=100))
    try:
        win = G.generate(req, model)
    finally:
        model.card = card
    assert win.settings["windows"] >= 3
    w = win.weights[0]
    assert w.shape == one.shape
    # frame-to-frame change at the window borders: the same as the single pass has there (speech itself can
    # move fast at a border, a seam would add a jump of its own)
    vel, vel_one = np.abs(np.diff(w, axis=0)), np.abs(np.diff(one, axis=0))
    wins = G.windows(len(w), 300, 100)
    at_borders = [e - 1 for _, e in wins[:-1]] + [s - 1 for s, _ in wins[1:]]
    assert np.abs(vel - vel_one)[at_borders].max() < 0.01
    assert np.abs(w - one).mean() < 0.01


def test_blend_weights_sum_to_one():
    wins = G.windows(1000, 300, 100)
    ws = G.blend_weights(wins, 1000)
    tot = np.zeros(1000)
    for (s, e), w in zip(wins, ws, strict=True):
        tot[s:e] += w
    np.testing.assert_allclose(tot, 1.0, atol=1e-6)
    assert wins[0][0] == 0 and wins[-1][1] == 1000


def test_missing_and_corrupt_model_files(tmp_path, model):
    with pytest.raises(ModelError, match="no model.json"):
        load_model(tmp_path)
    d = tmp_path / "m"
    shutil.copytree(model.directory, d, ignore=shutil.ignore_patterns("*.md", "metrics.json"))
    (d / model.card.files["denoiser"]).write_bytes(b"not an onnx file")
    with pytest.raises(ModelError, match="corrupt"):
        load_model(d, providers=["CPUExecutionProvider"])
    (d / model.card.files["denoiser"]).unlink()
    with pytest.raises(ModelError, match="missing"):
        load_model(d)
    (d / "model.json").write_text("{")
    with pytest.raises(ModelError, match="not JSON"):
        load_model(d)
    (d / "model.json").write_text(json.dumps({"files": {}}))
    with pytest.raises(ModelError, match="lacks"):
        load_model(d)


def test_the_cards_viseme_split_travels_with_the_cues(tmp_path, model):
    from thunder_blender.core.visemes import DEFAULT_SPLIT, VisemeSplit
    from thunder_blender.runtime.card import ModelCard

    plain = G.generate(G.GenerateRequest(pcm=_speech(1.0), n_takes=1), model)
    assert plain.cues.split == (model.card.split if model.card.viseme_split else DEFAULT_SPLIT)
    d = tmp_path / "m"
    shutil.copytree(model.directory, d)
    split = VisemeSplit(e=(-1.0, 3.0, 0.5, 0.0), o=(0.5, -1.0, 2.0, 1.0))
    ModelCard.read(d / "model.json").with_changes(viseme_split=split.to_dict()).write(d / "model.json")
    other = G.generate(G.GenerateRequest(pcm=_speech(1.0), n_takes=1), load_model(d))
    assert other.cues.split == split and other.cues.with_transcript(np.zeros(5, int)).split == split
    np.testing.assert_array_equal(other.weights, plain.weights)   # the split changes visemes only
