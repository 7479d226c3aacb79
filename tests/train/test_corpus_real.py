"""Real speech: Asterisk prompts decode, align (pocketsphinx / DTW) and split by prompt."""
from __future__ import annotations

import numpy as np
import pytest

from thunder_train.corpus import real
from thunder_train.corpus.align import Aligner, match_onsets
from thunder_train.corpus.articulation import ArticulationStyle, lips_sealed
from thunder_train.corpus.dtw_align import dtw_align
from thunder_train.corpus.expression import ExpressionStyle
from thunder_train.corpus.phonemap import expand
from thunder_train.corpus.render import render

PROMPTS = ("agent-pass", "conf-kicked", "vm-msgsaved", "tt-weasels")


@pytest.fixture(scope="module")
def english():
    if not (real.SOUNDS / real.SETS["en"]).exists():
        pytest.skip("asterisk-core-sounds-en-g722 is not installed")
    tr = real.transcripts("en")
    return {n: (real.decode(real.SOUNDS / real.SETS["en"] / f"{n}.g722"), tr[n]) for n in PROMPTS}


def test_transcripts_and_prompt_split():
    for lang in ("en", "es", "fr"):
        tr = real.transcripts(lang)
        assert len(tr) > 300
        assert not any("[" in t for t in tr.values())
    names = sorted(real.transcripts("en"))
    split = {n: real.prompt_split(n, 0) for n in names}
    assert split == {n: real.prompt_split(n, 0) for n in names}  # deterministic
    share = np.mean([s == "real_val" for s in split.values()])
    assert 0.08 < share < 0.25
    assert {real.prompt_split(n, 1) for n in names} == {"real_train", "real_val"}


def test_english_alignment_and_closures(english):
    al = Aligner()
    for audio, text in english.values():
        assert audio.dtype == np.float32 and 0.5 < len(audio) / 16000 < 30
        phones = al.align(audio, text)
        dur = len(audio) / 16000
        assert phones[0][1] >= 0 and phones[-1][2] <= dur + 0.02
        segs = expand(phones, "cmu")
        n = int(np.ceil(dur * 50))
        r = render(np.pad(audio, (0, n * 320 - len(audio))), 16000, segs, 50.0, 1, 0.0, ArticulationStyle(),
                   ExpressionStyle(), np.random.default_rng(0))
        n_bil = sum(1 for s in segs if s[1] == 1)
        assert n_bil >= 1 and r.closure.sum() >= n_bil
        assert lips_sealed(r.perf)[r.closure].all()


def test_dtw_alignment_agrees_with_pocketsphinx_on_english(english):
    al = Aligner()
    diffs = []
    for audio, text in english.values():
        ref = expand(al.align(audio, text), "cmu")
        hyp = expand(dtw_align(audio, text, real.ESPEAK_VOICE["en"]), "ipa")
        diffs += list(match_onsets([(c, s) for _, c, s, _ in ref if c], [(c, s) for _, c, s, _ in hyp if c]))
    assert len(diffs) > 40
    assert np.median(np.abs(diffs)) < 0.040, f"median {1000 * np.median(np.abs(diffs)):.0f} ms"
