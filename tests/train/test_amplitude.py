"""Articulator peak-amplitude ratio: extremum per phone, generated against target."""
from __future__ import annotations

import numpy as np
import pytest

from thunder_blender.core.channels import INDEX
from thunder_train.evaluation.amplitude import segment_peaks, summary
from thunder_train.phones import CLASS_INDEX as C

SEGS = [("sil", C["sil"], 0.0, 0.2), ("alveolar", C["alveolar"], 0.2, 0.26), ("u", C["rounded"], 0.26, 0.40),
        ("bilabial", C["bilabial"], 0.40, 0.48), ("ɑ", C["open"], 0.48, 0.62), ("sil", C["sil"], 0.62, 0.9)]


def _perf(pucker: float, jaw: float, seal: bool) -> np.ndarray:
    p = np.zeros((45, 55), np.float32)
    p[13:20, INDEX["mouthPucker"]] = np.linspace(0, pucker, 7)     # peak inside /u/ (frames 13..19)
    p[:, INDEX["jawOpen"]] = 0.2
    p[24:31, INDEX["jawOpen"]] = jaw                                  # /ɑ/
    if seal:
        p[20:24, INDEX["mouthClose"]] = 0.2                           # aperture 0 on /b/
    return p


def test_ratios_measure_peak_amplitude_per_articulator():
    tgt = _perf(0.6, 0.6, True)
    gen = _perf(0.3, 0.6, False)                                      # half the pucker, no seal
    peaks = segment_peaks(gen, tgt, SEGS)
    assert peaks["pucker"] == [pytest.approx((0.3, 0.6))]
    s = summary(peaks)
    assert s["pucker"]["ratio_of_sums"] == pytest.approx(0.5) and s["pucker"]["median_ratio"] == pytest.approx(0.5)
    assert s["jaw"]["ratio_of_sums"] == pytest.approx(1.0)
    # closure depth: the target dips from 0.6 (context) to 0 on /b/; the unsealed take dips only to 0.2
    g, t = peaks["closure"][0]
    assert t == pytest.approx(0.6) and g == pytest.approx(0.4)
    assert "spread" not in s                                          # no /i ɪ e/ in the phones
    assert summary(segment_peaks(tgt, tgt, SEGS))["pucker"]["ratio_of_sums"] == pytest.approx(1.0)
