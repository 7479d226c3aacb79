"""Blink and gaze statistics of generated takes on recorded speech (the Asterisk dev prompts).

    python -m thunder_train.evaluation.blinks --seconds 120 --takes 4 --out /tmp/blinks.json

Per language (en, es, fr), the ``real_val`` prompts (``corpus.real.prompt_split``, seed 0) are decoded and
joined, with seeded pauses of 0.3-1.2 s between prompts, into one clip of about ``--seconds``. Takes are
generated once with the eye layer off (the model alone); the same takes with the layer are made by
``runtime.generate.add_eye_layer`` with each take's seed, which is exactly what ``generate`` does when the
layer is on. Blinks are counted by ``core.blinks.measure_blinks``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from thunder_blender.core import activity, blinks, features, gaze
from thunder_blender.runtime.generate import GenerateRequest, add_eye_layer, generate
from thunder_blender.runtime.model import load_model

from ..corpus.real import SETS, SOUNDS, decode, prompt_split, transcripts

SR = 16000


def dev_clip(lang: str, seconds: float, seed: int = 0) -> np.ndarray:
    """(S,) float32 16 kHz: ``real_val`` prompts of ``lang`` joined with seeded pauses, about ``seconds`` long."""
    rng = np.random.default_rng([seed, sum(map(ord, lang))])
    names = sorted(n for n in transcripts(lang) if prompt_split(n, 0) == "real_val")
    parts, total = [], 0.0
    for name in names:
        path = SOUNDS / SETS[lang] / f"{name}.g722"
        if not path.is_file():
            continue
        x = decode(path)
        gap = np.zeros(int(rng.uniform(0.3, 1.2) * SR), np.float32)
        parts += [x, gap]
        total += (len(x) + len(gap)) / SR
        if total >= seconds:
            break
    return np.concatenate(parts)


def summarise(stats: list[blinks.BlinkStats]) -> dict:
    secs = sum(s.seconds for s in stats)
    peaks = np.concatenate([np.minimum(s.peaks_left, s.peaks_right) for s in stats]) if stats else np.zeros(0)
    durs = np.concatenate([s.durations for s in stats]) if stats else np.zeros(0)
    lags = np.concatenate([s.lag for s in stats]) if stats else np.zeros(0)
    rates = [s.rate_per_min for s in stats]

    def q(a: np.ndarray, p: float) -> float | None:
        return float(np.percentile(a, p)) if a.size else None

    return {"seconds": round(secs, 1), "blinks": int(durs.size), "rate_per_min": round(60 * durs.size / secs, 2),
            "rate_per_take_min_max": [round(min(rates), 1), round(max(rates), 1)],
            "peak_min": q(peaks, 0), "peak_median": q(peaks, 50), "full_share": float(np.mean(peaks >= 0.9))
            if peaks.size else None,
            "duration_ms_min_median_max": [None if q(durs, p) is None else round(1000 * q(durs, p))
                                           for p in (0, 50, 100)],
            "lag_ms_max": None if not lags.size else round(1000 * float(lags.max()), 1)}


def gaze_hold_share(perf: np.ndarray, fps: float, still: float = 0.05) -> float:
    """Share of frames on which the gaze holds still (moves slower than ``still`` channel units per second)."""
    x, y = gaze.read_gaze(perf)
    v = np.hypot(np.diff(x), np.diff(y)) * fps
    return float(np.mean(v < still))


def near_pause(pause: np.ndarray, fps: float, widen_s: float = 0.25) -> np.ndarray:
    """(T,) bool: pause frames widened by ``widen_s`` on both sides (phrase boundaries)."""
    w = int(round(widen_s * fps))
    return np.convolve(pause.astype(float), np.ones(2 * w + 1), mode="same") > 0


def pause_share(onsets: np.ndarray, near: np.ndarray, fps: float) -> float:
    """Share of blink onsets that fall on ``near`` frames."""
    idx = np.clip(np.round(onsets * fps).astype(int), 0, len(near) - 1)
    return float(near[idx].mean()) if idx.size else float("nan")


def corpus_reference(n_utts: int = 400, seconds: float = 6.1, seed: int = 0) -> dict:
    """The training corpus's blink layer (``corpus.expression.add_expression``, speaker styles drawn as in the
    corpus build) on ``n_utts`` utterances of ``seconds`` (the mean train utterance length), counted by the
    same rule as the generated takes."""
    from ..corpus.expression import ExpressionStyle, add_expression

    rng = np.random.default_rng(seed)
    fps = 50.0
    stats = []
    for _ in range(n_utts):
        perf = np.zeros((int(round(seconds * fps)), 55))
        add_expression(perf, fps, [], np.zeros(0), 1, 0.0, ExpressionStyle.sample(rng), rng)
        stats.append(blinks.measure_blinks(perf, fps))
    return summarise(stats)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=120.0, help="clip length per language")
    ap.add_argument("--takes", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    model = load_model()
    res: dict = {"langs": {}}
    model_stats, layer_stats, holds_model, holds_layer, in_pause, pause_time = [], [], [], [], [], []
    for lang in ("en", "es", "fr"):
        pcm = dev_clip(lang, args.seconds, args.seed)
        takes = generate(GenerateRequest(pcm=pcm, sample_rate=SR, n_takes=args.takes, seed=args.seed,
                                         eye_layer=False), model)
        fps = takes.fps
        n = takes.weights.shape[1]
        pause = activity.pause_frames(pcm, SR, fps, n)
        near = near_pause(pause, fps)
        pause_time.append(float(near.mean()))
        ms, ls = [], []
        for perf, seed in zip(takes.weights, takes.seeds, strict=True):
            ms.append(blinks.measure_blinks(perf, fps))
            lay = add_eye_layer(perf, fps, pause, seed)
            ls.append(blinks.measure_blinks(lay, fps))
            holds_model.append(gaze_hold_share(perf, fps))
            holds_layer.append(gaze_hold_share(lay, fps))
            in_pause.append(pause_share(ls[-1].onsets, near, fps))
        res["langs"][lang] = {"audio_s": round(len(pcm) / SR, 1), "model": summarise(ms), "layer": summarise(ls)}
        model_stats += ms
        layer_stats += ls
        print(lang, json.dumps(res["langs"][lang]), file=sys.stderr, flush=True)
    res["all"] = {"model": summarise(model_stats), "layer": summarise(layer_stats),
                  "corpus_layer_reference": corpus_reference(),
                  "gaze_frames_holding_still": {"model": round(float(np.mean(holds_model)), 3),
                                                  "layer": round(float(np.mean(holds_layer)), 3)},
                  "blink_onsets_near_pauses": round(float(np.nanmean(in_pause)), 3),
                  "time_share_near_pauses": round(float(np.mean(pause_time)), 3),
                  "takes": args.takes, "seed": args.seed, "features_sr": features.SAMPLE_RATE}
    text = json.dumps(res, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
