"""Corpus build: plan jobs per split, synthesise them on a process pool, write shards and meta.json."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import text as textsrc
from .expression import sample_emotion
from .shards import Record, write_shard
from .synth import FPS, SR, Job, run_job, synth_pool
from .voices import Voice, all_voices, sentence_split, voice_split

# seconds per planned utterance = DURATION_CALIBRATION * (0.36 s/word + pauses); the factor is the
# measured ratio of built to estimated hours of the seed-0, 12 h build (10.25 / 12 before calibration)
DURATION_CALIBRATION = 0.855
SPLIT_SHARE = {"train": 0.90, "val": 0.05, "test": 0.05}
# version of what the shards' labels mean; 2: consonant pose keys name their viseme (``phonemap.POSE_VISEME``)
LABELS = 2
# share of synthetic hours per voice group
GROUP_SHARE = {"espeak-en": 0.38, "espeak-other": 0.20, "flite": 0.27, "festival": 0.15}


@dataclass
class BuildConfig:
    """What to build."""

    out: Path
    hours: float = 10.0
    seed: int = 0
    workers: int = 2
    shard_seconds: float = 900.0   # audio per shard
    real: bool = True              # also build real_train / real_val from recorded speech
    real_sources: tuple[str, ...] = ("asterisk", "fillets-cs", "tuxpaint")  # real.REAL_SOURCES to use
    card: Path | None = None       # extra copy of the data card (e.g. docs/DATA_CARD.md)
    cache: Path = Path("data/cache")  # decoded + aligned real speech, reused between builds
    alignments: Path | None = None    # committed alignments for a build without caches (corpus.alignments)
    groups: dict[str, float] = field(default_factory=lambda: dict(GROUP_SHARE))

    def __post_init__(self) -> None:
        from .real import REAL_SOURCES

        self.real_sources = tuple(self.real_sources)
        unknown = [s for s in self.real_sources if s not in REAL_SOURCES]
        if unknown:
            raise ValueError(f"real_sources: unknown {unknown} (known: {', '.join(REAL_SOURCES)})")


def _group(v: Voice) -> str:
    if v.engine == "espeak":
        return "espeak-en" if v.lang == "en" else "espeak-other"
    return v.engine


def plan(cfg: BuildConfig) -> dict[str, list[Job]]:
    """Jobs per synthetic split; deterministic from ``cfg.seed`` and ``cfg.hours``."""
    rng = np.random.default_rng([cfg.seed, 1])
    pools: dict[tuple[str, str], list[str]] = {(s, lang): [] for s in SPLIT_SHARE for lang in ("en", "es", "fr")}
    for s in textsrc.english_sentences():
        pools[(sentence_split(s.text, cfg.seed), "en")].append(s.text)
    for lang, texts in _prompt_sentences(cfg.seed).items():
        for t in texts:
            pools[(sentence_split(t, cfg.seed), lang)].append(t)
    voices: dict[tuple[str, str], list[Voice]] = {}
    for v in all_voices():
        voices.setdefault((voice_split(v, cfg.seed), _group(v)), []).append(v)
    groups = {g: w for g, w in cfg.groups.items() if w > 0}
    gnames = sorted(groups)
    gprob = np.array([groups[g] for g in gnames])
    jobs: dict[str, list[Job]] = {}
    for split, share in SPLIT_SHARE.items():
        lang_pool = {}
        for lang in ("en", "es", "fr"):
            lang_pool[lang] = list(pools[(split, lang)])
            rng.shuffle(lang_pool[lang])
        cursor = dict.fromkeys(lang_pool, 0)
        target = cfg.hours * 3600 * share
        est = 0.0
        out: list[Job] = []
        while est < target:
            g = gnames[int(rng.choice(len(gnames), p=gprob / gprob.sum()))]
            cands = voices.get((split, g))
            if not cands:
                continue
            v = cands[int(rng.integers(len(cands)))]
            k = int(rng.choice([1, 2, 3], p=[0.5, 0.35, 0.15]))
            # Spanish and French voices read prompts of their language; every other voice reads English
            lang = v.lang if v.lang in ("es", "fr") and lang_pool[v.lang] else "en"
            pool = lang_pool[lang]
            chosen = []
            for _ in range(k):
                chosen.append(pool[cursor[lang] % len(pool)])
                cursor[lang] += 1
            emo, inten = sample_emotion(rng)
            out.append(Job(v, tuple(chosen), emo, inten, int(rng.integers(2**31)), cfg.seed))
            words = sum(len(s.split()) for s in chosen)
            est += DURATION_CALIBRATION * (0.36 * words + 0.7 * k + 0.8)
        jobs[split] = out
    return jobs


def _prompt_sentences(seed: int) -> dict[str, list[str]]:
    """es / fr sentences from the transcripts of ``real_train`` prompts (``real_val`` texts never used)."""
    from .real import SETS, SOUNDS, prompt_split, transcripts

    out: dict[str, list[str]] = {}
    for lang in ("es", "fr"):
        if not (SOUNDS / SETS[lang]).exists():
            continue
        try:
            tr = transcripts(lang)
        except FileNotFoundError:
            continue
        out[lang] = sorted({t for n, t in tr.items()
                            if prompt_split(f"{lang}:{n}", seed) == "real_train" and len(t.split()) >= 3})
    return out


def _write_split(root: Path, split: str, recs_iter, shard_seconds: float, stats: dict) -> None:
    buf: list[Record] = []
    dur = 0.0
    n_shard = 0
    for r in recs_iter:
        buf.append(r)
        d = len(r.audio) / SR
        dur += d
        _accumulate(stats, split, r, d)
        if dur >= shard_seconds:
            write_shard(root / split / f"shard_{n_shard:05d}.npz", buf)
            n_shard, buf, dur = n_shard + 1, [], 0.0
    if buf:
        write_shard(root / split / f"shard_{n_shard:05d}.npz", buf)


def _accumulate(stats: dict, split: str, r: Record, d: float) -> None:
    s = stats.setdefault(split, {"utterances": 0, "seconds": 0.0, "voices": Counter(), "langs": Counter(),
                                 "sources": Counter(), "emotions": Counter(), "phone_frames": Counter(),
                                 "closure_frames": 0, "bilabial_segments": 0})
    s["utterances"] += 1
    s["seconds"] += d
    s["voices"][r.voice] += d
    s["langs"][r.lang] += d
    s["sources"][r.source] += d
    s["emotions"][int(r.emotion)] += 1
    s["phone_frames"].update(dict(enumerate(np.bincount(r.phone_class, minlength=10).tolist())))
    stats.setdefault("_unmapped", Counter()).update(r.unmapped)
    s["closure_frames"] += int(r.closure.sum())
    s["bilabial_segments"] += sum(1 for seg in r.segments if seg[1] == 1)


def build(cfg: BuildConfig, log=print) -> dict:
    """Build the corpus under ``cfg.out``; returns the stats written to meta.json.

    Everything is written to a sibling staging directory that replaces ``cfg.out`` only when the build
    is complete, so readers of an existing corpus never see a half-written one.
    """
    final = Path(cfg.out)
    root = final.with_name(final.name + ".building")
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    t0 = time.time()
    jobs = plan(cfg)
    log(f"planned {sum(len(j) for j in jobs.values())} utterances in {time.time() - t0:.1f} s")
    key = synthetic_key(cfg, jobs)
    stats = _reuse_synthetic(final, root, key)
    reused = stats is not None
    if reused:
        log(f"synthetic splits: reused from {final} (same plan and synthesis code)")
        synth_wall = float(stats.pop("_wall_s", 0.0))
    else:
        stats = {}
        # one fresh process per utterance, never inheriting espeak-ng state (see synth_pool)
        with synth_pool(cfg.workers) as pool:
            for split, js in jobs.items():
                t1 = time.time()
                _write_split(root, split, pool.imap(run_job, js, chunksize=1), cfg.shard_seconds, stats)
                sec = stats.get(split, {}).get("seconds", 0.0)
                log(f"{split}: {len(js)} utterances, {sec / 3600:.2f} h in {time.time() - t1:.0f} s "
                    f"({sec / max(time.time() - t1, 1e-6):.0f}x real time)")
        synth_wall = time.time() - t0
        _save_synthetic_stats(root, key, stats, synth_wall)
    if cfg.real:
        from .real import build_real
        t2 = time.time()
        build_real(root, cfg.seed, stats, log=log, workers=cfg.workers, cache=cfg.cache, sources=cfg.real_sources,
                   alignments=cfg.alignments)
        log(f"real speech in {time.time() - t2:.0f} s")
    from .quality import closure_check, timing_check
    t3 = time.time()
    quality = {"closures": closure_check(root, tuple(sorted(k for k in stats if not k.startswith("_")))),
               "timing_vs_pocketsphinx": timing_check(root, "test")}
    log(f"quality checks in {time.time() - t3:.0f} s")
    meta = _meta(cfg, stats, synth_wall, time.time() - t0)
    meta["synthetic_reused"] = reused
    meta["quality"] = quality
    meta["notes"] = stats.get("_notes", [])
    meta["recorded"] = stats.get("_recorded", {})
    (root / "meta.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False))
    from .datacard import write_card
    write_card(root, meta, cfg.card)
    if final.exists():
        old = final.with_name(final.name + ".old")
        if old.exists():
            shutil.rmtree(old)
        final.rename(old)
        root.rename(final)
        shutil.rmtree(old)
    else:
        root.rename(final)
    return meta


# modules whose code decides what a synthetic utterance's audio and labels are
SYNTH_MODULES = ("synth", "articulation", "expression", "render", "espeak", "festival", "flite", "phonemap",
                 "shards", "text", "voices")
SYNTH_STATS = "synthetic.json"


def synthetic_key(cfg: BuildConfig, jobs: dict[str, list[Job]]) -> str:
    """sha256 of everything the synthetic splits depend on: the planned jobs (voices, texts, emotions, seeds),
    the shard size and the synthesis code."""
    h = hashlib.sha256(repr((cfg.shard_seconds, FPS, SR, sorted(jobs.items()))).encode())
    here = Path(__file__).parent
    for name in SYNTH_MODULES:
        h.update((here / f"{name}.py").read_bytes())
    return h.hexdigest()


def _save_synthetic_stats(root: Path, key: str, stats: dict, wall: float) -> None:
    data = {k: v for k, v in stats.items() if k in SPLIT_SHARE or k == "_unmapped"}
    (root / SYNTH_STATS).write_text(json.dumps({"key": key, "wall_s": wall, "stats": data}, default=dict))


def _reuse_synthetic(old: Path, root: Path, key: str) -> dict | None:
    """Hard-link the synthetic splits of an earlier build ``old`` into ``root`` when they were made from the
    same plan and code (``synthetic_key``); their stats, or None when nothing could be reused."""
    try:
        saved = json.loads((old / SYNTH_STATS).read_text())
    except (OSError, ValueError):
        return None
    if saved.get("key") != key or not all((old / s).is_dir() for s in SPLIT_SHARE):
        return None
    for split in SPLIT_SHARE:
        (root / split).mkdir()
        for f in sorted((old / split).iterdir()):
            os.link(f, root / split / f.name)
    shutil.copy2(old / SYNTH_STATS, root / SYNTH_STATS)
    stats: dict = {"_wall_s": saved.get("wall_s", 0.0)}
    for k, v in saved["stats"].items():
        if k in SPLIT_SHARE:
            v = dict(v)
            for c in ("voices", "langs", "sources"):
                v[c] = Counter(v[c])
            v["emotions"] = Counter({int(e): n for e, n in v["emotions"].items()})
            v["phone_frames"] = Counter({int(e): n for e, n in v["phone_frames"].items()})
        elif k == "_unmapped":
            v = Counter(v)
        stats[k] = v
    return stats


def _meta(cfg: BuildConfig, stats: dict, synth_wall: float, wall: float) -> dict:
    from .phonemap import UNKNOWN
    synth_sec = sum(stats.get(s, {}).get("seconds", 0.0) for s in SPLIT_SHARE)
    splits = {}
    for split, s in stats.items():
        if split.startswith("_"):
            continue
        splits[split] = {
            "utterances": s["utterances"], "hours": round(s["seconds"] / 3600, 4),
            "n_voices": len(s["voices"]), "voices": sorted(s["voices"]),
            "hours_by_language": {k: round(v / 3600, 4) for k, v in sorted(s["langs"].items())},
            "hours_by_source": {k: round(v / 3600, 4) for k, v in sorted(s["sources"].items())},
            "emotions": {str(k): v for k, v in sorted(s["emotions"].items())},
            "phone_class_frames": {str(k): v for k, v in sorted(s["phone_frames"].items())},
            "closure_frames": s["closure_frames"], "bilabial_segments": s["bilabial_segments"],
        }
    return {
        "fps": FPS, "sample_rate": SR, "labels": LABELS, "seed": cfg.seed, "hours_requested": cfg.hours,
        "workers": cfg.workers,
        "real_sources": list(cfg.real_sources) if cfg.real else [],
        "synthetic_hours": round(synth_sec / 3600, 4), "synthetic_wall_s": round(synth_wall, 1),
        "synthetic_speed_x_realtime": round(synth_sec / max(synth_wall, 1e-6), 1), "build_wall_s": round(wall, 1),
        "load_average_at_end": round(os.getloadavg()[0], 2),
        "splits": splits,
        "unmapped_phones": dict(sorted((stats.get("_unmapped", Counter()) + Counter(UNKNOWN)).items())),
        "text_sources": textsrc.LICENCES,
    }
