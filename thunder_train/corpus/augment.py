"""Training-time audio augmentation (numpy / scipy, deterministic given the rng).

``augment(audio, sr, rng)`` returns audio of the same length, so frame labels stay aligned. Each
stage fires with its own probability (``AugmentConfig``):

- vocal-tract-length / pitch perturbation: STFT frequency-axis warp (factor 0.88..1.12), no time change
- EQ: random peaking and shelving biquads; band-limiting: low-pass 2.8..7.5 kHz or telephone band
- resampling round trip through 8..48 kHz
- reverberation: synthetic room impulse response (direct path, sparse early reflections,
  exponentially decaying noise tail, RT60 0.1..1.0 s), random wet/dry mix, direct path kept at lag 0
- additive noise at SNR -5..30 dB: white, pink, brown, blue, mains hum, or babble (other utterances
  passed in ``babble``, or speech-shaped modulated noise when none is given)
- gain -18..+6 dB with soft clipping
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import fft as sp_fft
from scipy.signal import fftconvolve, resample_poly, sosfilt


@dataclass
class AugmentConfig:
    """Stage probabilities and ranges."""

    p_warp: float = 0.5
    p_eq: float = 0.5
    p_band: float = 0.3
    p_resample: float = 0.3
    p_reverb: float = 0.5
    p_noise: float = 0.8
    snr_db: tuple[float, float] = (-5.0, 30.0)
    gain_db: tuple[float, float] = (-18.0, 6.0)


def _warp(x: np.ndarray, alpha: float, n_fft: int = 512, hop: int = 128) -> np.ndarray:
    """Warp the spectrum's frequency axis by ``alpha`` (>1 raises formants and pitch), same length."""
    n = len(x)
    win = np.hanning(n_fft + 1)[:-1].astype(np.float32)
    pad = np.pad(x.astype(np.float32), (n_fft, n_fft + hop))
    frames = np.lib.stride_tricks.sliding_window_view(pad, n_fft)[::hop] * win
    spec = sp_fft.rfft(frames, axis=1)
    k = np.arange(spec.shape[1])
    src = k / alpha
    lo = np.clip(np.floor(src).astype(int), 0, k[-1])
    hi = np.clip(lo + 1, 0, k[-1])
    fr = (src - lo).astype(np.float32)
    out_spec = spec[:, lo] * (1 - fr) + spec[:, hi] * fr  # complex interpolation along frequency
    out_spec[:, src > k[-1]] = 0
    out_frames = sp_fft.irfft(out_spec, n=n_fft, axis=1) * win
    # overlap-add: n_fft is a multiple of hop, so add n_fft/hop shifted block sequences
    r = n_fft // hop
    nf = len(out_frames)
    blocks = out_frames.reshape(nf, r, hop)
    wblocks = np.broadcast_to((win ** 2).reshape(1, r, hop), blocks.shape)
    y = np.zeros((nf + r, hop))
    norm = np.zeros((nf + r, hop))
    for j in range(r):
        y[j:j + nf] += blocks[:, j]
        norm[j:j + nf] += wblocks[:, j]
    y = (y / np.maximum(norm, 1e-3)).reshape(-1)
    return y[n_fft:n_fft + n].astype(np.float32)


def _biquad(kind: str, f0: float, sr: int, gain_db: float = 0.0, q: float = 0.707) -> np.ndarray:
    """RBJ cookbook biquad as a (1, 6) sos array."""
    a = 10 ** (gain_db / 40)
    w = 2 * np.pi * f0 / sr
    cw, sw = np.cos(w), np.sin(w)
    al = sw / (2 * q)
    if kind == "peak":
        b = [1 + al * a, -2 * cw, 1 - al * a]
        den = [1 + al / a, -2 * cw, 1 - al / a]
    elif kind == "lowshelf":
        s = 2 * np.sqrt(a) * al
        b = [a * ((a + 1) - (a - 1) * cw + s), 2 * a * ((a - 1) - (a + 1) * cw), a * ((a + 1) - (a - 1) * cw - s)]
        den = [(a + 1) + (a - 1) * cw + s, -2 * ((a - 1) + (a + 1) * cw), (a + 1) + (a - 1) * cw - s]
    elif kind == "highshelf":
        s = 2 * np.sqrt(a) * al
        b = [a * ((a + 1) + (a - 1) * cw + s), -2 * a * ((a - 1) + (a + 1) * cw), a * ((a + 1) + (a - 1) * cw - s)]
        den = [(a + 1) - (a - 1) * cw + s, 2 * ((a - 1) - (a + 1) * cw), (a + 1) - (a - 1) * cw - s]
    elif kind == "lowpass":
        b = [(1 - cw) / 2, 1 - cw, (1 - cw) / 2]
        den = [1 + al, -2 * cw, 1 - al]
    else:  # highpass
        b = [(1 + cw) / 2, -(1 + cw), (1 + cw) / 2]
        den = [1 + al, -2 * cw, 1 - al]
    return np.array([b + den]) / den[0]


def _coloured(n: int, beta: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS noise with power spectrum ~ 1/f^beta: ``(n,)``."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    y = np.fft.irfft(spec / f ** (beta / 2), n=n)
    return (y / (np.sqrt(np.mean(y ** 2)) + 1e-12)).astype(np.float32)


def room_impulse(sr: int, rng: np.random.Generator) -> np.ndarray:
    """Synthetic room impulse response ``(L,)`` with the direct path at index 0."""
    rt60 = rng.uniform(0.1, 1.0)
    n = int(sr * min(rt60, 0.8) * 1.2)
    t = np.arange(n) / sr
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    onset = int(sr * rng.uniform(0.003, 0.02))
    tail[:onset] = 0
    for _ in range(rng.integers(3, 9)):  # early reflections
        k = int(sr * rng.uniform(0.002, 0.04))
        if k < n:
            tail[k] += rng.uniform(-0.6, 0.6)
    tail *= rng.uniform(0.05, 0.4) / (np.sqrt(np.sum(tail ** 2)) + 1e-9)
    tail[0] = 1.0
    return tail.astype(np.float32)


def _noise(n: int, sr: int, rng: np.random.Generator, babble: list[np.ndarray] | None) -> np.ndarray:
    kind = rng.choice(["white", "pink", "brown", "blue", "hum", "babble"], p=[.15, .25, .15, .1, .1, .25])
    if kind == "babble":
        if babble:
            y = np.zeros(n, np.float32)
            for _ in range(rng.integers(1, 5)):
                src = babble[int(rng.integers(len(babble)))]
                if len(src) == 0:
                    continue
                off = int(rng.integers(len(src)))
                y += np.resize(np.roll(src, -off), n) * rng.uniform(0.5, 1.0)
        else:  # speech-shaped noise modulated at syllable rate
            y = sosfilt(_biquad("lowpass", 1500, sr), _coloured(n, 1.0, rng))
            env = np.abs(_coloured(n // 160 + 2, 2.0, rng))
            y = y * np.repeat(env, 160)[:n]
        return (y / (np.sqrt(np.mean(y ** 2)) + 1e-12)).astype(np.float32)
    if kind == "hum":
        t = np.arange(n) / sr
        f0 = rng.choice([50.0, 60.0])
        y = sum(rng.uniform(0.2, 1) / h * np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6.3)) for h in range(1, 6))
        y = y + 0.3 * _coloured(n, 1.0, rng)
        return (y / (np.sqrt(np.mean(y ** 2)) + 1e-12)).astype(np.float32)
    return _coloured(n, {"white": 0.0, "pink": 1.0, "brown": 2.0, "blue": -1.0}[kind], rng)


def augment(audio: np.ndarray, sr: int, rng: np.random.Generator, cfg: AugmentConfig | None = None,
            babble: list[np.ndarray] | None = None) -> np.ndarray:
    """Augmented copy of ``audio`` ``(S,)`` float32 -> ``(S,)`` float32 (same length, same timing)."""
    cfg = cfg or AugmentConfig()
    x = np.asarray(audio, np.float32).copy()
    n = len(x)
    if n == 0:
        return x
    if rng.random() < cfg.p_warp:
        x = _warp(x, float(rng.uniform(0.88, 1.12)))
    if rng.random() < cfg.p_eq:
        sos = np.concatenate([
            _biquad("peak", rng.uniform(200, 5000), sr, rng.uniform(-10, 10), rng.uniform(0.5, 3)),
            _biquad("lowshelf", rng.uniform(100, 400), sr, rng.uniform(-8, 8)),
            _biquad("highshelf", rng.uniform(2000, 6000), sr, rng.uniform(-12, 6))])
        x = sosfilt(sos, x).astype(np.float32)
    if rng.random() < cfg.p_band:
        if rng.random() < 0.4:  # telephone band
            sos = np.concatenate([_biquad("highpass", 300, sr), _biquad("lowpass", 3400, sr)] * 2)
        else:
            sos = np.concatenate([_biquad("lowpass", min(rng.uniform(2800, 7500), 0.45 * sr), sr)] * 2)
        x = sosfilt(sos, x).astype(np.float32)
    if rng.random() < cfg.p_resample:
        mid = int(rng.choice([8000, 11025, 12000, 22050, 24000, 32000, 44100, 48000]))
        g = np.gcd(mid, sr)
        y = resample_poly(resample_poly(x, mid // g, sr // g), sr // g, mid // g)
        x = np.resize(y, n).astype(np.float32) if len(y) != n else y.astype(np.float32)
    if rng.random() < cfg.p_reverb:
        rir = room_impulse(sr, rng)
        wet = fftconvolve(x, rir)[:n].astype(np.float32)
        x = wet * (np.sqrt(np.mean(x ** 2) + 1e-12) / (np.sqrt(np.mean(wet ** 2)) + 1e-12))
    if rng.random() < cfg.p_noise:
        rms = np.sqrt(np.mean(x ** 2)) + 1e-9
        snr = rng.uniform(*cfg.snr_db)
        x = x + _noise(n, sr, rng, babble) * rms / (10 ** (snr / 20))
    x = x * (10 ** (rng.uniform(*cfg.gain_db) / 20))
    peak = np.max(np.abs(x))
    if peak > 0.99:  # soft clip
        x = np.tanh(x / peak * 2.0) / np.tanh(2.0) * 0.99
    return x.astype(np.float32)
