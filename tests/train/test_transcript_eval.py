"""The development-set transcript evaluation: word matching, the summary and its table (kept runnable)."""
from __future__ import annotations

import pytest

from thunder_train.evaluation.transcript_eval import boundary_errors, summarise, to_markdown


def test_boundary_errors_match_words_by_spelling_in_order():
    ref = [("hello", 0.10, 0.40), ("big", 0.50, 0.70), ("world", 0.80, 1.20)]
    hyp = [{"text": "Hello,", "start": 0.12, "end": 0.40}, {"text": "small", "start": 0.5, "end": 0.7},
           {"text": "world!", "start": 0.84, "end": 1.10}, {"text": "extra", "start": None, "end": None}]
    errs = boundary_errors(ref, hyp)
    assert errs == pytest.approx([0.02, 0.0, 0.04, 0.10])


def _row(lang, errors, conf, removed_flag, added_conf):
    return {"voice": "v", "lang": lang, "style": "read", "seconds": 2.0, "text": "a b c", "align_s": 0.01,
            "errors": errors, "coverage": 1.0, "clean_conf": conf, "removed_errors": errors,
            "removed_said": (1.0, 1.3), "removed_unmatched": [[1.05, 1.25]] if removed_flag else [],
            "removed_words": [], "added_errors": errors, "added_conf": added_conf, "produced": True}


def test_summary_and_table():
    rows = [_row("en", [0.01, 0.03], [0.5, 0.1], True, -1.0), _row("fr", [0.05, 0.07], [0.6, 0.7], False, 0.5)]
    res = summarise(rows, threshold=0.2)
    assert res["overall"]["clean"]["n"] == 2 and res["overall"]["clean"]["median_ms"] == pytest.approx(40.0)
    assert res["by_language"]["en"]["clean"]["within_40ms"] == 1.0
    assert res["overall"]["word_removed"]["noted"] == 0.5 and res["overall"]["word_added"]["noted"] == 0.5
    assert res["threshold_sweep"]["en"][0]["clean_words_left_to_audio"] == 0.0  # 0.1 is not below 0.1
    md = to_markdown(res)
    assert "| lang en |" in md and "Alignment cost" in md
