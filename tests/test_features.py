"""The numpy front end against librosa (the training-side reference) and the resampler against theory."""
from __future__ import annotations

import numpy as np
import pytest

from thunder_blender.core import features as F


def _speechlike(sr: int, seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    x = sum(np.sin(k * phase) / k for k in range(1, 30))
    env = 0.5 * (1 + np.sin(2 * np.pi * 3 * t))
    x = 0.2 * x * env + 0.02 * rng.standard_normal(len(t))
    x[: sr // 10] = 0.0  # leading silence exercises the log floor
    return x.astype(np.float32)


@pytest.mark.train
def test_log_mel_matches_librosa():
    librosa = pytest.importorskip("librosa")
    y = _speechlike(16000, 2.37, 0)
    ref = librosa.feature.melspectrogram(
        y=y, sr=16000, n_fft=512, hop_length=160, win_length=400, window="hann", center=True,
        pad_mode="constant", power=2.0, n_mels=80, fmin=40, fmax=7600, htk=False, norm="slaney")
    ref = np.log(np.maximum(ref, 1e-5)).T
    ours = F.log_mel(y)
    assert ours.shape == ref.shape == (F.n_frames(len(y)), 80)
    assert np.abs(ours - ref).max() < 2e-3
    fb_ref = librosa.filters.mel(sr=16000, n_fft=512, n_mels=80, fmin=40, fmax=7600)
    np.testing.assert_allclose(F.mel_filterbank(), fb_ref, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("sr_in", [8000, 22050, 44100, 48000])
def test_resample_reproduces_in_band_tone(sr_in):
    n = int(sr_in * 0.5)
    t = np.arange(n) / sr_in
    x = np.sin(2 * np.pi * 1000.0 * t + 0.3)
    y = F.resample(x, sr_in, 16000)
    assert len(y) == round(n * 16000 / sr_in)
    t_out = np.arange(len(y)) / 16000
    expect = np.sin(2 * np.pi * 1000.0 * t_out + 0.3)
    core = slice(200, len(y) - 200)  # away from the zero-padded edges
    assert np.abs(y[core] - expect[core]).max() < 2e-3


def test_resample_rejects_out_of_band_tone():
    sr_in = 48000
    t = np.arange(sr_in) / sr_in
    x = np.sin(2 * np.pi * 12000.0 * t)  # above the 8 kHz output Nyquist: must be filtered out
    y = F.resample(x, sr_in, 16000)
    assert np.sqrt(np.mean(y[500:-500] ** 2)) < 0.01


@pytest.mark.train
def test_resample_then_mel_close_to_librosa_resample():
    librosa = pytest.importorskip("librosa")
    y44 = _speechlike(44100, 1.5, 1)
    ours = F.log_mel(F.resample(y44, 44100, 16000))
    ref = F.log_mel(librosa.resample(y44, orig_sr=44100, target_sr=16000, res_type="soxr_hq"))
    n = min(len(ours), len(ref))
    loud = ref[:n] > np.log(1e-3)  # compare where there is energy; the floor region is ill-conditioned
    assert np.median(np.abs(ours[:n][loud] - ref[:n][loud])) < 0.02


def test_to_model_audio_downmixes_stereo():
    x = np.stack([np.ones(1600), -np.ones(1600)], axis=1) * 0.5
    y = F.to_model_audio(x, 16000)
    assert y.shape == (1600,) and np.abs(y).max() < 1e-6
