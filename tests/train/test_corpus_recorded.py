"""Recorded training speech from registry packages: no overlap with the development set or held-out material,
catalogues, and the cached, deterministic decode/align/check/render path on a small package built here."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from thunder_train.corpus import real, recorded
from thunder_train.corpus.articulation import lips_sealed
from thunder_train.corpus.build import BuildConfig
from thunder_train.devset import clips as cl
from thunder_train.devset import sources as dev
from thunder_train.devset.xlang import ESPEAK_VOICE
from thunder_train.recipe import Recipe, RecipeError


def overlaps(train: tuple[dev.Source, ...], development: tuple[dev.Source, ...]) -> list[str]:
    """Every way a training source could share recordings with a development-set source or held-out material."""
    out = []
    dev_keys = {s.key for s in development}
    for t in train:
        if dev.is_held_out(t.package):
            out.append(f"{t.package} is held out")
        if t.package in dev.TEXT_ONLY_PACKAGES:
            continue
        if t.key in dev_keys:
            out.append(f"source key {t.key} is a development-set source")
        for d in development:
            if d.package != t.package:
                continue
            if not t.langs or not d.langs:
                out.append(f"{t.package}: all of its languages are used by one side")
            elif set(t.langs) & set(d.langs):
                out.append(f"{t.package}: languages {sorted(set(t.langs) & set(d.langs))} in both")
    return out


def test_training_sources_share_no_recordings_with_the_dev_set():
    assert overlaps(recorded.SOURCES, dev.SOURCES) == []
    # the guard bites: the Dutch Fillets dub, or a development Tux Paint language, in training
    nl = dev.SOURCE_BY_KEY["fillets-nl"]
    assert overlaps((*recorded.SOURCES, dev.Source("fillets-more", "deb", nl.package, "", "", "", ("nl",))),
                    dev.SOURCES)
    tux = recorded.SOURCE_BY_KEY["tuxpaint-more"]
    assert overlaps((dev.Source(tux.key, "deb", tux.package, "", "", "", (*tux.langs, "fr")),), dev.SOURCES)
    assert overlaps((dev.Source("x", "deb", "hedgewars-data", "", "", ""),), dev.SOURCES)


def test_training_speaker_ids_are_not_dev_speaker_ids():
    """Speaker ids: ``<source>/<who>`` with sources no development clip uses; the held-out list names real ids."""
    dev_prefixes = {"fillets-nl", "tuxpaint/fr", "tuxpaint/es", "tuxpaint/el", "tuxpaint/pt_BR-children"}
    train_prefixes = {"fillets-cs", "fotaq"} | {f"tuxpaint/{lang}" for lang in recorded.TUXPAINT_LANGS}
    assert not train_prefixes & dev_prefixes
    assert {f"tuxpaint/{lang}" for lang in dev.SOURCE_BY_KEY["tuxpaint"].langs if lang != "pt_BR"} <= dev_prefixes
    for v in recorded.VAL_SPEAKERS:
        assert v.split("/")[0] in {"fillets-cs", "tuxpaint", "fotaq"}
        assert recorded.split_of(v) == "real_val"
    assert recorded.split_of("fillets-cs/small_fish") == "real_train"
    # every language has an espeak-ng voice (pronunciations and the text check)
    langs = {lang for s in recorded.SOURCES for lang in s.langs}
    assert langs <= set(ESPEAK_VOICE)
    voices = subprocess.run(["espeak-ng", "--voices"], capture_output=True, text=True, check=True).stdout.split()
    assert all(ESPEAK_VOICE[lang] in voices for lang in langs)


def test_recipe_selects_the_real_sources():
    recipe = Recipe.load()
    cfg = recipe.build_config(Path("x"))
    assert cfg.real and cfg.real_sources == tuple(recipe.data["corpus"]["real_sources"])
    assert "asterisk" in cfg.real_sources and set(cfg.real_sources) <= set(real.REAL_SOURCES)
    smoke = Recipe.load(smoke=True).build_config(Path("x"))
    assert not smoke.real and smoke.real_sources == ()
    with pytest.raises(RecipeError, match="unknown"):
        Recipe.load(overrides=['corpus.real_sources=["asterisk", "fillets-nl"]'])
    with pytest.raises(ValueError, match="unknown"):
        BuildConfig(out=Path("x"), real_sources=("tuxpaint-fr",))


# --- catalogues -------------------------------------------------------------------------------------------

LUA = '''dialogId("a-m-one", "font_small", "Hello there.")
dialogStr("Ahoj, jak se máš?")

dialogId("a-v-two", "font_big", "Yes.")
dialogStr("Ano.")

dialogId("a-x-dog", "font_robodog", "Woof.")
dialogStr("Haf haf, já jsem robotický pes.")

dialogId("a-c-col", "font_yellow", "Colour.")
dialogStr("Tohle říká žlutá postava.")

dialogId("a-both", "font_both", "Both.")
dialogStr("Oba spolu.")

dialogId("a-c-pct", "font_cyan", "C%1.")
dialogStr("C%1.")

dialogId("a-m-nosound", "font_small", "No sound.")
dialogStr("Tahle věta nemá nahrávku.")
'''


def _speak(path: Path, text: str, voice: str) -> None:
    wav = path.with_suffix(".wav")
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), text], check=True)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), str(path)], check=True)
    wav.unlink()


def _fillets_package(root: Path) -> tuple[Path, Path]:
    script = root / "fillets-ng-data/usr/share/games/fillets-ng/script/level"
    sound = root / "fillets-ng-data-cs/usr/share/games/fillets-ng/sound/level/cs"
    script.mkdir(parents=True)
    sound.mkdir(parents=True)
    (script / "dialogs_cs.lua").write_text(LUA, encoding="utf-8")
    for sid, text in (("a-m-one", "Ahoj, jak se máš?"), ("a-v-two", "Ano."),
                      ("a-x-dog", "Haf haf, já jsem robotický pes."), ("a-c-col", "Tohle říká žlutá postava."),
                      ("a-both", "Oba spolu."), ("a-c-pct", "Cé jedna.")):
        _speak(sound / f"{sid}.ogg", text, "cs")
    for d in ("fillets-ng-data", "fillets-ng-data-cs"):
        (root / d / ".complete").write_text("ok\n")  # as devset.fetch leaves an unpacked package
    return root / "fillets-ng-data/usr/share/games/fillets-ng/script", sound.parent.parent


def test_fillets_characters_and_clips(tmp_path):
    assert cl.fillets_character("font_small", "x") == "small_fish"
    assert cl.fillets_character("font_parrot", "x") == "parrot"
    assert cl.fillets_character("font_lightgrey", "corridor") == "corridor-lightgrey"
    assert cl.fillets_character("font_both", "x") is None and cl.fillets_character("", "x") is None
    script, sound = _fillets_package(tmp_path)
    cs = cl.fillets_clips(script, sound, "cs", "fillets-cs", fish_only=False, min_words=1)
    assert [c.speaker for c in cs] == ["fillets-cs/small_fish", "fillets-cs/big_fish", "fillets-cs/robodog",
                                       "fillets-cs/level-yellow"]  # no font_both, no %1, no missing sound
    assert cs[1].text == "Ano." and {c.lang for c in cs} == {"cs"} and {c.source for c in cs} == {"fillets-cs"}
    fish = cl.fillets_clips(script, sound, "cs", "fillets-cs")
    assert [c.speaker for c in fish] == ["fillets-cs/small_fish"]  # the dev set's rule: fish, >= 2 words


def test_tuxpaint_english_and_skipped_stamps(tmp_path):
    d = tmp_path / "animals"
    d.mkdir()
    (d / "wombat.txt").write_text("A wombat.\nda.utf8=En vombat.\n", encoding="utf-8")
    (d / "A_outline.txt").write_text("The letter A.\nda.utf8=Bogstavet A.\n", encoding="utf-8")
    for name in ("wombat_desc.ogg", "wombat_desc_da.ogg", "A_outline_desc_da.ogg"):
        (d / name).write_bytes(b"")
    en = cl.tuxpaint_clips(tmp_path, "en", 1, "read", "en", source="tuxpaint-en")
    da = cl.tuxpaint_clips(tmp_path, "da", 1, "read", "da", source="tuxpaint-da")
    assert [(c.text, c.speaker, c.source) for c in en] == [("A wombat.", "tuxpaint/en", "tuxpaint-en")]
    assert [c.text for c in da] == ["En vombat."]


def test_identical_recordings_are_kept_once_and_same_names_cached_apart(tmp_path):
    for theme, data in (("a", b"one"), ("b", b"one"), ("c", b"two")):
        (tmp_path / theme).mkdir()
        (tmp_path / theme / "spider.txt").write_text("A spider.\nda.utf8=En edderkop.\n", encoding="utf-8")
        (tmp_path / theme / "spider_desc_da.ogg").write_bytes(data)
    da = cl.tuxpaint_clips(tmp_path, "da", 1, "read", "da")
    assert len(da) == 3 and len({c.clip_id for c in da}) == 1
    kept = recorded.unique(da)
    assert [c.path.parent.name for c in kept] == ["a", "c"]
    assert len({recorded.cache_key(c, tmp_path) for c in kept}) == 2


# --- decode / align / check / render ----------------------------------------------------------------------

def test_recorded_records_are_cached_deterministic_and_split_by_speaker(tmp_path):
    _fillets_package(tmp_path / "cache" / "src" / "x")
    cache = tmp_path / "cache"
    recs, info = recorded.recorded_records(("fillets-cs",), cache, seed=3, workers=2, log=lambda *_: None)
    rep = info["fillets-cs"]
    assert rep["clips_found"] == 4 and rep["packages"]["fillets-cs"] == "fillets-ng-data-cs"
    assert rep["clips_kept"] == len(recs["real_train"]) + len(recs["real_val"]) >= 3
    assert [r.voice for r in recs["real_val"]] == ["fillets-cs/robodog"]  # a held-out character, whole
    assert "fillets-cs/robodog" not in {r.voice for r in recs["real_train"]}
    for r in recs["real_train"] + recs["real_val"]:
        F = len(r.perf)
        assert len(r.audio) == F * 320 and r.audio.dtype == np.int16
        assert r.lang == "cs" and r.source == "fillets-cs" and r.text
        assert len(set(r.phone_class.tolist())) >= 3
        assert lips_sealed(r.perf)[r.closure].all()
    g = rep["groups"]["small_fish"]
    assert g["found"] == 1 and g["kept"] <= g["aligned"] <= g["text_ok"] <= g["found"]
    # cached: a second build aligns nothing and renders identical records
    cached = cache / "recorded_fillets-cs.npz"
    stamp = cached.stat().st_mtime_ns
    again, _ = recorded.recorded_records(("fillets-cs",), cache, seed=3, workers=1, log=lambda *_: None)
    assert cached.stat().st_mtime_ns == stamp
    # and a fresh alignment (other worker count) gives the same phones and audio
    cached.unlink()
    fresh, _ = recorded.recorded_records(("fillets-cs",), cache, seed=3, workers=1, log=lambda *_: None)
    for split in recs:
        for a, b, c in zip(recs[split], again[split], fresh[split], strict=True):
            for x in (b, c):
                np.testing.assert_array_equal(a.audio, x.audio)
                np.testing.assert_array_equal(a.perf, x.perf)
                assert a.segments == x.segments


def test_corpus_build_writes_recorded_speech_and_its_card(tmp_path):
    """The whole path through ``build``: fetched (here: pre-unpacked) package -> shards -> meta -> data card."""
    from thunder_train.corpus.build import build
    from thunder_train.corpus.dataset import load_split

    _fillets_package(tmp_path / "cache" / "src" / "x")
    cfg = BuildConfig(out=tmp_path / "corpus", hours=0.01, seed=5, workers=2, shard_seconds=30.0, real=True,
                      real_sources=("fillets-cs",), cache=tmp_path / "cache")
    meta = build(cfg, log=lambda *_: None)
    assert meta["real_sources"] == ["fillets-cs"]
    train, val = load_split(cfg.out, "real_train"), load_split(cfg.out, "real_val")
    assert {u.voice for u in val} == {"fillets-cs/robodog"} and train
    assert not {u.voice for u in train} & {u.voice for u in val}
    for u in train + val:
        assert len(u.audio) == len(u.perf) * 320 and u.lang == "cs" and u.source == "fillets-cs"
    rec = meta["recorded"]["fillets-cs"]
    assert sum(g["kept"] for g in rec["groups"].values()) == len(train) + len(val)
    card = (cfg.out / "DATA_CARD.md").read_text()
    assert "#### fillets-cs" in card and "GPL-2" in card and "`fillets-cs/robodog`" in card
    assert meta["splits"]["real_val"]["voices"] == ["fillets-cs/robodog"]
