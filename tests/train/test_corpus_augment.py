"""Training-time augmentation: same length, deterministic, each stage does what it claims."""
from __future__ import annotations

import numpy as np
import pytest

from thunder_train.corpus.augment import AugmentConfig, _warp, augment, room_impulse

SR = 16000


def _speechlike(seed: int = 0, seconds: float = 3.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f0 = 120 + 20 * np.sin(2 * np.pi * 0.7 * t)
    x = sum(np.sin(2 * np.pi * np.cumsum(f0 * h) / SR) / h for h in range(1, 12))
    env = (np.sin(2 * np.pi * 3 * t) > 0).astype(float)  # syllable-like on/off
    return (0.3 * x * env / 3 + 0.001 * rng.standard_normal(len(t))).astype(np.float32)


def test_same_length_dtype_and_determinism():
    x = _speechlike()
    for seed in range(12):
        a = augment(x, SR, np.random.default_rng(seed))
        b = augment(x, SR, np.random.default_rng(seed))
        assert a.shape == x.shape and a.dtype == np.float32 and np.isfinite(a).all()
        assert np.abs(a).max() <= 1.0
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(augment(x, SR, np.random.default_rng(1)), augment(x, SR, np.random.default_rng(2)))
    assert augment(np.zeros(0, np.float32), SR, np.random.default_rng(0)).shape == (0,)


def test_noise_stage_hits_the_requested_snr():
    x = _speechlike(1)
    cfg = AugmentConfig(p_pitch=0, p_warp=0, p_eq=0, p_band=0, p_resample=0, p_reverb=0, p_music=0, p_noise=1,
                        p_compress=0, p_clip=0, snr_db=(10, 10),
                        gain_db=(0, 0))
    for seed in range(6):
        y = augment(x, SR, np.random.default_rng(seed), cfg)
        snr = 10 * np.log10(np.mean(x ** 2) / np.mean((y - x) ** 2))
        assert abs(snr - 10) < 0.5, snr


def test_warp_is_identity_at_one_and_moves_spectrum_otherwise():
    x = _speechlike(2)
    np.testing.assert_allclose(_warp(x, 1.0), x, atol=1e-5)
    spec = np.abs(np.fft.rfft(x))
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    up = np.abs(np.fft.rfft(_warp(x, 1.1)))
    centroid = lambda s: (freqs * s).sum() / s.sum()  # noqa: E731
    assert centroid(up) > 1.05 * centroid(spec)


def test_reverb_keeps_timing():
    rng = np.random.default_rng(3)
    rir = room_impulse(SR, rng)
    assert rir[0] == 1.0 and np.argmax(np.abs(rir)) == 0
    x = _speechlike(3)
    cfg = AugmentConfig(p_pitch=0, p_warp=0, p_eq=0, p_band=0, p_resample=0, p_reverb=1, p_music=0, p_noise=0,
                        p_compress=0, p_clip=0, gain_db=(0, 0))
    y = augment(x, SR, rng, cfg)
    lags = np.arange(-400, 401)
    xc = [np.dot(x[400:-400], np.roll(y, -k)[400:-400]) for k in lags]
    assert abs(lags[int(np.argmax(xc))]) <= 2


@pytest.mark.parametrize("sr", [16000, 22050])
def test_other_sample_rates(sr):
    x = np.random.default_rng(0).standard_normal(sr).astype(np.float32) * 0.1
    assert augment(x, sr, np.random.default_rng(5)).shape == x.shape


# ---- stages added for acted speech: each measured against what it claims ----

from thunder_train.corpus.augment import (  # noqa: E402
    compress,
    hard_clip,
    music_bed,
    pitch_shift,
    retime_labels,
    time_stretch,
)


def _only(**kw) -> AugmentConfig:
    """Config with every stage off except those given (gain 0 dB)."""
    off = {f: 0.0 for f in AugmentConfig.__dataclass_fields__ if f.startswith("p_")}
    return AugmentConfig(**{**off, "gain_db": (0.0, 0.0), **kw})


def _f0(y: np.ndarray, sr: int = SR) -> float:
    """Frequency of the strongest spectral peak (parabolic interpolation), Hz."""
    s = np.abs(np.fft.rfft(y * np.hanning(len(y)), n=8 * len(y)))
    k = int(np.argmax(s))
    a, b, c = np.log(s[k - 1:k + 2] + 1e-12)
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * sr / (8 * len(y))


def _bursts(n: int = 32000, onsets=(4000, 12000, 20000, 27000)) -> tuple[np.ndarray, list[int]]:
    t = np.arange(1600) / SR
    x = np.zeros(n, np.float32)
    for o in onsets:
        x[o:o + 1600] += np.sin(2 * np.pi * 300 * t) * np.hanning(1600)
    return x, list(onsets)


def _centre(y: np.ndarray, lo: int, hi: int) -> float:
    e = y[max(lo, 0):hi].astype(np.float64) ** 2
    return max(lo, 0) + float(np.sum(np.arange(len(e)) * e) / e.sum())


@pytest.mark.parametrize("semitones", [-8.0, -3.5, 2.0, 8.0])
def test_pitch_shift_moves_f0_and_keeps_duration(semitones):
    t = np.arange(2 * SR) / SR
    x = (0.3 * np.sin(2 * np.pi * 180 * t)).astype(np.float32)
    y = pitch_shift(x, semitones)
    assert y.shape == x.shape and y.dtype == np.float32
    want = 180 * 2 ** (semitones / 12)
    got = _f0(y[4000:-4000])
    assert abs(12 * np.log2(got / want)) < 0.1, (got, want)   # within 0.1 semitone
    assert abs(np.sqrt(np.mean(y[4000:-4000] ** 2)) / 0.3 * np.sqrt(2) - 1) < 0.1   # level kept


def test_pitch_shift_keeps_timing():
    x, onsets = _bursts()
    y = pitch_shift(x, 7.0)
    for o in onsets:
        assert abs(_centre(y, o - 800, o + 2400) - _centre(x, o - 800, o + 2400)) < 0.005 * SR  # < 5 ms


@pytest.mark.parametrize("rate", [0.75, 1.33])
def test_time_stretch_scales_time_not_pitch(rate):
    x, onsets = _bursts()
    n_out = int(round(len(x) / rate))
    y = time_stretch(x, n_out)
    assert y.shape == (n_out,)
    for o in onsets:
        c_in = _centre(x, o - 800, o + 2400)
        c_out = _centre(y, int(c_in / rate) - 1600, int(c_in / rate) + 1600)
        assert abs(c_out - c_in / rate) < 0.005 * SR, (o, c_out, c_in / rate)
    t = np.arange(2 * SR) / SR
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    assert abs(_f0(time_stretch(tone, int(len(tone) / rate))[4000:-4000]) - 220) < 1.0


def test_warp_stage_is_separate_from_pitch():
    """The formant warp moves the spectral envelope; the pitch shift moves F0 (a formant warp of 1.1
    leaves the fundamental of a tone far less moved than a pitch shift of the same ratio)."""
    x = _speechlike(5)
    y_pitch = augment(x, SR, np.random.default_rng(0), _only(p_pitch=1.0, pitch_semitones=(5.0, 5.0)))
    y_warp = augment(x, SR, np.random.default_rng(0), _only(p_warp=1.0, warp_factor=(1.12, 1.12)))
    assert not np.allclose(y_pitch, y_warp)
    for y in (y_pitch, y_warp):
        assert y.shape == x.shape


def test_compression_lowers_crest_factor_and_level_spread():
    rng = np.random.default_rng(0)
    t = np.arange(3 * SR) / SR
    tone = sum(np.sin(2 * np.pi * 150 * h * t) / h for h in range(1, 6)) * 0.2
    x = (tone * np.repeat(rng.uniform(0.03, 1.0, 48), 1000)).astype(np.float32)   # levels over ~30 dB

    def crest_db(y):
        return 20 * np.log10(np.max(np.abs(y)) / np.sqrt(np.mean(y ** 2)))

    def level_spread_db(y):  # 95th - 5th percentile of 20 ms RMS levels
        r = 20 * np.log10(np.sqrt(np.mean(y.reshape(-1, 320).astype(np.float64) ** 2, 1)))
        return np.percentile(r, 95) - np.percentile(r, 5)

    y = compress(x, SR, threshold_db=-30.0, ratio=20.0)
    assert y.shape == x.shape and np.isclose(np.max(np.abs(y)), np.max(np.abs(x)), rtol=1e-3)
    assert crest_db(y) < crest_db(x) - 2, (crest_db(x), crest_db(y))
    assert level_spread_db(y) < 0.5 * level_spread_db(x), (level_spread_db(x), level_spread_db(y))
    mild = compress(x, SR, threshold_db=-10.0, ratio=3.0)
    assert level_spread_db(y) < level_spread_db(mild) < level_spread_db(x)
    np.testing.assert_allclose(compress(x, SR, threshold_db=0.0, ratio=20.0), x, atol=1e-6)  # never above peak


def test_hard_clip_flattens_peaks():
    x = _speechlike(7)
    peak = np.max(np.abs(x))
    y = hard_clip(x, 12.0)
    assert np.isclose(np.max(np.abs(y)), peak)
    clipped = np.mean(np.abs(y) >= peak * 0.999)
    assert clipped > 0.05, clipped            # a 12 dB drive clips a good share of the samples
    cfg = _only(p_clip=1.0, clip_drive_db=(12.0, 12.0))
    z = augment(x, SR, np.random.default_rng(0), cfg)
    np.testing.assert_allclose(z, y, atol=1e-6)


def test_music_bed_has_chords_and_beats():
    n = 6 * SR
    found_tonal = found_beat = False
    for seed in range(6):
        y = music_bed(n, SR, np.random.default_rng(seed))
        assert y.shape == (n,) and np.isfinite(y).all() and abs(np.sqrt(np.mean(y ** 2)) - 1) < 1e-3
        np.testing.assert_array_equal(y, music_bed(n, SR, np.random.default_rng(seed)))
        spec = np.abs(np.fft.rfft(y)) ** 2
        top = np.sort(spec)[::-1]
        found_tonal |= top[:200].sum() / spec.sum() > 0.5          # energy in few (harmonic) lines
        env = np.sqrt(np.convolve(y ** 2, np.ones(160) / 160, "same")[::160])
        env = env - env.mean()
        ac = np.correlate(env, env, "full")[len(env) - 1:]
        lag = 8 + int(np.argmax(ac[8:100]))                        # 80 ms .. 1 s
        found_beat |= ac[lag] / ac[0] > 0.3                        # periodic envelope: a beat
    assert found_tonal and found_beat


def test_music_stage_mixes_at_the_requested_snr():
    x = _speechlike(8)
    cfg = _only(p_music=1.0, music_snr_db=(6.0, 6.0))
    y = augment(x, SR, np.random.default_rng(1), cfg)
    snr = 10 * np.log10(np.mean(x ** 2) / np.mean((y - x) ** 2))
    assert abs(snr - 6.0) < 0.5, snr


def test_telephone_band_removes_low_and_high_frequencies():
    x = np.random.default_rng(0).standard_normal(2 * SR).astype(np.float32) * 0.1
    y = augment(x, SR, np.random.default_rng(0), _only(p_band=1.0, p_telephone=1.0))
    f = np.fft.rfftfreq(len(x), 1 / SR)
    px, py = np.abs(np.fft.rfft(x)) ** 2, np.abs(np.fft.rfft(y)) ** 2
    band = lambda p, lo, hi: p[(f >= lo) & (f < hi)].sum()  # noqa: E731
    assert band(py, 1000, 2500) / band(px, 1000, 2500) > 0.7
    assert band(py, 5000, 8000) / band(px, 5000, 8000) < 0.01
    assert band(py, 0, 120) / band(px, 0, 120) < 0.05


def test_every_stage_on_is_deterministic_and_bounded():
    on = {f: 1.0 for f in AugmentConfig.__dataclass_fields__ if f.startswith("p_")}
    cfg = AugmentConfig(**on)
    x = _speechlike(9)
    a = augment(x, SR, np.random.default_rng(3), cfg)
    b = augment(x, SR, np.random.default_rng(3), cfg)
    np.testing.assert_array_equal(a, b)
    assert a.shape == x.shape and np.isfinite(a).all() and np.abs(a).max() <= 0.99 + 1e-6


def test_retime_labels_follows_the_tempo():
    F, C = 120, 3
    perf = np.zeros((F, C), np.float32)
    perf[:, 0] = np.arange(F)                       # channel 0 = source frame index (a clock)
    phone = (np.arange(F) // 10).astype(np.int8)
    closure = np.zeros(F, bool)
    closure[[17, 55, 56, 101]] = True               # a single-frame seal included
    for rate in (0.75, 1.2, 1.33):
        n = int(round(F / rate))
        p, ph, cl = retime_labels(perf, phone, closure, F / n, n)
        r = F / n
        centre = (np.arange(n) + 0.5) * r - 0.5
        np.testing.assert_allclose(p[:, 0], np.clip(centre, 0, F - 1), atol=1e-4)
        assert (ph == phone[np.clip(np.floor((np.arange(n) + 0.5) * r).astype(int), 0, F - 1)]).all()
        # every seal survives, at the output frame(s) whose interval contains it
        for f in (17, 55, 101):
            assert cl[int(f // r)] or cl[min(int(f // r) + 1, n - 1)]
        assert cl.sum() <= 2 * closure.sum() + 2
