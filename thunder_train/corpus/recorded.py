"""Recorded speech from registry packages for ``real_train`` / ``real_val``: more voices than the Asterisk prompts.

Sources (docs/REAL_SPEECH_SOURCES.md §1 A and C, §5), none of whose speakers the development set uses:
- ``fillets-cs``: the original Czech dub of Fish Fillets NG (acted dialogue; the small fish, the big fish and
  about 25 more characters), audio from ``fillets-ng-data-cs``, text from ``dialogs_cs.lua`` in ``fillets-ng-data``.
- ``tuxpaint``: Tux Paint's spoken stamp descriptions (read, mostly short) in the languages the development set
  leaves out (``TUXPAINT_LANGS``), one speaker id per language.
- ``fotaq``: Flight of the Amazon Queen's acted English dialogue (``corpus.fotaq``: each voice file paired with
  its subtitle segment), one speaker id per credited voice artist; lines whose artist the credits do not give
  are left out, so a held-out artist cannot be heard in training under another name. The voice files are
  copied out of the game archive as MP3 into ``<cache>/src/fotaq-clips``.
- ``bass``: Beneath a Steel Sky's acted English dialogue (``corpus.bass``; the subtitle text's decoding tree is
  read from the ``scummvm`` package, which is fetched too and not redistributed). The package credits no voice
  artists, so the source is training-only (no held-out speaker); speaker ids are the characters the game
  scripts name, ``bass/unnamed`` for the rest. Clips are written as 16 kHz WAV into ``<cache>/src/bass-clips``.

Per source: the packages are fetched with ``apt-get download`` into ``<cache>/src`` (``devset.fetch``); the clips
are catalogued (``devset.clips``); every clip is decoded, measured and aligned on a process pool exactly as the
development set's clips are (``devset.build.process``: espeak-ng pronunciations mapped to CMU phones, pocketsphinx
en-us forced alignment) and the results are cached in ``<cache>/recorded_<source>.npz``; the development set's
checks and thresholds (``devset.build.select`` with ``DevsetConfig``'s defaults) drop clips whose transcript
length disagrees with the recording, whose alignment fails, or whose alignment is squeezed; the performances
are rendered from the alignments (``devset.build.to_records``, neutral expression).

Split by speaker: the speakers in ``VAL_SPEAKERS`` go to ``real_val`` whole, every other one to ``real_train``,
so ``real_val`` measures voices that training never heard.
"""
from __future__ import annotations

import hashlib
import time
from collections import Counter
from pathlib import Path

import numpy as np

from thunder_train.corpus import bass, fotaq
from thunder_train.devset.sources import Source

SR = 16000
SAVE_EVERY = 320  # clips aligned between cache saves
TUXPAINT_LANGS: tuple[str, ...] = ("ca", "ro", "ru", "bg", "be", "da", "nl", "en", "lt")

SOURCES: tuple[Source, ...] = (
    Source("fillets-cs", "deb", "fillets-ng-data-cs", "",
           "GPL-2 (debian/copyright: free software under the GNU General Public License version 2; upstream "
           "Ivo & Pavel Danihelka, ALTAR interactive)",
           "original Czech dub (credits.png 'Voices & Animal sounds'): Vít Musil (big fish), Gabriela Pyšná "
           "(small fish), Jaroslav Tuček; also Vláďa, Tomáš, Martin, Rumun, Marcela, David. Speaker ids are "
           "characters (the dialogue scripts' fonts; colour fonts are one character per level): an actor may "
           "voice several", ("cs",)),
    Source("fillets-text", "deb", "fillets-ng-data", "", "GPL-2", "dialogue scripts (dialogs_cs.lua) only"),
    Source("tuxpaint-more", "deb", "tuxpaint-stamps-default", "",
           "GPL-2 (debian/copyright: 2002-2022 Bill Kendrick and contributors)",
           "stamp descriptions: ca Pere Pujal Carabantes, bg Krasimir Petkov, be Kseniya Buraya, da Joe Dalton "
           "(changelog credits); ro, ru, nl, lt uncredited (one voice each by F0); en letters and numbers by "
           "John Arundel plus Schoolsplay clips (more than one voice under one id)", TUXPAINT_LANGS),
    Source("fotaq", "deb", "flight-of-the-amazon-queen", "", fotaq.LICENCE,
           "voice artists credited in the game (CREDIT2.CRD): " + ", ".join(sorted(set(fotaq.VOICE_ARTIST.values()))),
           ("en",)),
    Source("bass", "deb", bass.PACKAGE, "", bass.LICENCE, "Revolution Software's cast (not credited in the package)",
           ("en",)),
    Source("scummvm", "deb", bass.ENGINE_PACKAGE, "", "GPL-2+ (only read for Beneath a Steel Sky's text tree; "
           "not redistributed)", "engine binary"),
)
SOURCE_BY_KEY: dict[str, Source] = {s.key: s for s in SOURCES}
# selectable recorded sources (BuildConfig.real_sources) -> the packages each one needs
NEEDS: dict[str, tuple[str, ...]] = {"fillets-cs": ("fillets-cs", "fillets-text"), "tuxpaint": ("tuxpaint-more",),
                                     "fotaq": ("fotaq",), "bass": ("bass", "scummvm")}

# Whole speakers held out of real_train (real_val only): two Tux Paint languages (da: Joe Dalton; nl: one voice)
# and four minor Fillets characters (a processed robot voice, the snail, the crab, one viking). The Fillets
# minor roles share a handful of credited actors, so those are new character voices, not surely new people.
VAL_SPEAKERS: tuple[str, ...] = (
    "tuxpaint/da", "tuxpaint/nl",
    "fillets-cs/robodog", "fillets-cs/snail", "fillets-cs/crab", "fillets-cs/viking3",
    "fotaq/Jessica_Martin", "fotaq/Enn_Reitel",   # two Amazon Queen voice artists (Naomi, the secretary, the
)                                               # zombie; Anderson, Henry), every line of theirs


# At most this many clips per speaker id are aligned and used (a seeded subset, ``devset.clips.cap``): Tux Paint's
# ~750 one-line descriptions per language add voices, not variety, and cost about 2 s of alignment each.
# Amazon Queen: Joe's 2789 lines and Tom Hill's 694 would outweigh every other voice.
MAX_CLIPS_PER_SPEAKER: dict[str, int] = {"tuxpaint": 150, "fotaq": 500, "bass": 500}


def split_of(speaker: str) -> str:
    return "real_val" if speaker in VAL_SPEAKERS else "real_train"


def catalogue(key: str, dirs: dict[str, Path]) -> list:
    """Candidate clips (``devset.clips.Clip``) of one selectable source from its unpacked packages."""
    from thunder_train.devset import clips as cl

    if key == "fillets-cs":
        return unique(cl.fillets_clips(dirs["fillets-text"] / "usr/share/games/fillets-ng/script",
                                       dirs["fillets-cs"] / "usr/share/games/fillets-ng/sound", lang="cs",
                                       source="fillets-cs", fish_only=False, min_words=1))
    if key == "tuxpaint":
        stamps = dirs["tuxpaint-more"] / "usr/share/tuxpaint/stamps"
        out = []
        for lang in SOURCE_BY_KEY["tuxpaint-more"].langs:
            out += cl.tuxpaint_clips(stamps, lang, 1, "read", lang, source=f"tuxpaint-{lang}")
        return unique(out)
    if key == "fotaq":
        return fotaq_clips(dirs["fotaq"] / fotaq.ARCHIVE_PATH, dirs["fotaq"].parent / "fotaq-clips")
    if key == "bass":
        return bass_clips(dirs["bass"] / bass.DATA_DIR, dirs["scummvm"] / bass.ENGINE_BINARY,
                          dirs["bass"].parent / "bass-clips")
    raise ValueError(f"unknown recorded source {key!r} (known: {', '.join(NEEDS)})")


def fotaq_clips(archive_path: Path, out: Path) -> list:
    """Amazon Queen lines with a credited artist as clips (``devset.clips.Clip``, style "acted"): each voice
    file copied out of the archive as ``<out>/<entry>.mp3`` (written once, atomically)."""
    from thunder_train.devset.clips import Clip

    archive = fotaq.Archive(archive_path)
    out.mkdir(parents=True, exist_ok=True)
    clips = []
    for ln in fotaq.catalogue(archive_path):
        if not ln.artist:
            continue
        path = out / (ln.entry.rsplit(".", 1)[0] + ".mp3")
        if not path.is_file():
            tmp = path.with_suffix(".part")
            tmp.write_bytes(archive.read(ln.entry))
            tmp.replace(path)
        clips.append(Clip(path, ln.text, f"fotaq/{ln.artist.replace(' ', '_')}", "en", "acted", "fotaq"))
    return clips


def bass_clips(folder: Path, engine: Path, out: Path) -> list:
    """Beneath a Steel Sky lines as clips (style "acted"): each speech file decoded once to ``<out>/<n>.wav``
    (16 kHz, 16-bit, written atomically)."""
    import soundfile as sf

    from thunder_train.devset.clips import Clip

    archive = bass.Archive(folder)
    out.mkdir(parents=True, exist_ok=True)
    clips = []
    for ln in bass.catalogue(folder, engine):
        path = out / f"{ln.speech}.wav"
        if not path.is_file():
            tmp = out / f"{ln.speech}.part.wav"
            sf.write(tmp, archive.decode(ln.speech), bass.SR, subtype="PCM_16")
            tmp.replace(path)
        clips.append(Clip(path, ln.text, f"bass/{ln.speaker or 'unnamed'}", "en", "acted", "bass"))
    return clips


def unique(clips: list) -> list:
    """The first of clips whose recordings are byte-identical (packages ship some files in two folders:
    Fillets levels that share a scene, Tux Paint stamps filed under two themes)."""
    seen: set[bytes] = set()
    out = []
    for c in clips:
        digest = hashlib.sha256(c.path.read_bytes()).digest()
        if digest not in seen:
            seen.add(digest)
            out.append(c)
    return out


def cache_key(clip, cache: Path) -> str:  # noqa: ANN001 (devset.clips.Clip)
    """What a cached result belongs to: the recording (path inside ``<cache>/src``) and its transcript.

    Not ``clip_id``: two different recordings can share a file name (Tux Paint's ``spider`` stamps).
    """
    path = Path(clip.path).resolve()
    try:
        rel = path.relative_to((cache / "src").resolve()).as_posix()
    except ValueError:
        rel = path.as_posix()
    return f"{rel}\n{clip.text}"


def _process(clip) -> dict:  # noqa: ANN001 (devset.clips.Clip)
    """Worker: the development set's decode / measure / align of one clip, audio as int16 ``(S,)``."""
    from thunder_train.devset.build import process

    r = process(clip)
    a = r["audio"]
    return {"audio": None if a is None else np.clip(np.round(a * 32767), -32768, 32767).astype(np.int16),
            "speech_s": r["speech_s"], "espeak_s": r["espeak_s"], "phones": r["phones"], "error": r["error"]}


def _decode(clip) -> np.ndarray | None:  # noqa: ANN001 (devset.clips.Clip)
    """Worker: the clip's decoded audio as int16 ``(S,)`` (as ``_process`` stores it), None if it does not decode."""
    import subprocess

    from thunder_train.devset.build import decode

    try:
        a = decode(clip)
    except subprocess.CalledProcessError:
        return None
    return np.clip(np.round(a * 32767), -32768, 32767).astype(np.int16)


def load_or_align(key: str, clips: list, cache: Path, workers: int = 2, log=print,
                  alignments: Path | None = None) -> list[dict]:
    """Decoded and aligned clips of one source: devset ``process`` results in ``clips`` order.

    Cached in ``<cache>/recorded_<key>.npz`` per recording and text (``cache_key``): only clips not in the cache are aligned, so a
    rebuild only re-renders. Every clip is aligned with fresh decoders, so a result depends on its clip only.
    Clips missing from the cache but found in the committed ``alignments`` (``corpus.alignments``) are only
    decoded: their stored alignment is used when the decoded audio is the audio it was made from.
    """
    from .alignments import Store
    from .synth import synth_pool

    path = cache / f"recorded_{key}.npz"
    have: dict[str, dict] = {}
    wall = 0.0
    if path.exists():
        z = _load(path)
        wall = float(z["align_wall_s"])
        have = {str(k): r for k, r in zip(z["keys"], _rows(z), strict=True)}
    keys = [cache_key(c, cache) for c in clips]
    todo = [c for c, k in zip(clips, keys, strict=True) if k not in have]
    store = Store(alignments, path.name)
    stored = [c for c in todo if cache_key(c, cache) in store]
    if stored:
        with synth_pool(workers) as pool:
            pcms = pool.map(_decode, stored, chunksize=16)
        matched = 0
        for c, pcm in zip(stored, pcms, strict=True):
            row = store.lookup(cache_key(c, cache), pcm)
            if row is not None:
                have[cache_key(c, cache)] = {"audio": pcm, "speech_s": row["speech_s"], "espeak_s": row["espeak_s"],
                                             "phones": row["phones"], "error": row["error"]}
                matched += 1
        todo = [c for c, k in zip(clips, keys, strict=True) if k not in have]
        log(f"recorded {key}: {matched} of {len(stored)} clips taken from the committed alignments "
            f"(the rest decode differently), {len(todo)} to align")
        _save(path, [(k, have[k]) for k in keys if k in have], wall)
    if todo:
        with synth_pool(workers) as pool:
            for i in range(0, len(todo), SAVE_EVERY):
                t0 = time.time()
                batch = todo[i:i + SAVE_EVERY]
                res = pool.map(_process, batch, chunksize=16)
                wall += time.time() - t0
                have.update({cache_key(c, cache): r for c, r in zip(batch, res, strict=True)})
                # saved after every batch: an interrupted build resumes where it stopped
                _save(path, [(k, have[k]) for k in keys if k in have], wall)
                log(f"recorded {key}: aligned {i + len(batch)}/{len(todo)} clips ({wall:.0f} s)")
    out = []
    for c, k in zip(clips, keys, strict=True):
        r = have[k]
        audio = None if r["audio"] is None else r["audio"].astype(np.float32) / 32768.0
        out.append({**r, "clip": c, "audio": audio})
    return out


def align_wall_s(key: str, cache: Path) -> float:
    """Wall time (s) spent aligning the clips in a source's cache, summed over the builds that added them."""
    with np.load(cache / f"recorded_{key}.npz") as z:
        return float(z["align_wall_s"])


def _save(path: Path, rows: list[tuple[str, dict]], wall: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    res = [r for _, r in rows]
    ph = [p for r in res for p in r["phones"]]
    audio = [r["audio"] if r["audio"] is not None else np.zeros(0, np.int16) for r in res]
    tmp = path.with_name(path.stem + ".part.npz")
    np.savez_compressed(
        tmp, keys=np.array([k for k, _ in rows]), decoded=np.array([r["audio"] is not None for r in res]), errors=np.array([r["error"] for r in res]),
        speech_s=np.array([r["speech_s"] for r in res]), espeak_s=np.array([r["espeak_s"] for r in res]),
        align_wall_s=np.array(wall), audio=np.concatenate(audio or [np.zeros(0, np.int16)]),
        audio_offsets=np.concatenate([[0], np.cumsum([len(a) for a in audio])]).astype(np.int64),
        ph_name=np.array([p[0] for p in ph] or [""]), ph_time=np.array([[p[1], p[2]] for p in ph]).reshape(-1, 2),
        ph_offsets=np.concatenate([[0], np.cumsum([len(r["phones"]) for r in res])]).astype(np.int64))
    tmp.replace(path)


def _load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def _rows(z: dict[str, np.ndarray]) -> list[dict]:
    """Cached arrays -> ``[{audio (int16 or None), speech_s, espeak_s, phones, error}]`` in stored order."""
    ao, po = z["audio_offsets"], z["ph_offsets"]
    names, times = [str(x) for x in z["ph_name"]], z["ph_time"].tolist()
    return [{"audio": z["audio"][ao[i]:ao[i + 1]] if z["decoded"][i] else None, "speech_s": float(z["speech_s"][i]),
             "espeak_s": float(z["espeak_s"][i]), "error": str(z["errors"][i]),
             "phones": [(names[k], times[k][0], times[k][1]) for k in range(po[i], po[i + 1])]}
            for i in range(len(z["keys"]))]


def group_of(clip) -> str:  # noqa: ANN001 (devset.clips.Clip)
    """Reporting group: the language for Tux Paint, the character for Fillets."""
    return clip.speaker.split("/", 1)[1]


def report(results: list[dict], kept: list[dict], dropped: list[dict]) -> dict:
    """Per group: clips found, passing the text rule, aligned, kept; hours kept; floor-length phone shares."""
    from thunder_train.devset.xlang import floor_share

    reason = {d["clip"]: d["reason"] for d in dropped}
    kept_ids = {r["clip"].clip_id for r in kept}
    groups: dict[str, dict] = {}
    for r in results:
        c = r["clip"]
        g = groups.setdefault(group_of(c), {"found": 0, "text_ok": 0, "aligned": 0, "kept": 0, "hours_found": 0.0,
                                            "hours_kept": 0.0, "phones": 0, "floor_phones": 0, "speaker": c.speaker,
                                            "split": split_of(c.speaker)})
        g["found"] += 1
        g["hours_found"] += 0.0 if r["audio"] is None else len(r["audio"]) / SR / 3600
        why = reason.get(c.clip_id, "")
        if why in ("", "align", "squeezed"):
            g["text_ok"] += 1
        if r["phones"] and why in ("", "squeezed"):
            g["aligned"] += 1
        if c.clip_id in kept_ids:
            g["kept"] += 1
            g["hours_kept"] += len(r["audio"]) / SR / 3600
            n = sum(1 for p in r["phones"] if p[0].upper() not in ("SIL", "+NSN+", "+SPN+"))
            g["phones"] += n
            g["floor_phones"] += round(floor_share(r["phones"]) * n)
    for g in groups.values():
        g["hours_found"], g["hours_kept"] = round(g["hours_found"], 4), round(g["hours_kept"], 4)
        g["floor_share"] = round(g["floor_phones"] / max(g["phones"], 1), 4)
    return dict(sorted(groups.items(), key=lambda kv: -kv[1]["found"]))


def recorded_records(keys: tuple[str, ...], cache: Path, seed: int, workers: int = 2, log=print,
                     alignments: Path | None = None) -> tuple[dict[str, list], dict]:
    """Records of the selected recorded sources by split (``{"real_train": [...], "real_val": [...]}``) and a
    report per source (fetch and alignment wall time, per-group counts, drop reasons)."""
    from thunder_train.devset.build import DevsetConfig, select, to_records
    from thunder_train.devset.fetch import fetch

    recs: dict[str, list] = {"real_train": [], "real_val": []}
    info: dict[str, dict] = {}
    checks = DevsetConfig()  # the development set's thresholds, one place
    for key in keys:
        if key not in NEEDS:
            raise ValueError(f"unknown recorded source {key!r} (known: {', '.join(NEEDS)})")
        t0 = time.time()
        dirs = {k: fetch(SOURCE_BY_KEY[k], cache / "src", log) for k in NEEDS[key]}
        t_fetch = time.time() - t0
        clips = catalogue(key, dirs)
        n_found = len(clips)
        if key in MAX_CLIPS_PER_SPEAKER:
            from thunder_train.devset.clips import cap

            clips = cap(clips, MAX_CLIPS_PER_SPEAKER[key], seed)
        results = load_or_align(key, clips, cache, workers, log, alignments)
        kept, dropped = select(results, checks)
        by_split: dict[str, list] = {"real_train": [], "real_val": []}
        for r in kept:
            by_split[split_of(r["clip"].speaker)].append(r)
        for split, rs in by_split.items():
            recs[split] += to_records(rs, seed)
        align_wall = align_wall_s(key, cache)
        info[key] = {
            "packages": {k: SOURCE_BY_KEY[k].package for k in NEEDS[key]},
            "licence": SOURCE_BY_KEY[NEEDS[key][0]].licence, "credit": SOURCE_BY_KEY[NEEDS[key][0]].credit,
            "fetch_wall_s": round(t_fetch, 1), "align_wall_s": round(align_wall, 1), "clips_found": n_found,
            "clips_used": len(clips), "max_clips_per_speaker": MAX_CLIPS_PER_SPEAKER.get(key),
            "clips_kept": len(kept), "dropped_by_reason": dict(Counter(d["reason"] for d in dropped)),
            "checks": {"ratio": [checks.ratio_lo, checks.ratio_hi], "ratio_min_words": checks.ratio_min_words,
                       "max_floor_share": checks.max_floor_share, "min_seconds": checks.min_seconds},
            "groups": report(results, kept, dropped),
            "val_speakers": sorted({r["clip"].speaker for r in by_split["real_val"]}),
        }
        log(f"recorded {key}: kept {len(kept)} of {len(clips)} clips "
            f"({info[key]['dropped_by_reason']}), {len(by_split['real_val'])} in real_val")
    return recs, info
