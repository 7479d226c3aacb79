"""``thunder generate`` with the shipped model (real onnxruntime sessions) on a short clip.

Skipped when no model has been trained/shipped yet (models/model.json missing).
"""
from __future__ import annotations

import numpy as np
import pytest

from tests.test_cli import short_wav  # noqa: F401 (fixture)
from thunder_blender.core import livelink, takes_json
from thunder_cli import cli

try:
    from thunder_blender.runtime.model import ModelError, find_model_dir

    find_model_dir()
    HAVE_MODEL = True
except (ImportError, ModelError):
    HAVE_MODEL = False

pytestmark = pytest.mark.skipif(not HAVE_MODEL, reason="no shipped model (models/model.json)")


def _run(wav, out, seed: int) -> tuple[np.ndarray, float, tuple[int, ...], dict]:
    code = cli.main(["generate", str(wav), "--takes", "3", "--seed", str(seed), "--out", str(out),
                     "--name", "m", "--format", "json,csv", "--fps", "25"])
    assert code == 0
    return takes_json.read(out / "m.json")


def test_real_model_generates_distinct_reproducible_takes(short_wav, tmp_path, capsys):  # noqa: F811
    weights, fps, seeds, doc = _run(short_wav, tmp_path / "a", seed=11)
    n_frames = round(1.6 * fps)
    assert weights.shape == (3, n_frames, 55)
    assert len(set(seeds)) == 3
    assert np.all(weights[:, :, :52] >= 0) and np.all(weights[:, :, :52] <= 1)
    assert np.all(np.abs(weights[:, :, 52:]) < np.pi / 2)
    # Takes differ from each other, but the same seed reproduces them.
    assert np.abs(weights[0] - weights[1]).mean() > 1e-3
    again, *_ = _run(short_wav, tmp_path / "b", seed=11)
    np.testing.assert_allclose(again, weights, atol=1e-6)
    assert doc["model"] and doc["settings"]["providers"]
    perf, times, _ = livelink.read_csv(tmp_path / "a" / "m_take_1.csv", fps=25)
    assert perf.shape == (40, 55) and times[-1] == pytest.approx(39 / 25)
    assert "generating [" in capsys.readouterr().err
