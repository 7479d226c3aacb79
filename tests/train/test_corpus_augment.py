"""Training-time augmentation: same length, deterministic, each stage does what it claims."""
from __future__ import annotations

import time

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
    cfg = AugmentConfig(p_warp=0, p_eq=0, p_band=0, p_resample=0, p_reverb=0, p_noise=1, snr_db=(10, 10),
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
    cfg = AugmentConfig(p_warp=0, p_eq=0, p_band=0, p_resample=0, p_reverb=1, p_noise=0, gain_db=(0, 0))
    y = augment(x, SR, rng, cfg)
    lags = np.arange(-400, 401)
    xc = [np.dot(x[400:-400], np.roll(y, -k)[400:-400]) for k in lags]
    assert abs(lags[int(np.argmax(xc))]) <= 2


def test_fast_enough_for_per_batch_use():
    x = _speechlike(4, seconds=4.0)
    rng = np.random.default_rng(0)
    augment(x, SR, rng)
    t = time.perf_counter()
    for _ in range(10):
        augment(x, SR, rng)
    per_clip = (time.perf_counter() - t) / 10
    assert per_clip < 0.25, f"{per_clip * 1000:.0f} ms per 4 s clip"


@pytest.mark.parametrize("sr", [16000, 22050])
def test_other_sample_rates(sr):
    x = np.random.default_rng(0).standard_normal(sr).astype(np.float32) * 0.1
    assert augment(x, sr, np.random.default_rng(5)).shape == x.shape
