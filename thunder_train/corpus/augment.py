"""Training-time audio augmentation (numpy / scipy, deterministic given the rng).

``augment(audio, sr, rng, cfg)`` returns audio of the same length, so frame labels stay aligned. Each
stage fires with its own probability, and every probability and range is a field of ``AugmentConfig``
(the values used in training are in thunder_train/recipe.toml [generator.augment]). In order:

- pitch shift by ``pitch_semitones`` (phase-vocoder time stretch + band-limited resampling back to the
  original length: F0 and formants move together, duration and timing are kept)
- vocal-tract-length warp: STFT frequency-axis warp by ``warp_factor`` (formants and the spectral
  envelope move; a separate stage from the pitch shift, so the two combine independently)
- EQ: random peaking and shelving biquads
- reverberation: synthetic room impulse response (direct path, sparse early reflections,
  exponentially decaying noise tail, RT60 0.1..1.0 s), random wet/dry mix, direct path kept at lag 0
- music bed at ``music_snr_db``: chords (triads with harmonics) and drums (kick, snare, hi-hat)
  synthesised from the rng, never loaded from files
- additive noise at ``snr_db``: white, pink, brown, blue, mains hum, or babble (other utterances
  passed in ``babble``, or speech-shaped modulated noise when none is given)
- band-limiting: telephone band (300..3400 Hz) with probability ``p_telephone``, else low-pass 2.8..7.5 kHz
- resampling round trip through 8..48 kHz
- dynamic-range compression: feed-forward compressor (threshold ``compress_threshold_db`` below the
  peak, ratio ``compress_ratio``, 1..10 ms look-ahead, 30..200 ms release) with make-up gain to the old peak
- loudness: gain ``gain_db``
- hard clipping: drive by ``clip_drive_db`` into a clip at the pre-drive peak level
- a final soft limiter keeps the result inside [-0.99, 0.99]

Tempo changes alter timing, so they are not part of ``augment``: ``time_stretch`` makes the audio and
``retime_labels`` re-times the 50 fps labels; ``thunder_train.data.Batcher`` applies both with
probability ``p_tempo`` and a rate drawn from ``tempo_rate``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import fft as sp_fft
from scipy.signal import fftconvolve, resample, resample_poly, sosfilt


@dataclass
class AugmentConfig:
    """Stage probabilities and ranges (ranges are (low, high) of a uniform draw)."""

    p_pitch: float = 0.5
    pitch_semitones: tuple[float, float] = (-8.0, 8.0)
    p_warp: float = 0.5
    warp_factor: tuple[float, float] = (0.88, 1.12)
    p_eq: float = 0.5
    p_reverb: float = 0.5
    p_music: float = 0.15
    music_snr_db: tuple[float, float] = (0.0, 20.0)
    p_noise: float = 0.8
    snr_db: tuple[float, float] = (-5.0, 30.0)
    p_band: float = 0.3
    p_telephone: float = 0.4        # share of band-limiting that is the telephone band
    p_resample: float = 0.3
    p_compress: float = 0.3
    compress_threshold_db: tuple[float, float] = (-35.0, -10.0)   # below the clip's peak
    compress_ratio: tuple[float, float] = (3.0, 20.0)
    gain_db: tuple[float, float] = (-18.0, 6.0)
    p_clip: float = 0.15
    clip_drive_db: tuple[float, float] = (3.0, 20.0)
    p_tempo: float = 0.3            # applied by data.Batcher (changes timing)
    tempo_rate: tuple[float, float] = (0.75, 1.33)   # > 1 faster


def _stft_frames(x: np.ndarray, n_fft: int, hop: int) -> tuple[np.ndarray, np.ndarray]:
    win = np.hanning(n_fft + 1)[:-1]
    pad = np.pad(x.astype(np.float64), (n_fft, n_fft + hop))
    frames = np.lib.stride_tricks.sliding_window_view(pad, n_fft)[::hop] * win
    return sp_fft.rfft(frames, axis=1), win


def _overlap_add(frames: np.ndarray, win: np.ndarray, hop: int) -> np.ndarray:
    """Weighted overlap-add of windowed frames ``(N, n_fft)`` -> signal (normalised by the window sum)."""
    n_fft = frames.shape[1]
    r = n_fft // hop
    nf = len(frames)
    blocks = (frames * win).reshape(nf, r, hop)
    wblocks = np.broadcast_to((win ** 2).reshape(1, r, hop), blocks.shape)
    y = np.zeros((nf + r, hop))
    norm = np.zeros((nf + r, hop))
    for j in range(r):
        y[j:j + nf] += blocks[:, j]
        norm[j:j + nf] += wblocks[:, j]
    return (y / np.maximum(norm, 1e-3)).reshape(-1)


def _warp(x: np.ndarray, alpha: float, n_fft: int = 512, hop: int = 128) -> np.ndarray:
    """Warp the spectrum's frequency axis by ``alpha`` (>1 raises formants), same length."""
    n = len(x)
    spec, win = _stft_frames(x, n_fft, hop)
    k = np.arange(spec.shape[1])
    src = k / alpha
    lo = np.clip(np.floor(src).astype(int), 0, k[-1])
    hi = np.clip(lo + 1, 0, k[-1])
    fr = src - lo
    out_spec = spec[:, lo] * (1 - fr) + spec[:, hi] * fr  # complex interpolation along frequency
    out_spec[:, src > k[-1]] = 0
    y = _overlap_add(sp_fft.irfft(out_spec, n=n_fft, axis=1), win, hop)
    return y[n_fft:n_fft + n].astype(np.float32)


def time_stretch(x: np.ndarray, n_out: int, n_fft: int = 512, hop: int = 128) -> np.ndarray:
    """Phase-vocoder time stretch of ``x`` ``(S,)`` to ``(n_out,)`` samples, pitch unchanged.

    Analysis hop ``hop * S / n_out``, synthesis hop ``hop``; phases advance by each bin's measured
    instantaneous frequency, and are locked to the nearest spectral peak (identity phase locking)
    so harmonics keep their shape.
    """
    n = len(x)
    if n == 0 or n_out <= 0:
        return np.zeros(max(n_out, 0), np.float32)
    ratio = n / n_out
    spec, win = _stft_frames(x, n_fft, hop)                     # analysis on the hop grid of the input
    # positions (in input frames) read for every output frame
    n_frames_out = int(np.ceil((n_out + 2 * n_fft) / hop))
    # output frame k is centred at k * hop - n_fft / 2; it reads the input centred at ratio times that
    pos = np.arange(n_frames_out) * ratio + (1 - ratio) * n_fft / (2 * hop)
    pos = np.clip(pos, 0, len(spec) - 1.001)
    i0 = np.floor(pos).astype(int)
    frac = pos - i0
    mag = np.abs(spec[i0]) * (1 - frac[:, None]) + np.abs(spec[i0 + 1]) * frac[:, None]
    omega = 2 * np.pi * hop * np.arange(spec.shape[1]) / n_fft  # expected phase advance per hop
    dphi = np.angle(spec[i0 + 1]) - np.angle(spec[i0]) - omega
    dphi = dphi - 2 * np.pi * np.round(dphi / (2 * np.pi))
    inst = omega + dphi                                          # measured advance per hop
    phase = np.empty_like(mag)
    phase[0] = np.angle(spec[0])
    phase[1:] = phase[0] + np.cumsum(inst[:-1], axis=0)
    # identity phase locking: each bin keeps its phase offset to the nearest local magnitude peak
    is_peak = np.zeros_like(mag, bool)
    is_peak[:, 1:-1] = (mag[:, 1:-1] > mag[:, :-2]) & (mag[:, 1:-1] >= mag[:, 2:])
    k = np.arange(mag.shape[1])
    an_phase = np.angle(spec[i0])
    for f in range(len(mag)):
        pk = np.nonzero(is_peak[f])[0]
        if len(pk) == 0:
            continue
        mids = (pk[1:] + pk[:-1]) / 2
        near = pk[np.searchsorted(mids, k)]
        phase[f] = phase[f, near] + an_phase[f] - an_phase[f, near]
    frames = sp_fft.irfft(mag * np.exp(1j * phase), n=n_fft, axis=1)
    y = _overlap_add(frames, win, hop)
    return y[n_fft:n_fft + n_out].astype(np.float32)


def pitch_shift(x: np.ndarray, semitones: float) -> np.ndarray:
    """Shift pitch (and formants) by ``semitones``, same length and timing: ``(S,)`` -> ``(S,)``."""
    n = len(x)
    if n == 0 or semitones == 0:
        return np.asarray(x, np.float32).copy()
    factor = 2.0 ** (semitones / 12.0)
    stretched = time_stretch(x, int(round(n * factor)))          # longer by ``factor``, same pitch
    return resample(stretched, n).astype(np.float32)              # squeeze back: pitch x factor


def compress(x: np.ndarray, sr: int, threshold_db: float, ratio: float, attack_s: float = 0.005,
             release_s: float = 0.08, block: int = 32) -> np.ndarray:
    """Look-ahead compressor with make-up gain to the input peak: ``(S,)`` -> ``(S,)``.

    The level is the block peak in dB (``block`` samples) relative to the clip's peak; above
    ``threshold_db`` the gain falls by ``1 - 1/ratio`` dB per dB. The gain looks ``attack_s`` ahead (it is
    already down when a transient arrives, so peaks do not slip through) and recovers with ``release_s``.
    """
    x = np.asarray(x, np.float64)
    n = len(x)
    peak = np.max(np.abs(x)) if n else 0.0
    if peak <= 0:
        return x.astype(np.float32)
    nb = -(-n // block)
    lvl = np.abs(np.pad(x, (0, nb * block - n))).reshape(nb, block).max(1)
    static = -np.maximum(20 * np.log10(np.maximum(lvl, 1e-9) / peak) - threshold_db, 0.0) * (1 - 1 / ratio)
    ahead = max(1, int(round(attack_s * sr / block)))
    padded = np.pad(static, (1, ahead), constant_values=0.0)     # one block behind, ``ahead`` blocks ahead
    target = np.lib.stride_tricks.sliding_window_view(padded, ahead + 2).min(1)[:nb]
    a_rel = np.exp(-block / (release_s * sr))
    gain_db = np.empty(nb)
    g = 0.0
    for i, v in enumerate(target):
        g = min(v, a_rel * g + (1 - a_rel) * v)                   # instant down (look-ahead), slow up
        gain_db[i] = g
    y = x * 10 ** (np.repeat(gain_db, block)[:n] / 20)
    return (y * peak / (np.max(np.abs(y)) + 1e-12)).astype(np.float32)


def hard_clip(x: np.ndarray, drive_db: float) -> np.ndarray:
    """Amplify by ``drive_db`` into a hard clip at the input's peak level: ``(S,)`` -> ``(S,)``."""
    x = np.asarray(x, np.float32)
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    return np.clip(x * np.float32(10 ** (drive_db / 20)), -peak, peak).astype(np.float32)


def music_bed(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS synthetic music ``(n,)``: a chord progression (triads with decaying harmonics) over a
    drum pattern (kick, snare, hi-hat) at 70..160 bpm; either part may be missing."""
    t = np.arange(n) / sr
    bpm = rng.uniform(70, 160)
    beat = 60.0 / bpm
    root_midi = int(rng.integers(45, 58))
    progression = [0, 5, 7, 9, 3, 10]
    y = np.zeros(n)
    kind = rng.choice(["both", "chords", "drums"], p=[0.6, 0.25, 0.15])
    if kind in ("both", "chords"):
        bar = 4 * beat
        for b in range(int(np.ceil(t[-1] / bar)) + 1 if n else 0):
            step = progression[int(rng.integers(len(progression)))]
            minor = rng.random() < 0.5
            s0, s1 = int(b * bar * sr), min(int((b + 1) * bar * sr), n)
            if s0 >= n:
                break
            tt = t[s0:s1] - t[s0]
            chord = np.zeros(s1 - s0)
            for iv in (0, 3 if minor else 4, 7):
                f = 440.0 * 2 ** ((root_midi + step + iv - 69) / 12)
                for h in range(1, 6):
                    if f * h < 0.45 * sr:
                        chord += np.sin(2 * np.pi * f * h * tt + rng.uniform(0, 6.3)) / h ** 1.5
            chord *= np.exp(-tt / rng.uniform(0.5, 3.0)) * np.minimum(1, tt / 0.01)
            y[s0:s1] += chord
    if kind in ("both", "drums"):
        drums = np.zeros(n)
        n_beats = int(np.ceil(t[-1] / (beat / 2))) + 1 if n else 0
        for k in range(n_beats):  # eighth notes
            s0 = int(k * beat / 2 * sr)
            if s0 >= n:
                break
            L = min(int(0.25 * sr), n - s0)
            tt = np.arange(L) / sr
            if k % 4 == 0:    # kick: falling sine
                f = 50 + 100 * np.exp(-tt / 0.03)
                drums[s0:s0 + L] += 1.5 * np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-tt / 0.12)
            elif k % 4 == 2:  # snare: noise burst + tone
                drums[s0:s0 + L] += (rng.standard_normal(L) * 0.8 + np.sin(2 * np.pi * 190 * tt)) * np.exp(-tt / 0.06)
            hat = sosfilt(_biquad("highpass", min(7000, 0.4 * sr), sr), rng.standard_normal(L))
            drums[s0:s0 + L] += 0.3 * hat * np.exp(-tt / 0.02)
        y += drums * (np.sqrt(np.mean(y ** 2)) + 1e-3) / (np.sqrt(np.mean(drums ** 2)) + 1e-12) if kind == "both" \
            else drums
    return (y / (np.sqrt(np.mean(y ** 2)) + 1e-12)).astype(np.float32)


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


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(x, np.float64) ** 2)) + 1e-12)


def augment(audio: np.ndarray, sr: int, rng: np.random.Generator, cfg: AugmentConfig | None = None,
            babble: list[np.ndarray] | None = None) -> np.ndarray:
    """Augmented copy of ``audio`` ``(S,)`` float32 -> ``(S,)`` float32 (same length, same timing)."""
    cfg = cfg or AugmentConfig()
    x = np.asarray(audio, np.float32).copy()
    n = len(x)
    if n == 0:
        return x
    if rng.random() < cfg.p_pitch:
        x = pitch_shift(x, float(rng.uniform(*cfg.pitch_semitones)))
    if rng.random() < cfg.p_warp:
        x = _warp(x, float(rng.uniform(*cfg.warp_factor)))
    if rng.random() < cfg.p_eq:
        sos = np.concatenate([
            _biquad("peak", rng.uniform(200, 5000), sr, rng.uniform(-10, 10), rng.uniform(0.5, 3)),
            _biquad("lowshelf", rng.uniform(100, 400), sr, rng.uniform(-8, 8)),
            _biquad("highshelf", rng.uniform(2000, 6000), sr, rng.uniform(-12, 6))])
        x = sosfilt(sos, x).astype(np.float32)
    if rng.random() < cfg.p_reverb:
        rir = room_impulse(sr, rng)
        wet = fftconvolve(x, rir)[:n].astype(np.float32)
        x = wet * (_rms(x) / _rms(wet))
    if rng.random() < cfg.p_music:
        snr = rng.uniform(*cfg.music_snr_db)
        x = x + music_bed(n, sr, rng) * _rms(x) / (10 ** (snr / 20))
    if rng.random() < cfg.p_noise:
        snr = rng.uniform(*cfg.snr_db)
        x = x + _noise(n, sr, rng, babble) * _rms(x) / (10 ** (snr / 20))
    if rng.random() < cfg.p_band:
        if rng.random() < cfg.p_telephone:
            sos = np.concatenate([_biquad("highpass", 300, sr), _biquad("lowpass", 3400, sr)] * 2)
        else:
            sos = np.concatenate([_biquad("lowpass", min(rng.uniform(2800, 7500), 0.45 * sr), sr)] * 2)
        x = sosfilt(sos, x).astype(np.float32)
    if rng.random() < cfg.p_resample:
        mid = int(rng.choice([8000, 11025, 12000, 22050, 24000, 32000, 44100, 48000]))
        g = np.gcd(mid, sr)
        y = resample_poly(resample_poly(x, mid // g, sr // g), sr // g, mid // g)
        x = np.resize(y, n).astype(np.float32) if len(y) != n else y.astype(np.float32)
    if rng.random() < cfg.p_compress:
        x = compress(x, sr, float(rng.uniform(*cfg.compress_threshold_db)), float(rng.uniform(*cfg.compress_ratio)),
                     attack_s=float(rng.uniform(0.001, 0.01)), release_s=float(rng.uniform(0.03, 0.2)))
    x = x * np.float32(10 ** (rng.uniform(*cfg.gain_db) / 20))
    if rng.random() < cfg.p_clip:
        x = hard_clip(x, float(rng.uniform(*cfg.clip_drive_db)))
    peak = np.max(np.abs(x))
    if peak > 0.99:  # soft limit
        x = np.tanh(x / peak * 2.0) / np.tanh(2.0) * 0.99
    return x.astype(np.float32)


def retime_labels(perf: np.ndarray, phone: np.ndarray, closure: np.ndarray, rate: float,
                  n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels of a clip played ``rate`` times faster (``time_stretch`` of its audio).

    Output frame j covers source frames [j * rate, (j + 1) * rate). ``perf`` ``(F, C)`` is linearly
    interpolated at the interval centre, ``phone`` ``(F,)`` is the class at the centre, and ``closure``
    ``(F,)`` is true when the interval overlaps any closure frame (a seal is never dropped by a faster
    tempo). Returns ``(n_out, C)``, ``(n_out,)``, ``(n_out,)``.
    """
    F = len(perf)
    centre = (np.arange(n_out) + 0.5) * rate                   # in source frames
    src = np.clip(centre - 0.5, 0, F - 1)
    i0 = np.floor(src).astype(int)
    i1 = np.minimum(i0 + 1, F - 1)
    fr = (src - i0)[:, None].astype(np.float32)
    out_perf = (perf[i0] * (1 - fr) + perf[i1] * fr).astype(perf.dtype)
    out_phone = retime_classes(phone, rate, n_out)
    a = np.clip(np.floor(np.arange(n_out) * rate).astype(int), 0, F - 1)
    b = np.clip(np.ceil((np.arange(n_out) + 1) * rate).astype(int), a + 1, F)
    cs = np.concatenate([[0], np.cumsum(closure.astype(np.int64))])
    out_closure = (cs[b] - cs[a]) > 0
    return out_perf, out_phone, out_closure


def retime_classes(labels: np.ndarray, rate: float, n_out: int) -> np.ndarray:
    """Frame labels ``(F,)`` of a clip played ``rate`` times faster: output frame j takes the label at the centre
    of source frames [j * rate, (j + 1) * rate). Returns ``(n_out,)``."""
    centre = (np.arange(n_out) + 0.5) * rate
    return labels[np.clip(np.floor(centre).astype(int), 0, len(labels) - 1)]
