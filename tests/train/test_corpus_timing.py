"""Phone timing from each synthesiser agrees with a pocketsphinx forced alignment of the same audio.

espeak-ng is checked with US-English voices: pocketsphinx (US acoustic model and dictionary) fails to
align many sentences in espeak-ng's British, Scottish and Caribbean accents, so those cannot be checked.
"""
from __future__ import annotations

import numpy as np
import pytest

from thunder_train.corpus.align import Aligner, ipa_to_cmu, match_onsets
from thunder_train.corpus.phonemap import expand
from thunder_train.corpus.synth import Job, run_job
from thunder_train.corpus.voices import Voice

SENTENCES = ("The birch canoe slid on the smooth planks.", "Glue the sheet to the dark blue background.",
             "A pot of tea helps to pass the evening.", "Rice is often served in round bowls.",
             "The box was thrown beside the parked truck.", "Four hours of steady work faced us.")


@pytest.fixture(scope="module")
def aligner():
    return Aligner()


@pytest.mark.parametrize("voice", [
    Voice("espeak", "en-us+f3", "en"), Voice("espeak", "en-us+m7", "en"), Voice("flite", "slt", "en"),
    Voice("flite", "kal16", "en"), Voice("festival", "kal_diphone", "en"),
    Voice("festival", "cmu_us_slt_arctic_hts", "en"),
])
def test_synth_phone_onsets_match_pocketsphinx(aligner, voice):
    diffs, failed, n_ref = [], 0, 0
    for k, sentence in enumerate(SENTENCES):  # one utterance per sentence (with random pauses around it)
        rec = run_job(Job(voice, (sentence,), emotion=1, intensity=0.0, seed=11 + k, corpus_seed=0))
        try:
            ref = expand(aligner.align(rec.audio.astype(np.float32) / 32768.0, rec.text), "cmu")
        except RuntimeError:
            failed += 1
            continue
        d = match_onsets([(c, s) for _, c, s, _ in ref if c], [(c, s) for _, c, s, _ in rec.segments if c])
        diffs += list(d)
        n_ref += sum(1 for _, c, _, _ in ref if c)
    assert failed <= len(SENTENCES) // 2, f"pocketsphinx could not align {failed} of {len(SENTENCES)} sentences"
    assert len(diffs) >= 0.6 * n_ref, f"only {len(diffs)} of {n_ref} phones matched"
    med = float(np.median(np.abs(diffs)))
    assert med < 0.030, f"{voice.id}: median onset error {1000 * med:.1f} ms"


def test_match_onsets_detects_a_shift():
    ref = [(c, 0.1 * k) for k, c in enumerate([1, 4, 7, 1, 5, 9, 3])]
    hyp = [(c, t + 0.05) for c, t in ref]
    hyp.insert(3, (8, 0.33))  # an extra phone in the hypothesis
    d = match_onsets(ref, hyp)
    assert len(d) == len(ref) and np.allclose(d, 0.05)


def test_ipa_to_cmu():
    assert ipa_to_cmu(["h", "ə", "l", "oʊ"]) == ["HH", "AH", "L", "OW"]
    assert ipa_to_cmu(["tʃ", "ɛɹ"]) == ["CH", "EH", "R"]


def test_every_language_maps_its_phones():
    from thunder_train.corpus import phonemap
    from thunder_train.corpus.espeak import ESpeak, SynthParams
    from thunder_train.corpus.voices import ENGLISH_DIALECTS, OTHER_LANGS

    eng = ESpeak()
    phonemap.UNKNOWN.clear()
    n_bil = 0
    for lang in ENGLISH_DIALECTS + OTHER_LANGS:
        _, phones = eng.synthesize("Pablo, my brother, may visit Madrid in summer.", lang, SynthParams())
        segs = phonemap.expand(phones, "ipa")
        n_bil += sum(1 for s in segs if s[1] == 1)
    assert phonemap.UNKNOWN == {}
    assert n_bil >= 5 * len(ENGLISH_DIALECTS + OTHER_LANGS)  # p, b, m are found in every language
