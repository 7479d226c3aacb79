"""Flight of the Amazon Queen: archive table, MP3 speech decoding and the pairing of speech files with text.

The archive tests run on the real Debian package (``thunder_train.corpus.fotaq.fetch_archive`` unpacks it under
``data/cache/src``; ``$THUNDER_FOTAQ`` or the installed package also work) and skip without it.
"""
from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from thunder_train.corpus import fotaq as fq

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def archive() -> fq.Archive:
    path = fq.find_archive(ROOT / "data/cache")
    if path is None:
        pytest.skip("flight-of-the-amazon-queen is not fetched (fotaq.fetch_archive) or installed")
    return fq.Archive(path)


@pytest.fixture(scope="module")
def lines(archive) -> list[fq.Line]:
    return fq.catalogue(archive.path)


def test_segments_follow_the_speech_commands():
    assert fq.segments("Hello.") == [(0, "Hello.")]
    # every "*" command ends the segment before it and counts; a grab ("*GD") leaves its segment unplayed
    assert fq.segments("Hi.*03There.*GDx*FL") == [(0, "Hi."), (2, "x")]
    assert fq.segments("*XY00(237,112)Go") == [(0, ""), (1, "Go")]
    assert fq.voice_name(" 6  b1P", 0) == "0600B1P1.SB"
    assert fq.voice_name("C2A__03", 10) == "C2A__03B.SB"


def test_characters_merge_costumes_not_different_people():
    assert fq.character("X3_RITA") == fq.character("RITA-H") == "RITA"
    assert fq.character("PRINCESS1") == fq.character("AZURA-E") == "AZURA"
    assert fq.character("APE1") != fq.character("APE")  # the dinosaurs are not the gorilla


def test_a_file_that_is_not_the_archive_is_refused(tmp_path):
    bad = tmp_path / "queen.1c"
    bad.write_bytes(b"RIFF" + bytes(40))
    with pytest.raises(fq.FormatError, match="QTBL"):
        fq.read_table(bad)


def test_table_covers_the_file_without_overlaps(archive):
    size = archive.path.stat().st_size
    with open(archive.path, "rb") as f:
        head = f.read(15)
    assert head[:4] == b"QTBL" and int.from_bytes(head[13:15], "big") == len(archive.entries)
    spans = sorted((e.offset, e.offset + e.size) for e in archive.entries.values())
    assert spans[0][0] >= 15 + 21 * len(archive.entries) and spans[-1][1] <= size
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))
    speech = archive.speech_names()
    assert len(speech) > len(archive.entries) / 2
    for name in speech[:: max(1, len(speech) // 25)]:
        assert archive.read(name)[:2] == b"\xff\xe3", name  # MPEG-2.5 layer III frame sync


def test_decoded_clip_is_16k_mono_speech(archive, lines):
    import soundfile as sf

    ln = max(lines[:200], key=lambda x: len(x.text))
    raw, rate = sf.read(io.BytesIO(archive.read(ln.entry)), dtype="float32")
    x = archive.decode(ln.entry)
    assert x.dtype == np.float32 and x.ndim == 1 and raw.ndim == 1
    assert abs(len(x) - len(raw) * fq.SR / rate) <= 2
    assert np.abs(x).max() <= 1.0 and np.sqrt(np.mean(x ** 2)) > 0.01


def test_nearly_every_speech_file_is_paired(archive, lines):
    names = [ln.entry for ln in lines]
    assert len(names) == len(set(names)) and set(names) <= set(archive.speech_names())
    assert all(ln.speaker and re.search("[A-Za-z]", ln.text) for ln in lines)
    # sound effects are named "<room>SSSS" and are not speech
    voice = [n for n in archive.speech_names() if "SSS" not in n]
    everything = fq.catalogue(archive.path, fq.FotaqConfig(keep_unknown_speaker=True))
    assert len(everything) >= 0.97 * len(voice)
    assert len(lines) >= 0.9 * len(everything)
    assert len({ln.speaker for ln in lines}) >= 20 and len({ln.artist for ln in lines} - {""}) >= 10


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_clip_lengths_follow_their_texts(archive, lines):
    """Recording length against espeak-ng's reading of the paired text, on a seeded sample of 3+ word lines:
    the log lengths correlate and most ratios sit in the development set's band around the median. The same
    clips against their neighbours' texts (an off-by-one pairing) must fail the correlation."""
    from thunder_train.devset.build import DevsetConfig
    from thunder_train.devset.xlang import espeak_seconds, trimmed_seconds, words

    pool = [ln for ln in lines if len(words(ln.text)) >= 3]
    pick = np.random.default_rng(7).choice(len(pool), 40, replace=False)
    sample = [pool[i] for i in sorted(pick)]
    rec = np.array([trimmed_seconds(archive.decode(ln.entry), fq.SR) for ln in sample])
    tts = np.array([espeak_seconds(ln.text, "en") for ln in sample])
    ratio = rec / tts
    cfg = DevsetConfig()
    inside = np.mean((ratio >= cfg.ratio_lo * np.median(ratio)) & (ratio <= cfg.ratio_hi * np.median(ratio)))
    assert inside >= 0.85
    assert np.corrcoef(np.log(rec), np.log(tts))[0, 1] > 0.6
    assert np.corrcoef(np.log(rec), np.log(np.roll(tts, 1)))[0, 1] < 0.4


def test_lines_named_by_each_rule(lines):
    """One line per rule, pinned: a dialogue opening (Joe), a dialogue reply, a cutaway person and a remark."""
    by = {ln.entry: ln for ln in lines}
    assert (by["06SSSSJ1.SB"].text, by["06SSSSJ1.SB"].speaker) == ("Excuse me Bob.", "JOE")
    assert by["570001P1.SB"].text == "Howdy Joe, I'm Mary-Lou Cook." and by["570001P1.SB"].speaker == "MARY-LOU"
    assert by["C2A__181.SB"].speaker == "SPARKY" and by["C2A__181.SB"].artist == "Tom Hill"
    assert by["JOE00011.SB"].text == "It doesn't seem to open"  # Joe response 1
    assert by["JOE00411.SB"].text == "I don't see anything special"  # object description 1 (40 + 1)


def test_recorded_source_gives_clips_by_credited_artist(archive):
    """``real_sources = ["fotaq"]``: every clip a copied-out MP3 that ffmpeg decodes like the archive reader,
    style "acted", one speaker id per credited artist, the held-out artists present (they go to real_val)."""
    from thunder_train.corpus import recorded
    from thunder_train.devset.build import decode

    pkg = archive.path.parents[len(fq.ARCHIVE_PATH.split("/")) - 1]   # the unpacked package (devset.fetch)
    clips = recorded.catalogue("fotaq", {"fotaq": pkg})
    assert len(clips) > 5000 and all(c.style == "acted" and c.lang == "en" for c in clips)
    speakers = {c.speaker for c in clips}
    assert {s for s in recorded.VAL_SPEAKERS if s.startswith("fotaq/")} <= speakers
    assert all(s.startswith("fotaq/") and "char-" not in s for s in speakers) and len(speakers) >= 10
    for c in clips[:: len(clips) // 5][:5]:
        a = decode(c)
        b = archive.decode(c.path.stem + ".SB")
        assert abs(len(a) - len(b)) <= 0.03 * fq.SR and np.abs(a).max() > 0.01
    assert recorded.split_of("fotaq/Jessica_Martin") == "real_val" and recorded.split_of("fotaq/Tom_Hill") == "real_train"
