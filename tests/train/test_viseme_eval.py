"""The viseme evaluation (``make viseme-eval``) runs end to end on recorded prompts the model never trained
on: pocketsphinx phones, a real onnxruntime generation, both viseme methods scored."""
from __future__ import annotations

import numpy as np
import pytest

from thunder_train.corpus import real
from thunder_train.evaluation import viseme_eval as ve


def test_expected_visemes_cover_every_cmu_phone_class():
    from thunder_train.phones import CMU_TO_CLASS

    phones = {p for p in CMU_TO_CLASS if p not in ("PAU", "SP", "H#", "+NSN+", "+SPN+", "AX", "AXR", "IX",
                                                    "EL", "EN")}
    assert phones <= set(ve.EXPECTED_VISEME)
    assert set(ve.EXPECTED_VISEME.values()) == set(ve.VISEMES)


def test_evaluation_on_two_held_out_english_prompts(tmp_path):
    if not (real.SOUNDS / real.SETS["en"]).exists():
        pytest.skip("asterisk-core-sounds-en-g722 is not installed")
    items = ve.collect(2, 0, tmp_path, ("en",))
    assert len(items) >= 1
    for it in items:
        assert it["perf"].shape[0] == it["logits"].shape[0] and it["logits"].shape[1] == 10
        assert real.prompt_split(f"en:{it['key']}", ve_corpus_seed()) == "real_val"
    proj, phones = ve.score(items, "projection"), ve.score(items, "phones")
    assert phones["intervals"] == proj["intervals"] > 20
    assert phones["expected_top"] > proj["expected_top"]
    assert phones["vrm_sum_pbm_mean"] < proj["vrm_sum_pbm_mean"]
    assert np.isfinite(phones["pp_sealed"])


def ve_corpus_seed() -> int:
    from thunder_train.recipe import Recipe

    return Recipe.load().seed_for("corpus")
