"""Model fps -> scene fps: no phase drift, and brief extremes (lip closures) always land on a scene frame."""
from __future__ import annotations

import numpy as np
import pytest

from thunder_blender.core.resample import n_output_frames, resample, scene_fps

SCENE_RATES = [24.0, 25.0, 30000 / 1001, 30.0, 50.0, 60.0, 12.0]


def _closure_clip(onset_s: float, n: int = 150, fps: float = 50.0) -> np.ndarray:
    """(n, 3) jawOpen / mouthClose / mouthPress-like channels: speech, then a 40 ms closure at onset_s."""
    t = np.arange(n) / fps
    jaw = 0.35 + 0.15 * np.sin(2 * np.pi * 4.0 * t)
    close = np.full(n, 0.1)
    f0 = int(round(onset_s * fps))
    jaw[f0:f0 + 2] = 0.0
    close[f0:f0 + 2] = 1.0
    press = close * 0.6
    return np.stack([jaw, close, press], axis=1).astype(np.float32)


@pytest.mark.parametrize("dst", SCENE_RATES)
def test_every_40ms_closure_lands_on_a_scene_frame(dst):
    onsets = np.arange(0.5, 2.3, 0.02)  # every 50 fps phase relative to the scene grid
    for onset in onsets:
        clip = _closure_clip(onset)
        out = resample(clip, 50.0, dst)
        j = np.argmax(out[:, 1])
        assert out[j, 1] == pytest.approx(1.0), (dst, onset)
        assert out[j, 0] == pytest.approx(0.0), (dst, onset)  # jaw closed on the same frame
        assert out[j, 2] == pytest.approx(0.6), (dst, onset)
        # ... and that frame is inside the closure or within half a scene frame of it.
        f0 = int(round(onset * 50))
        lo, hi = f0 / 50.0, (f0 + 1) / 50.0
        assert lo - 0.5 / dst - 1e-9 <= j / dst <= hi + 0.5 / dst + 1e-9


@pytest.mark.parametrize("dst", [12.0, 24.0])
def test_plain_interpolation_would_miss_closures(dst):
    """The check above is meaningful: linear interpolation alone skips some closures at low rates."""
    missed = 0
    for onset in np.arange(0.5, 2.3, 0.02):
        clip = _closure_clip(onset)
        plain = resample(clip, 50.0, dst, preserve_extremes=False)
        missed += plain[:, 1].max() < 0.99
    assert missed > 0


@pytest.mark.parametrize("dst", SCENE_RATES)
def test_no_phase_drift_over_ten_minutes(dst):
    src = 50.0
    n = int(600 * src)
    t = np.arange(n) / src
    x = np.sin(2 * np.pi * 0.37 * t)[:, None].astype(np.float32)
    out = resample(x, src, dst, preserve_extremes=False)
    assert out.shape == (n_output_frames(n, src, dst), 1)
    tj = np.arange(out.shape[0]) / dst
    valid = tj <= (n - 1) / src
    expected = np.sin(2 * np.pi * 0.37 * tj[valid])
    # Linear interpolation error of a slow sine at 50 fps is ~1e-4; drift would grow to O(1).
    assert np.max(np.abs(out[valid, 0] - expected)) < 2e-3
    assert abs(out.shape[0] / dst - n / src) <= 1.0 / dst


def test_identity_and_constant_channels():
    rng = np.random.default_rng(3)
    x = rng.random((77, 55)).astype(np.float32)
    np.testing.assert_allclose(resample(x, 50.0, 50.0), x, atol=1e-7)
    const = np.full((100, 4), 0.25, dtype=np.float32)
    for dst in SCENE_RATES:
        np.testing.assert_allclose(resample(const, 50.0, dst), 0.25, atol=1e-7)


def test_output_values_stay_within_source_range():
    rng = np.random.default_rng(11)
    x = rng.random((300, 8)).astype(np.float32)
    for dst in SCENE_RATES:
        y = resample(x, 50.0, dst)
        assert y.min() >= x.min() - 1e-6 and y.max() <= x.max() + 1e-6


def test_explicit_length_holds_last_value_and_bad_input():
    x = np.linspace(0, 1, 10, dtype=np.float32)[:, None]
    y = resample(x, 50.0, 25.0, n_out=12)
    assert y.shape == (12, 1) and y[-1, 0] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        resample(np.zeros(5), 50.0, 24.0)
    with pytest.raises(ValueError):
        resample(np.zeros((0, 3)), 50.0, 24.0)


def test_scene_fps():
    assert scene_fps(30, 1.001) == pytest.approx(29.97002997)
    assert scene_fps(24, 1.0) == 24.0


@pytest.mark.parametrize("dst", [12.0, 24.0, 30.0])
def test_smooth_peak_keeps_its_height(dst):
    """A smooth 0.3 bump (sigma 5 frames = 100 ms) keeps its exact top at every phase; its neighbour
    steps near the top are below the prominence threshold, so this needs the scene-scale prominence."""
    t = np.arange(200, dtype=np.float64)
    worst_plain = 0.0
    for centre in np.arange(80.0, 82.0, 0.1):
        x = (0.3 * np.exp(-0.5 * ((t - centre) / 5.0) ** 2))[:, None].astype(np.float32)
        y = resample(x, 50.0, dst)
        assert y.max() == pytest.approx(float(x.max()), abs=1e-7), centre
        worst_plain = max(worst_plain, float(x.max() - resample(x, 50.0, dst, preserve_extremes=False).max()))
    assert worst_plain > 0.001  # plain interpolation does lose part of the top at some phases
