"""The viseme evaluation (``make viseme-eval``) runs end to end on recorded prompts the model never trained
on: pocketsphinx phones, a real onnxruntime generation, both viseme methods scored."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT
from thunder_train.corpus import real
from thunder_train.evaluation import viseme_eval as ve


def test_expected_visemes_cover_every_cmu_phone_class():
    from thunder_train.corpus.phonemap import CMU_PHONES

    phones = {p for p in CMU_PHONES if p not in ("AX", "AXR", "IX", "EL", "EM", "EN", "DX", "NX", "WH")}
    assert phones <= set(ve.EXPECTED_VISEME)
    assert set(ve.EXPECTED_VISEME.values()) == set(ve.VISEMES)


def test_evaluation_on_two_held_out_english_prompts(tmp_path):
    """Run as ``make viseme-eval`` does, in its own process (pocketsphinx, espeak-ng and an onnxruntime session
    stay out of the test process, which may also hold a headless Blender)."""
    if not (real.SOUNDS / real.SETS["en"]).exists():
        pytest.skip("asterisk-core-sounds-en-g722 is not installed")
    out = tmp_path / "eval.json"
    res = subprocess.run([sys.executable, "-m", "thunder_train.evaluation.viseme_eval", "--per-lang", "2",
                          "--langs", "en", "--cache", str(tmp_path / "cache"), "--out", str(out)],
                         capture_output=True, text=True, timeout=600, cwd=ROOT, env=_clean_env())
    assert res.returncode == 0, res.stderr[-2000:]
    cached = sorted((tmp_path / "cache").glob("en_*.npz"))
    assert cached
    for f in cached:
        z = np.load(f)   # the alignment only: model outputs are computed on every run
        assert set(z.files) == {"phones", "times"} and len(z["phones"]) == len(z["times"]) > 3
        assert real.prompt_split(f"en:{f.stem[3:]}", ve_corpus_seed()) == "real_val"
    report = json.loads(out.read_text())["en"]
    proj, phones, mouth = report["projection"], report["phones"], report["phones_mouth_only"]
    assert phones["intervals"] == proj["intervals"] > 20
    assert phones["expected_top"] > proj["expected_top"] and mouth["expected_top"] > proj["expected_top"]
    assert phones["vrm_sum_pbm_mean"] < proj["vrm_sum_pbm_mean"]
    assert np.isfinite(phones["pp_sealed"])


def _clean_env() -> dict:
    """The environment without what a headless Blender earlier in the session points at its own temp dirs."""
    import os

    return {k: v for k, v in os.environ.items() if k not in ("XDG_CACHE_HOME", "BLENDER_USER_RESOURCES")}


def ve_corpus_seed() -> int:
    from thunder_train.recipe import Recipe

    return Recipe.load().seed_for("corpus")
