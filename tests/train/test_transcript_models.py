"""The transcript path against real speech timing and a real phone-input model.

* espeak-ng speech (timing of every phone reported by the synthesiser): the runtime's alignment of the sentence's
  text over the shipped model's phone posteriors puts phone-class onsets within 40 ms (median) of espeak's.
* A CI-size model with phone input (``thunder-train all --smoke``, real onnxruntime sessions): the aligned phones
  reach the denoiser (takes change with the transcript), without a transcript nothing is fed, and the unmatched
  stretches of a wrong transcript are audio-only.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SENTENCES = ("Bob packed a small brown bag and walked up the path to the old mill.",
             "Who knew you would move through the room to the blue moon, so go slow, old crow.",
             "Maybe the people by the pool will bring more lemonade.")


def _onsets(classes_and_starts):
    out = []
    for c, s in classes_and_starts:
        if not out or out[-1][0] != c:
            out.append((c, s))
    return out


def test_alignment_matches_espeak_phone_timing():
    from thunder_blender.core.phones import CLASS_INDEX
    from thunder_blender.runtime.generate import GenerateRequest, generate
    from thunder_blender.runtime.model import load_model
    from thunder_train.corpus.align import match_onsets
    from thunder_train.corpus.espeak import ESpeak, SynthParams
    from thunder_train.corpus.phonemap import expand

    model = load_model(providers=["CPUExecutionProvider"])
    engine = ESpeak()
    diffs = []
    for text in SENTENCES:
        for voice in ("en-us", "en-us+f3"):
            audio, phones = engine.synthesize(text, voice, SynthParams(rate=150))
            ref = _onsets([(c, s) for _, c, s, _ in expand(phones, "ipa")])
            takes = generate(GenerateRequest(pcm=audio, sample_rate=22050, n_takes=1, transcript=text), model)
            hyp = _onsets([(CLASS_INDEX[p], s) for w in takes.alignment.words for p, s, _ in w.phones])
            d = np.abs(match_onsets(ref, hyp))
            assert len(d) >= 0.6 * len(ref)  # most phones matched
            diffs.append(d)
    d = np.concatenate(diffs)
    print(f"espeak onsets: median {1000 * np.median(d):.1f} ms, p90 {1000 * np.percentile(d, 90):.1f} ms, n={len(d)}")
    assert np.median(d) <= 0.040


@pytest.fixture(scope="module")
def phone_model(smoke_run):
    """The smoke-size exported model (conftest ``smoke_run``), which has phone input."""
    from thunder_blender.runtime.model import load_model

    out, res = smoke_run
    assert res is None or res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    return load_model(out, providers=["CPUExecutionProvider"])


def test_phone_input_model_takes_the_aligned_phones(phone_model):
    import wave

    from thunder_blender.runtime.generate import GenerateRequest, generate

    assert phone_model.phone_input
    with wave.open(str(ROOT / "thunder_blender" / "assets" / "demo_speech.wav")) as w:
        pcm, rate = np.frombuffer(w.readframes(w.getnframes()), np.int16), w.getframerate()
    text = "Watch the lips press shut on every b, p and m, then open wide for a bright hello."
    fed: list = []
    run = phone_model.run_denoiser

    def spy(*args, **kw):
        fed.append(args[5] if len(args) > 5 else kw.get("phones"))
        return run(*args, **kw)

    phone_model.run_denoiser = spy
    try:
        plain = generate(GenerateRequest(pcm=pcm, sample_rate=rate, n_takes=2, seed=1), phone_model)
        assert all(p is None for p in fed)  # no transcript: nothing fed (the model sees zeros)
        fed.clear()
        told = generate(GenerateRequest(pcm=pcm, sample_rate=rate, n_takes=2, seed=1, transcript=text), phone_model)
    finally:
        phone_model.run_denoiser = run
    assert fed and all(p is not None and p.shape[-1] == 11 for p in fed)
    al = told.alignment
    known = fed[0][0, :, -1]
    np.testing.assert_array_equal(known, (al.frames >= 0).astype(np.float32)[: known.shape[0]])
    assert not np.array_equal(plain.weights, told.weights)  # the phones change the takes
    assert not any("without phone input" in w for w in told.settings.get("warnings", []))
    assert told.settings["alignment"]["phone_input"] is True
    # the aligned /p b m/ cores are sealed with phone input too (transcript_seal, the runtime default)
    from thunder_blender.core.closures import aligned_closures, sealed_frames

    cores = aligned_closures(al.frames)
    assert cores.sum() >= 3 and told.settings["alignment"]["sealed_frames"] == int(cores.sum())
    assert all(sealed_frames(w)[cores].all() for w in told.weights)
    # a transcript with a word the audio lacks: still takes, the stretch noted
    wrong = generate(GenerateRequest(pcm=pcm, sample_rate=rate, n_takes=1, seed=1,
                                     transcript=text.replace("open wide", "open the purple door wide")), phone_model)
    assert wrong.weights.shape[1] == told.weights.shape[1]
    assert any("transcript:" in w for w in wrong.settings["warnings"])
