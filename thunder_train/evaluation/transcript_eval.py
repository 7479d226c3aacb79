"""Transcript alignment on the development set: word boundaries against pocketsphinx, robustness, cost.

    python -m thunder_train.evaluation.transcript_eval --devset data/devset --out data/eval/transcript_align.json

For every development clip (its own transcript), the runtime's aligner (``runtime.generate.align_transcript``:
bundled English pronunciations over the encoder's phone posteriors of the model in ``--model``) is compared
with the reference word alignment: pocketsphinx with the CMU dictionary (English) or mapped espeak-ng
pronunciations (other languages), the aligner the development set's phones come from
(``devset.build.align_clip``). Reference and runtime words are matched by their spelling; the boundary error
is |start difference| and |end difference| of every matched word, in ms, per language and per style group.

Robustness, per clip of 3 words or more (seeded): one word *removed* from the transcript (the audio has speech
the text lacks) and one word *added* (a word of another clip's transcript, which the audio lacks). Reported:
the boundary error of the other words, that an alignment came out, and whether the notes point at the
stretch: for a removed word, unmatched speech or a low-confidence word within 0.3 s of where it was said; for
an added word, that word not found or left to the audio.
"""
from __future__ import annotations

import argparse
import difflib
import json
import re
import time
import unicodedata
from pathlib import Path

import numpy as np

from thunder_train.devset.evaluate import load_dev

NEAR_S = 0.3


def _norm(word: str) -> str:
    w = "".join(ch for ch in unicodedata.normalize("NFKD", word.lower()) if not unicodedata.combining(ch))
    return re.sub(r"[^\w]", "", w)


_REF_ALIGNER = None


def reference_words(audio: np.ndarray, text: str, lang: str) -> list[tuple[str, float, float]]:
    """pocketsphinx words ``[(word, start_s, end_s)]`` (pauses dropped), as the development set was aligned."""
    global _REF_ALIGNER
    from thunder_train.corpus.align import Aligner
    from thunder_train.devset.xlang import aligner_tokens

    if _REF_ALIGNER is None:
        _REF_ALIGNER = Aligner(fresh=True)
    al = _REF_ALIGNER
    toks = aligner_tokens(al, text, lang)
    out = []
    for name, s, e in al.word_times(audio, toks):
        base = re.sub(r"\(\d+\)$", "", name).split(":", 1)[-1]
        if base not in ("<sil>", "<s>", "</s>", "sil", "[noise]"):
            out.append((base, s, e))
    return out


def boundary_errors(ref: list[tuple[str, float, float]], hyp: list[dict]) -> list[float]:
    """|start| and |end| differences (s) of the words found in both, matched in order by spelling."""
    hyp = [w for w in hyp if w["start"] is not None]
    a = [_norm(w) for w, _, _ in ref]
    b = [_norm(w["text"]) for w in hyp]
    errs: list[float] = []
    for blk in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_matching_blocks():
        for k in range(blk.size):
            r, h = ref[blk.a + k], hyp[blk.b + k]
            errs += [abs(h["start"] - r[1]), abs(h["end"] - r[2])]
    return errs


def _stats(errs: list[float]) -> dict:
    if not errs:
        return {"n": 0, "median_ms": None, "p90_ms": None, "within_40ms": None}
    e = np.asarray(errs) * 1000.0
    return {"n": int(e.size // 2), "median_ms": round(float(np.median(e)), 1),
            "p90_ms": round(float(np.percentile(e, 90)), 1), "within_40ms": round(float(np.mean(e <= 40.0)), 3)}


def evaluate(devset: str | Path, model_dir: str | Path | None = None, seed: int = 0, log=print,
             ref_cache: str | Path | None = None) -> dict:
    """The summary (``summarise``). ``ref_cache``: JSON file keeping the pocketsphinx reference words per clip
    (computed when missing; the reference does not depend on the model)."""
    from thunder_blender.core import features
    from thunder_blender.core.pronounce import language_of, tokens
    from thunder_blender.runtime.generate import InputError, align_transcript, encode
    from thunder_blender.runtime.model import load_model

    model = load_model(model_dir, providers=["CPUExecutionProvider"])
    recs = load_dev(devset)
    rng = np.random.default_rng(seed)
    pool = [t for r in recs for t in tokens(r.text) if r.lang == "en" and len(t) > 3]
    rows: list[dict] = []
    t_all = time.monotonic()
    cache_path = Path(ref_cache) if ref_cache else None
    cache: dict = json.loads(cache_path.read_text()) if cache_path and cache_path.is_file() else {}
    refused = 0
    for i, r in enumerate(recs):
        audio = np.asarray(r.audio, np.float32) / 32768.0
        mel = features.normalise(features.log_mel(audio))
        n = mel.shape[0] // 2
        _, _, logits, _ = encode(model, mel, n)
        logits = logits[0, :n]
        key = f"{i}:{r.voice}:{r.text}"
        if key not in cache:
            try:
                cache[key] = reference_words(audio, r.text, r.lang)
            except RuntimeError as err:
                log(f"  {r.voice}: no reference ({err})")
                cache[key] = None
        ref = cache[key]
        if ref is None:
            continue
        row = {"voice": r.voice, "lang": r.lang, "style": r.style, "seconds": len(audio) / 16000, "text": r.text}
        try:
            al = align_transcript(r.text, logits, n / model.fps, language=language_of(r.lang))
        except InputError as err:
            log(f"  {r.voice}: refused: {err}")
            refused += 1
            continue
        row["align_s"] = al.seconds
        row["errors"] = boundary_errors(ref, al.to_dict()["words"])
        row["coverage"] = al.coverage
        row["clean_conf"] = [w.confidence if w.used else -1.0 for w in al.words if w.start is not None]
        toks = tokens(r.text)
        if len(toks) >= 3:
            # one word removed: the audio says it, the transcript does not
            k = int(rng.integers(1, len(toks) - 1))
            gone = _norm(toks[k])
            said = [(s, e) for w, s, e in ref if _norm(w) == gone]
            al_m = align_transcript(" ".join(toks[:k] + toks[k + 1:]), logits, n / model.fps)
            d = al_m.to_dict()
            row["removed_errors"] = boundary_errors(ref, d["words"])
            row["removed_said"] = said[0] if said else None
            row["removed_unmatched"] = [list(u) for u in al_m.unmatched]
            row["removed_words"] = [(w["start"], w["end"], w["confidence"] if w["used"] else -1.0)
                                    for w in d["words"] if w["start"] is not None]
            # one word added: the transcript says it, the audio does not
            extra = pool[int(rng.integers(len(pool)))]
            k2 = int(rng.integers(1, len(toks)))
            al_x = align_transcript(" ".join(toks[:k2] + [extra] + toks[k2:]), logits, n / model.fps)
            d = al_x.to_dict()
            row["added_errors"] = boundary_errors(ref, d["words"][:k2] + d["words"][k2 + 1:])
            aw = d["words"][k2]
            row["added_conf"] = -1.0 if aw["start"] is None or not aw["used"] else aw["confidence"]
            row["produced"] = True
        rows.append(row)
        if (i + 1) % 50 == 0:
            log(f"  {i + 1}/{len(recs)} clips ({time.monotonic() - t_all:.0f} s)")
    if cache_path:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        cache_path.write_text(json.dumps(cache))
    res = summarise(rows)
    res["cost"]["refused"] = refused
    res["rows"] = rows
    return res


def _removed_noted(r: dict, thr: float) -> bool:
    """The removed word's stretch is noted: unmatched speech, or a word under ``thr``, within NEAR_S of it."""
    s0, e0 = r["removed_said"]
    flagged = [tuple(u) for u in r["removed_unmatched"]] + [(s, e) for s, e, c in r["removed_words"] if c < thr]
    return any(s < e0 + NEAR_S and e > s0 - NEAR_S for s, e in flagged)


def summarise(rows: list[dict], threshold: float | None = None) -> dict:
    """Boundary errors per group; the notes at the runtime's confidence threshold (``AlignConfig``); and a
    sweep over thresholds: share of clean words left to the audio against the share of edits noted."""
    from thunder_blender.core.alignment import AlignConfig

    thr = AlignConfig().min_confidence if threshold is None else threshold

    def group(sel) -> dict:
        rs = [r for r in rows if sel(r)]
        out = {"clips": len(rs), "clean": _stats([e for r in rs for e in r["errors"]])}
        rob = [r for r in rs if "removed_errors" in r]
        if rob:
            rem = [_removed_noted(r, thr) for r in rob if r["removed_said"]]
            out["word_removed"] = {**_stats([e for r in rob for e in r["removed_errors"]]),
                                   "noted": round(float(np.mean(rem)), 3) if rem else None}
            out["word_added"] = {**_stats([e for r in rob for e in r["added_errors"]]),
                                 "noted": round(float(np.mean([r["added_conf"] < thr for r in rob])), 3)}
            out["alignment_produced"] = round(float(np.mean([r["produced"] for r in rob])), 3)
        return out

    def sweep(rs: list[dict]) -> list[dict]:
        rob = [r for r in rs if "removed_errors" in r]
        out = []
        for t in (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4):
            conf = [c for r in rs for c in r["clean_conf"]]
            out.append({"threshold": t, "clean_words_left_to_audio": round(float(np.mean(np.array(conf) < t)), 3),
                        "removed_noted": round(float(np.mean([_removed_noted(r, t) for r in rob
                                                              if r["removed_said"]])), 3),
                        "added_noted": round(float(np.mean([r["added_conf"] < t for r in rob])), 3)})
        return out

    secs = np.array([r["align_s"] for r in rows])
    audio_s = np.array([r["seconds"] for r in rows])
    result = {
        "threshold": thr,
        "overall": group(lambda r: True),
        "by_language": {lang: group(lambda r, lang=lang: r["lang"] == lang) for lang in sorted({r["lang"] for r in rows})},
        "by_style": {s: group(lambda r, s=s: r["style"] == s) for s in sorted({r["style"] for r in rows})},
        "english_by_style": {s: group(lambda r, s=s: r["style"] == s and r["lang"] == "en")
                             for s in sorted({r["style"] for r in rows if r["lang"] == "en"})},
        "threshold_sweep": {"all": sweep(rows), "en": sweep([r for r in rows if r["lang"] == "en"])},
        "cost": {"clips": len(rows), "align_s_total": round(float(secs.sum()), 3),
                 "align_ms_per_audio_s": round(float(1000 * secs.sum() / audio_s.sum()), 2),
                 "align_ms_max": round(float(1000 * secs.max()), 1)},
    }
    return result


def seal_ablation(devset: str | Path, model_dir: str | Path | None = None, seeds: tuple[int, ...] = (0, 1, 2, 3),
                  languages: tuple[str, ...] | None = None, log=print) -> dict:
    """The development-set mouth metrics (``devset.evaluate``) of the model audio-only, with each clip's transcript
    (``transcript``: aligned phones for a model with phone input, nothing sealed) and with the transcript sealing
    the aligned /p b m/ too (``transcript_seal``, ``GenerateRequest.transcript_seal``, the runtime default).
    ``languages``: only clips of these languages (written to a temporary development set)."""
    import tempfile

    from thunder_blender.runtime.model import find_model_dir
    from thunder_train.corpus.shards import write_shard
    from thunder_train.devset.evaluate import DevEvalConfig, evaluate_devset
    from thunder_train.evaluation.cli import onnx_sample_fn

    recs = load_dev(devset)
    if languages:
        recs = [r for r in recs if r.lang in languages]
    audio_only = onnx_sample_fn(model_dir if model_dir is not None else find_model_dir())
    directory = model_dir if model_dir is not None else find_model_dir()
    with_transcript = onnx_sample_fn(directory, transcript=True, transcript_seal=True)
    text_only = onnx_sample_fn(directory, transcript=True, transcript_seal=False)

    with tempfile.TemporaryDirectory(prefix="thunder-devsub-") as tmp:
        root = devset
        if languages:
            write_shard(Path(tmp) / "dev" / "shard_00000.npz", recs)
            root = tmp
        return evaluate_devset({"audio_only": audio_only}, root, DevEvalConfig(seeds=tuple(seeds)), target_row=False,
                               log=log, text_variants={"transcript": text_only, "transcript_seal": with_transcript})


def to_markdown(res: dict) -> str:
    lines = ["| group | clips | words | median ms | p90 ms | within 40 ms | word removed: median / p90 ms, noted | "
             "word added: median / p90 ms, noted |", "|---|---|---|---|---|---|---|---|"]

    def f(d: dict | None) -> str:
        return f"{d['median_ms']} / {d['p90_ms']}, {d['noted']}" if d and d["n"] else "-"

    def row(name: str, g: dict) -> None:
        c, rm, ad = g["clean"], g.get("word_removed"), g.get("word_added")
        lines.append(f"| {name} | {g['clips']} | {c['n']} | {c['median_ms']} | {c['p90_ms']} | {c['within_40ms']} | "
                     f"{f(rm)} | {f(ad)} |")

    row("overall", res["overall"])
    for k, g in res["by_language"].items():
        row(f"lang {k}", g)
    for k, g in res["by_style"].items():
        row(f"style {k}", g)
    for k, g in res["english_by_style"].items():
        row(f"en, {k}", g)
    lines += ["", f"Notes at confidence threshold {res['threshold']}. Threshold sweep (share of clean-transcript words "
                  "left to the audio / removed word noted / added word noted):", "",
              "| threshold | all: clean left, removed noted, added noted | en: clean left, removed noted, added noted |",
              "|---|---|---|"]
    for a, e in zip(res["threshold_sweep"]["all"], res["threshold_sweep"]["en"], strict=True):
        lines.append(f"| {a['threshold']} | {a['clean_words_left_to_audio']}, {a['removed_noted']}, "
                     f"{a['added_noted']} | {e['clean_words_left_to_audio']}, {e['removed_noted']}, "
                     f"{e['added_noted']} |")
    c = res["cost"]
    lines += ["", f"Alignment cost: {c['align_ms_per_audio_s']} ms per second of audio "
                  f"({c['align_s_total']} s for {c['clips']} clips; slowest clip {c['align_ms_max']} ms)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devset", default="data/devset")
    ap.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the removed / added words")
    ap.add_argument("--out", default="data/eval/transcript_align.json")
    ap.add_argument("--ref-cache", default="data/eval/transcript_ref_words.json",
                    help="pocketsphinx reference words per clip (made when missing)")
    ap.add_argument("--seal-ablation", action="store_true",
                    help="instead: mouth metrics audio-only vs. transcript-sealed /p b m/ (4 seeds; all clips, then "
                         "English only)")
    args = ap.parse_args(argv)
    if args.seal_ablation:
        from thunder_train.devset.evaluate import to_markdown as dev_markdown

        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        res = {"all": seal_ablation(args.devset, args.model), "en": seal_ablation(args.devset, args.model,
                                                                                  languages=("en",))}
        out.write_text(json.dumps(res, indent=1))
        md = "\n".join(f"## {k} clips\n\n{dev_markdown(v)}" for k, v in res.items())
        out.with_suffix(".md").write_text(md)
        print(md)
        return 0
    res = evaluate(args.devset, args.model, args.seed, ref_cache=args.ref_cache)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    out.with_suffix(".md").write_text(to_markdown(res))
    print(to_markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
