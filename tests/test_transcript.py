"""Transcripts: English pronunciations as phone classes, the forced aligner on synthetic posteriors with known
truth (clean, a word missing from the audio, a word missing from the text, long audio), and generation with a
transcript on the shipped model (real onnxruntime sessions)."""
from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from thunder_blender.core import pronounce as pr
from thunder_blender.core.alignment import AlignConfig, align, build_chain
from thunder_blender.core.phones import CLASS_INDEX, N_PHONES, UNKNOWN

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "thunder_blender" / "assets" / "demo_speech.wav"
DEMO_TEXT = "Watch the lips press shut on every b, p and m, then open wide for a bright hello."
FPS = 50.0


def cls(*names: str) -> tuple[int, ...]:
    return tuple(CLASS_INDEX[n] for n in names)


# -- pronunciations ----------------------------------------------------------------------------------------
def test_dictionary_words_have_their_cmu_classes():
    assert len(pr.lexicon()) > 100_000
    (w,) = pr.pronounce("Hello!")
    assert w.text == "Hello" and w.source == "dictionary"
    assert w.classes == cls("dorsal", "open", "alveolar", "rounded")  # HH AH L OW
    (m,) = pr.pronounce("moon")
    assert m.classes == cls("bilabial", "rounded", "alveolar")


def test_bundled_table_matches_its_builder(tmp_path):
    """The table reads back exactly what the builder wrote, and looks words up by binary search."""
    from thunder_train.lexicon import encode

    table = {"a": "4", "a's": "47", "ab": "41", "abc": "419", "ab-c": "4", "b": "15", "zebra": "75174"}
    path = tmp_path / "lex.txt.gz"
    path.write_bytes(encode(table))
    old = pr.LEXICON
    try:
        pr.LEXICON = path
        pr.lexicon.cache_clear()
        assert dict(pr.lexicon().items()) == table and pr.lexicon()["abc"] == "419" and "abd" not in pr.lexicon()
    finally:
        pr.LEXICON = old
        pr.lexicon.cache_clear()


def test_tokens_numbers_acronyms_and_unknown_words():
    words = pr.pronounce('"Well-known" FBI agents, 21 of them, arrived in 1999 & left; zorblax!')
    texts = [w.text for w in words]
    assert texts == ["Well-known", "FBI", "agents", "21", "of", "them", "arrived", "in", "1999", "&", "left",
                     "zorblax"]
    by = dict(zip(texts, words, strict=True))
    lex = pr.lexicon()
    digits = lambda *ws: tuple(int(c) for w in ws for c in lex[w])  # noqa: E731
    assert by["Well-known"].classes == digits("well", "known")
    assert by["21"].classes == digits("twenty", "one")
    assert by["1999"].classes == digits("nineteen", "ninety", "nine")
    assert by["&"].classes == digits("and")
    assert by["zorblax"].source == "rules" and len(by["zorblax"].classes) >= 5
    assert by["zorblax"].classes[0] == CLASS_INDEX["alveolar"] and CLASS_INDEX["bilabial"] in by["zorblax"].classes
    # an acronym not in the table is spelled letter by letter
    (acr,) = pr.pronounce("QXZ")
    assert acr.classes == digits("q", "x", "z")
    assert pr.expand_number("3.5%") == ["three", "point", "five", "percent"]
    assert pr.expand_number("2nd") == ["second"] and pr.expand_number("$20") == ["twenty", "dollars"]
    assert pr.expand_number("abc") is None


def test_spelling_rules_and_other_scripts():
    assert pr.letter_classes("ship") == cls("postalveolar", "mid", "bilabial")
    assert pr.letter_classes("city")[0] == CLASS_INDEX["alveolar"]   # soft c
    assert pr.letter_classes("phone") == cls("labiodental", "open", "alveolar")  # silent final e
    (g,) = pr.pronounce("Καλημέρα")
    assert g.source == "rules" and g.classes[0] == CLASS_INDEX["dorsal"] and len(g.classes) == 8
    (none,) = pr.pronounce("日本")
    assert none.classes == () and none.source == "none"


def test_other_languages_read_their_own_tables():
    """Each language of LANGUAGES but "other" has a bundled table; words are found with and without accents,
    numbers are left to the audio, unknown words are spelled by rules, unknown codes are refused."""
    for lang in pr.LANGUAGES:
        if lang != "other":
            assert len(pr.language_lexicon(lang)) > 40_000, lang
    (perro,) = pr.pronounce("¡Perro!", "es")   # p e r o
    assert perro.source == "dictionary" and perro.classes == cls("bilabial", "mid", "alveolar", "rounded")
    (ou,) = pr.pronounce("Où", "fr")
    assert ou.source == "dictionary" and ou.classes == cls("rounded")
    (kal,) = pr.pronounce("Καλημέρα", "el")
    assert kal.source == "dictionary" and kal.classes[0] == CLASS_INDEX["dorsal"]
    assert pr.pronounce("της", "el")[0].source == "dictionary"   # final sigma
    num, made_up = pr.pronounce("21 zorblaxo", "es")
    assert num.classes == () and num.source == "none"
    assert made_up.source == "rules" and made_up.classes
    assert pr.pronounce("perro", "other")[0].source == "rules"
    # the same word reads differently by language: Spanish "ojo" has rounded vowels, the English rules do not
    assert pr.pronounce("ojo", "es")[0].classes != pr.pronounce("ojo", "en")[0].classes
    assert pr.language_of("es-CO") == "es" and pr.language_of("pt_BR") == "pt" and pr.language_of("ja") == "other"
    with pytest.raises(ValueError, match="no pronunciations for language 'xx'"):
        pr.pronounce("hola", "xx")


def test_ipa_classes_follow_the_corpus_labels():
    from thunder_train.lexicon import ipa_classes

    assert ipa_classes("k ˈa s a") == "9474"
    assert ipa_classes("n ˈo tʃ e") == "7385"           # the affricate is one postalveolar segment
    assert ipa_classes("(en) w ˈɜː l d (es)") == "3577"  # language-switch marks dropped
    assert ipa_classes("h ˈaʊ s") == "9437"            # diphthong: open, then rounded
    assert ipa_classes("l a β ˈa ɾ") == "74147"        # Spanish b/v between vowels: lips together


def test_bundled_tables_match_espeak_ng(tmp_path):
    """Words drawn from each bundled table read the same when espeak-ng reads them again now."""
    import shutil

    from thunder_train.lexicon import ESPEAK_VOICES, espeak_table

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    rng = np.random.default_rng(0)
    for lang, voice in ESPEAK_VOICES.items():
        items = list(pr.language_lexicon(lang).items())
        pick = [items[i] for i in rng.choice(len(items), 25, replace=False)]
        again = espeak_table([w for w, _ in pick], voice)
        assert again == dict(pick), lang


# -- the aligner on synthetic posteriors -------------------------------------------------------------------
def synthetic(words, rng, confidence=0.55, pause_p=0.35):
    """Log posteriors (T, 10) for ``words`` spoken in order with random phone lengths and pauses, and each
    word's true [start, end) frames. The true class gets ``confidence`` plus its share of Dirichlet noise."""
    seq, truth = [], []
    seq += [0] * int(rng.integers(5, 15))
    for w in words:
        start = len(seq)
        for c in w.classes:
            seq += [c] * int(rng.integers(2, 7))
        truth.append((start, len(seq)))
        if rng.random() < pause_p:
            seq += [0] * int(rng.integers(3, 12))
    seq += [0] * int(rng.integers(5, 15))
    seq = np.array(seq)
    p = rng.dirichlet(np.full(N_PHONES, 0.5), size=len(seq)) * (1 - confidence)
    p[np.arange(len(seq)), seq] += confidence
    return np.log(p), truth, seq


TEXT = "the quick brown fox jumps over the lazy dog while seven bright moons hang above the quiet valley"


def _errors(al, words, truth):
    out = []
    for w, (a, b) in zip(al.words, truth, strict=True):
        if w.start is not None:
            out += [abs(w.start * FPS - a), abs(w.end * FPS - b)]
    return np.array(out)


def test_alignment_recovers_known_word_boundaries():
    words = pr.pronounce(TEXT)
    errs, frames_ok = [], []
    for seed in range(5):
        lp, truth, seq = synthetic(words, np.random.default_rng(seed))
        al = align(lp, words)
        assert all(w.start is not None and w.used for w in al.words) and not al.notes
        errs.append(_errors(al, words, truth))
        frames_ok.append(np.mean(al.frames == seq))
    errs = np.concatenate(errs)
    assert np.median(errs) == 0.0 and np.percentile(errs, 90) <= 1.0  # frames (20 ms)
    assert min(frames_ok) > 0.9


def test_word_missing_from_audio_is_left_out_and_noted():
    words = pr.pronounce(TEXT)
    lp, truth, _ = synthetic(words, np.random.default_rng(1))
    text = words[:4] + pr.pronounce("purple") + words[4:]   # the transcript says a word the audio does not
    al = align(lp, text)
    purple = al.words[4]
    assert purple.start is None and not purple.used
    assert any("not found" in n and "'purple'" in n for n in al.notes)
    others = [w for k, w in enumerate(al.words) if k != 4]
    errs = np.array([abs(w.start * FPS - a) for w, (a, _) in zip(others, truth, strict=True)])
    assert np.median(errs) == 0.0 and errs.max() <= 3


def test_word_missing_from_transcript_becomes_unmatched_speech():
    words = pr.pronounce(TEXT)
    lp, truth, _ = synthetic(words, np.random.default_rng(2))
    k = 6
    al = align(lp, words[:k] + words[k + 1:])  # the audio says a word the transcript lacks
    a, b = truth[k]
    assert al.unmatched, al.notes
    assert any(s * FPS < b + 2 and e * FPS > a - 2 for s, e in al.unmatched)
    assert any("not in the transcript" in n for n in al.notes)
    assert np.all(al.frames[a + 2: b - 2] == UNKNOWN)  # audio only there
    assert all(w.start is not None for w in al.words)


def test_low_confidence_word_is_left_to_the_audio():
    words = pr.pronounce("bob made maps")
    lp, truth, _ = synthetic(words, np.random.default_rng(3), pause_p=0.0)
    a, b = truth[1]
    lp[a:b] = np.log(np.full(N_PHONES, 1.0 / N_PHONES))  # "made" sounds like nothing in particular
    al = align(lp, words, AlignConfig(min_confidence=0.5))
    assert not al.words[1].used and al.words[2].used
    assert np.all(al.frames[a:b] == UNKNOWN)  # the stretch without information is left to the audio
    assert any("uncertain alignment" in n and "'made'" in n and "confidence" in n for n in al.notes)
    assert np.all(al.frames[truth[2][0] + 2: truth[2][1]] >= 0)


def test_ten_minutes_align_in_a_bounded_band():
    """A 10+ minute clip: the beam keeps the band narrow (back-pointer memory grows with frames x band)."""
    words = pr.pronounce(" ".join([TEXT] * 200))
    lp, truth, _ = synthetic(words, np.random.default_rng(4))
    assert len(lp) > 10 * 60 * FPS
    al = align(lp, words)
    errs = _errors(al, words, truth)
    assert np.median(errs) == 0.0 and np.percentile(errs, 99) <= 3
    assert al.band_max <= AlignConfig().max_band and al.pointer_bytes < 64e6


def test_chain_layout():
    ch = build_chain([cls("bilabial", "rounded"), cls("alveolar")], AlignConfig(min_frames=2))
    # gap, b b, r r, gap, t t, gap
    assert ch.cls.tolist() == [10, 1, 1, 3, 3, 10, 7, 7, 10]
    assert ch.jump[5] == 5 and ch.jump[6] == 2 and ch.jump[8] == 3   # skip a word / straight to the next word
    assert ch.self_cost[1] < -1e20 and ch.self_cost[2] == 0.0        # minimum duration, then a self-loop


# -- generation with a transcript (shipped model, real onnxruntime) -----------------------------------------
def _demo_pcm():
    with wave.open(str(DEMO)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), np.int16), w.getframerate()


@pytest.fixture(scope="module")
def shipped():
    from thunder_blender.runtime.model import load_model

    return load_model(providers=["CPUExecutionProvider"])


def test_generate_with_transcript_on_the_shipped_model(shipped):
    from thunder_blender.runtime.generate import GenerateRequest, generate

    pcm, rate = _demo_pcm()
    plain = generate(GenerateRequest(pcm=pcm, sample_rate=rate, n_takes=2, seed=3), shipped)
    told = generate(GenerateRequest(pcm=pcm, sample_rate=rate, n_takes=2, seed=3, transcript=DEMO_TEXT), shipped)
    assert plain.alignment is None and "alignment" not in plain.settings
    al = told.alignment
    assert [w.text for w in al.words][:3] == ["Watch", "the", "lips"]
    assert sum(w.used for w in al.words) >= len(al.words) - 2 and al.coverage > 0.8
    starts = [w.start for w in al.words if w.start is not None]
    assert starts == sorted(starts) and starts[-1] < told.duration
    assert told.settings["alignment"]["n_words"] == len(al.words)
    assert shipped.phone_input and told.settings["alignment"]["phone_input"] is True
    assert not any("without phone input" in w for w in told.settings.get("warnings", []))
    # the denoiser takes the aligned phones, so the takes change; transcript sealing (the default) then seals
    # the cores of the aligned /p b m/ and changes nothing else
    unsealed = generate(GenerateRequest(pcm=pcm, sample_rate=rate, n_takes=2, seed=3, transcript=DEMO_TEXT,
                                        transcript_seal=False), shipped)
    assert np.abs(plain.weights - unsealed.weights).max() > 0.05
    from thunder_blender.core.closures import aligned_closures, sealed_frames
    from thunder_blender.runtime.generate import TRANSCRIPT_SEAL

    cores = aligned_closures(al.frames)
    changed = np.any(unsealed.weights != told.weights, axis=(0, 2))
    assert TRANSCRIPT_SEAL and cores.sum() >= 3
    assert not np.any(changed & ~cores)
    assert all(sealed_frames(w)[cores].all() for w in told.weights)


def test_bad_transcripts_are_refused_with_one_line(shipped):
    from thunder_blender.runtime.generate import GenerateRequest, InputError, generate

    pcm, rate = _demo_pcm()
    with pytest.raises(InputError, match="transcript is empty"):
        GenerateRequest(pcm=pcm, sample_rate=rate, transcript="  \n")
    with pytest.raises(InputError, match="no words that can be pronounced"):
        generate(GenerateRequest(pcm=pcm, sample_rate=rate, n_takes=1, transcript="日本語"), shipped)
    with pytest.raises(InputError, match="not the text of this clip"):
        generate(GenerateRequest(pcm=pcm, sample_rate=rate, n_takes=1, transcript="word " * 200), shipped)
    with pytest.raises(InputError, match="unknown transcript language 'klingon'"):
        GenerateRequest(pcm=pcm, sample_rate=rate, transcript="hola", transcript_language="klingon")
