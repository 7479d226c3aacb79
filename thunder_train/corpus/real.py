"""Real recorded speech: the Asterisk core sound prompts, decoded to 16 kHz and aligned to phones.

- Audio: the wideband ``.g722`` files (Debian asterisk-core-sounds-{en,es,fr}-g722), decoded with ffmpeg.
- Transcripts: ``/usr/share/doc/asterisk-core-sounds-XX/core-sounds-XX.txt.gz`` (``name: text``).
- English: pocketsphinx forced alignment (phone level), see ``align.py``.
- Spanish / French: no acoustic model is available offline, so the transcript is rendered with
  espeak-ng (known phone times) and its MFCCs are aligned to the recording's by DTW; the espeak phone
  boundaries are carried over through the warping path (``dtw_align``). Its accuracy is measured on
  English, where pocketsphinx gives a reference.
Prompts are split into ``real_train`` / ``real_val`` by prompt name (about 15 % held out). Decoded and
aligned prompts are cached in ``<cache>/real_<lang>.npz`` so later builds only re-render.
``build_real`` also adds the recorded sources of ``recorded.py`` (more voices, split by speaker).
"""
from __future__ import annotations

import gzip
import re
import subprocess
import zlib
from pathlib import Path

import numpy as np

from thunder_blender.core.channels import EMOTIONS

from .recorded import NEEDS as RECORDED

SOUNDS = Path("/usr/share/asterisk/sounds")
DOCS = Path("/usr/share/doc")
SETS = {"en": "en_US_f_Allison", "es": "es_MX_f_Allison", "fr": "fr_CA_f_June"}
# both recorded speakers are women: a female espeak variant matches their spectra better for DTW
ESPEAK_VOICE = {"en": "en-us+f3", "es": "es-419+f3", "fr": "fr+f3"}
SR = 16000
VAL_SHARE = 0.15
# every source of recorded speech BuildConfig.real_sources may name ("asterisk": this module; the others:
# recorded.py, fetched from registry packages)
REAL_SOURCES: tuple[str, ...] = ("asterisk", *RECORDED)


def transcripts(lang: str) -> dict[str, str]:
    """``{prompt name: text}`` for prompts with spoken, digit-free text."""
    out = {}
    with gzip.open(DOCS / f"asterisk-core-sounds-{lang}" / f"core-sounds-{lang}.txt.gz", "rt",
                   encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith(";") or ":" not in line:
                continue
            name, text = line.split(":", 1)
            text = text.strip().strip('"').strip()
            if not text or "[" in text or re.search(r"[0-9@#*=/]", text) or "www" in text:
                continue
            out[name.strip()] = text
    return out


def decode(path: Path) -> np.ndarray:
    """16 kHz mono float32 ``(S,)`` audio of a .g722 prompt."""
    res = subprocess.run(["ffmpeg", "-v", "error", "-f", "g722", "-i", str(path), "-f", "s16le", "-ac", "1",
                          "-ar", str(SR), "-"], capture_output=True, check=True)
    return np.frombuffer(res.stdout, np.int16).astype(np.float32) / 32768.0


def prompt_split(name: str, seed: int) -> str:
    return "real_val" if zlib.crc32(f"{seed}:real:{name}".encode()) / 2**32 < VAL_SHARE else "real_train"


def _process(args: tuple[str, str, str]) -> tuple[str, np.ndarray, list, str]:
    """Worker: decode and align one prompt -> (name, audio, phones, kind) or empty phones on failure."""
    lang, name, text = args
    path = SOUNDS / SETS[lang] / f"{name}.g722"
    audio = decode(path)
    try:
        if lang == "en":
            from .align import Aligner
            global _ALIGNER
            if _ALIGNER is None:
                _ALIGNER = Aligner()
            return name, audio, _ALIGNER.align(audio, text), "cmu"
        from .dtw_align import dtw_align
        return name, audio, dtw_align(audio, text, ESPEAK_VOICE[lang]), "ipa"
    except (RuntimeError, ValueError):
        return name, audio, [], "none"


_ALIGNER = None


def _decode(args: tuple[str, str]) -> np.ndarray:
    lang, name = args
    return decode(SOUNDS / SETS[lang] / f"{name}.g722")


def load_or_align(lang: str, cache: Path, workers: int = 2, log=print, alignments: Path | None = None) -> list[dict]:
    """Decoded and aligned prompts of one language (cached): ``[{name, text, audio, phones, kind}]``.

    Without a cache, prompts found in the committed ``alignments`` (``corpus.alignments``) whose decoded audio
    is the audio they were aligned on take the stored alignment; the others are aligned.
    """
    from .alignments import Store
    from .synth import synth_pool

    path = cache / f"real_{lang}.npz"
    tr = transcripts(lang)
    names = sorted(n for n in tr if (SOUNDS / SETS[lang] / f"{n}.g722").exists())
    if path.exists():
        z = _load(path)
        if list(z["names"]) == names:
            return _unpack(z, tr)
    store = Store(alignments, path.name)
    done: dict[str, tuple[str, np.ndarray, list, str]] = {}
    with synth_pool(workers) as pool:
        if len(store):
            for n, audio in zip(names, pool.map(_decode, [(lang, n) for n in names], chunksize=8), strict=True):
                row = store.lookup(n, audio)
                if row is not None:
                    done[n] = (n, audio, row["phones"], row["kind"])
            log(f"real {lang}: {len(done)} of {len(names)} prompts taken from the committed alignments")
        todo = [n for n in names if n not in done]
        for r in pool.map(_process, [(lang, n, tr[n]) for n in todo], chunksize=4):
            done[r[0]] = r
    res = [done[n] for n in names]
    ok = [r for r in res if r[2]]
    log(f"real {lang}: aligned {len(ok)}/{len(res)} prompts ({len(todo)} aligned by this build)")
    cache.mkdir(parents=True, exist_ok=True)
    ph = [p for r in res for p in r[2]]
    np.savez_compressed(
        path, names=np.array(names), kinds=np.array([r[3] for r in res]),
        audio=np.concatenate([r[1] for r in res]).astype(np.float32),
        audio_offsets=np.concatenate([[0], np.cumsum([len(r[1]) for r in res])]).astype(np.int64),
        ph_name=np.array([p[0] for p in ph] or [""]), ph_time=np.array([[p[1], p[2]] for p in ph]).reshape(-1, 2),
        ph_offsets=np.concatenate([[0], np.cumsum([len(r[2]) for r in res])]).astype(np.int64))
    return _unpack(_load(path), tr)


def _load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def _unpack(z: dict[str, np.ndarray], tr: dict[str, str]) -> list[dict]:
    out = []
    ao, po = z["audio_offsets"], z["ph_offsets"]
    names_ph = [str(x) for x in z["ph_name"]]
    times = z["ph_time"].tolist()
    for i, name in enumerate(z["names"]):
        phones = [(names_ph[k], times[k][0], times[k][1]) for k in range(po[i], po[i + 1])]
        out.append({"name": str(name), "text": tr[str(name)], "audio": z["audio"][ao[i]:ao[i + 1]],
                    "phones": phones, "kind": str(z["kinds"][i])})
    return out


def build_real(root: Path, seed: int, stats: dict, log=print, workers: int = 2,
               langs: tuple[str, ...] = ("en", "es", "fr"), cache: Path | None = None,
               sources: tuple[str, ...] = REAL_SOURCES, alignments: Path | None = None) -> None:
    """Write ``real_train`` / ``real_val`` shards under ``root`` (performances rendered from alignments).

    ``sources``: "asterisk" (this module's prompts, split by prompt) and the recorded sources of
    ``recorded.py`` (split by speaker), in that order. ``alignments``: committed alignments that spare a
    build without caches the forced alignment (``corpus.alignments``).
    """
    from .articulation import ArticulationStyle
    from .build import _write_split
    from .expression import ExpressionStyle
    from .shards import Record

    unknown = [s for s in sources if s not in REAL_SOURCES]
    if unknown:
        raise ValueError(f"unknown real speech sources {unknown} (known: {', '.join(REAL_SOURCES)})")
    cache = cache or Path("data/cache")
    recs: dict[str, list[Record]] = {"real_train": [], "real_val": []}
    neutral = EMOTIONS.index("neutral")
    for lang in langs if "asterisk" in sources else ():
        try:
            prompts = load_or_align(lang, cache, workers, log, alignments)
        except (FileNotFoundError, subprocess.CalledProcessError) as exc:
            log(f"real {lang}: skipped ({exc})")
            continue
        n_ok = sum(1 for p in prompts if p["phones"])
        how = "pocketsphinx forced alignment" if lang == "en" else "DTW against an espeak-ng rendition"
        stats.setdefault("_notes", []).append(
            f"real {lang} ({SETS[lang]}): {n_ok} of {len(prompts)} usable prompts aligned by {how}; "
            f"{sum(len(p['audio']) for p in prompts if p['phones']) / SR / 3600:.3f} h")
        spk = np.random.default_rng([seed, zlib.crc32(SETS[lang].encode())])
        art, expr = ArticulationStyle.sample(spk), ExpressionStyle.sample(spk)
        for p in prompts:
            if not p["phones"]:
                continue
            rng = np.random.default_rng([seed, zlib.crc32(p["name"].encode()), len(lang)])
            audio, segs, r = render_aligned(p["audio"], p["phones"], p["kind"], art, expr, rng)
            pcm = np.clip(np.round(audio * 32767), -32768, 32767).astype(np.int16)
            split = prompt_split(f"{lang}:{p['name']}", seed)
            recs[split].append(Record(
                audio=pcm, perf=r.perf, phone_class=r.phone_class, closure=r.closure, emotion=neutral,
                intensity=0.0, voice=f"asterisk/{SETS[lang]}", lang=lang,
                source=f"asterisk-{'pocketsphinx' if p['kind'] == 'cmu' else 'dtw-espeak'}",
                text=p["text"], segments=segs))
    if "asterisk" in sources and "en" in langs and (cache / "real_en.npz").exists():
        stats.setdefault("_notes", []).append(dtw_check(load_or_align("en", cache, workers, log), seed))
    packaged = tuple(s for s in sources if s != "asterisk")
    if packaged:
        from .recorded import recorded_records

        more, info = recorded_records(packaged, cache, seed, workers, log, alignments)
        for split, rs in more.items():
            recs[split] += rs
        stats["_recorded"] = info
    for split, rs in recs.items():
        _write_split(root, split, iter(rs), 900.0, stats)


def render_aligned(audio: np.ndarray, phones: list[tuple[str, float, float]], kind: str, art, expr,
                   rng: np.random.Generator, emotion: str = "neutral"):  # noqa: ANN001 (style dataclasses)
    """Articulation-model performance of aligned recorded speech (neutral expression).

    ``audio`` ``(S,)`` float 16 kHz, ``phones`` ``[(name, start_s, end_s)]`` of ``kind`` "cmu" or "ipa".
    Returns (audio padded to whole frames ``(S',)``, segments, ``render.Rendered``).
    """
    from .phonemap import expand
    from .render import render
    from .synth import FPS, _merge_sil

    hop = SR // FPS
    audio = np.concatenate([audio, np.zeros((-len(audio)) % hop, np.float32)])
    dur = len(audio) / SR
    phones = [(n, s, min(e, dur)) for n, s, e in phones if s < dur]
    segs = expand(phones, kind)
    if segs and segs[0][2] > 0:
        segs.insert(0, ("sil", 0, 0.0, segs[0][2]))
    if segs and segs[-1][3] < dur:
        segs.append(("sil", 0, segs[-1][3], dur))
    segs = _merge_sil(segs)
    return audio, segs, render(audio, SR, segs, FPS, EMOTIONS.index(emotion), 0.0, art, expr, rng)


def dtw_check(prompts: list[dict], seed: int, n: int = 24) -> str:
    """Accuracy of the DTW aligner on English prompts, against their pocketsphinx alignment."""
    from .align import match_onsets
    from .dtw_align import dtw_align
    from .phonemap import expand

    ok = [p for p in prompts if p["phones"]]
    rng = np.random.default_rng([seed, 99])
    diffs: list[float] = []
    for i in rng.choice(len(ok), min(n, len(ok)), replace=False):
        p = ok[int(i)]
        try:
            hyp = expand(dtw_align(p["audio"], p["text"], ESPEAK_VOICE["en"]), "ipa")
        except RuntimeError:
            continue
        ref = expand(p["phones"], "cmu")
        diffs += np.abs(match_onsets([(c, s) for _, c, s, _ in ref if c],
                                     [(c, s) for _, c, s, _ in hyp if c])).tolist()
    d = np.array(diffs)
    return (f"DTW aligner checked on {min(n, len(ok))} English prompts against pocketsphinx: {len(d)} onsets, "
            f"median {1000 * np.median(d):.0f} ms, p90 {1000 * np.percentile(d, 90):.0f} ms")
