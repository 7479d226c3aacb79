"""Fit a model's viseme split (``core.visemes.VisemeSplit``) to its own mouth.

The phone head says "mid vowel" or "rounded vowel"; which viseme of the two (E or I, O or U) is decided by the
take's mouth. How open the jaw is on an /i/ depends on the model (its amplitude, its coarticulation), so the
split is fitted per exported model: the model generates one take of every calibration utterance, and a
logistic regression on the mean mouth features of each vowel interval separates the corpus's own vowel
labels (the articulation poses ``i ɪ`` -> I, ``e ɛ`` -> E, ``u ʊ w`` -> U, ``o ɔ`` -> O).

Calibration utterances: the corpus's synthetic ``val`` split and its recorded ``real_val`` speakers other
than the Asterisk prompts (those are the viseme evaluation's set, ``evaluation.viseme_eval``, which stays
independent of the fit).

    python -m thunder_train.viseme_split --model data/pipeline/variants/diffusion_m2s_sync --write
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from thunder_blender.core.channels import INDEX
from thunder_blender.core.visemes import DEFAULT_SPLIT, VisemeSplit

GROUPS = {"e": ({"e", "ɛ"}, {"i", "ɪ"}), "o": ({"o", "ɔ"}, {"u", "ʊ", "w"})}   # (positive, negative) poses
MIN_PER_CLASS = 20     # fewer labelled intervals of either side: keep the default split
RIDGE = 1e-2


def features(perf: np.ndarray, group: str) -> np.ndarray:
    """(T, 3) the split's features: e: jawOpen, smile, stretch; o: jawOpen, pucker, funnel (``VisemeSplit``)."""
    a = np.asarray(perf, np.float64)
    jaw = a[:, INDEX["jawOpen"]]
    if group == "e":
        return np.stack([jaw, 0.5 * (a[:, INDEX["mouthSmileLeft"]] + a[:, INDEX["mouthSmileRight"]]),
                         0.5 * (a[:, INDEX["mouthStretchLeft"]] + a[:, INDEX["mouthStretchRight"]])], axis=1)
    return np.stack([jaw, a[:, INDEX["mouthPucker"]], a[:, INDEX["mouthFunnel"]]], axis=1)


def intervals(perf: np.ndarray, segments: list, fps: float) -> dict[str, tuple[list, list]]:
    """Per group: (mean features of each interval, 1 for the positive side / 0) over the labelled segments."""
    out: dict[str, tuple[list, list]] = {g: ([], []) for g in GROUPS}
    n = len(perf)
    for pose, _cls, s, e in segments:
        a, b = int(round(s * fps)), min(n, int(round(e * fps)))
        if b <= a:
            continue
        for g, (pos, neg) in GROUPS.items():
            if pose in pos or pose in neg:
                out[g][0].append(features(perf[a:b], g).mean(axis=0))
                out[g][1].append(1.0 if pose in pos else 0.0)
    return out


def fit_logistic(x: np.ndarray, y: np.ndarray, ridge: float = RIDGE, iters: int = 50) -> np.ndarray:
    """Weights (1 + F,) of ``sigmoid(w0 + x @ w[1:])`` by Newton's method with an L2 ridge on w[1:].
    x: (N, F), y: (N,) in {0, 1}. Deterministic."""
    X = np.concatenate([np.ones((len(x), 1)), np.asarray(x, np.float64)], axis=1)
    w = np.zeros(X.shape[1])
    reg = np.full(X.shape[1], ridge)
    reg[0] = 0.0
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(X @ w, -30, 30)))
        grad = X.T @ (p - y) + reg * w
        hess = (X * (p * (1 - p))[:, None]).T @ X + np.diag(reg) + 1e-9 * np.eye(X.shape[1])
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def accuracy(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(((w[0] + np.asarray(x) @ w[1:]) > 0) == (np.asarray(y) > 0.5)))


def calibration_records(corpus: Path, max_items: int = 300, seed: int = 0) -> list:
    """The calibration utterances (see the module docstring), at most ``max_items``, a seeded sample."""
    from thunder_train.corpus.shards import read_shard

    recs = []
    for split in ("val", "real_val"):
        for f in sorted((Path(corpus) / split).glob("shard_*.npz")):
            recs += [r for r in read_shard(f) if not r.source.startswith("asterisk") and r.segments]
    if len(recs) > max_items:
        idx = np.random.default_rng(seed).choice(len(recs), max_items, replace=False)
        recs = [recs[i] for i in sorted(idx)]
    return recs


def fit_split(model_dir: Path, corpus: Path, max_items: int = 300, log=print) -> tuple[VisemeSplit | None, dict]:
    """The fitted split of the model in ``model_dir`` (None when there are too few labelled intervals) and a
    report: intervals per group, accuracy of the default and the fitted split on them."""
    from thunder_blender.runtime.generate import GenerateRequest, generate
    from thunder_blender.runtime.model import load_model

    model = load_model(model_dir, providers=["CPUExecutionProvider"])
    data: dict[str, tuple[list, list]] = {g: ([], []) for g in GROUPS}
    for k, r in enumerate(calibration_records(corpus, max_items)):
        takes = generate(GenerateRequest(pcm=np.asarray(r.audio, np.float32) / 32768.0, sample_rate=16000,
                                         n_takes=1, take_seeds=(k,), eye_layer=False), model)
        for g, (xs, ys) in intervals(takes.weights[0], r.segments, takes.fps).items():
            data[g][0].extend(xs)
            data[g][1].extend(ys)
    report: dict = {}
    weights = {}
    for g, (xs, ys) in data.items():
        x, y = np.asarray(xs, np.float64).reshape(-1, 3), np.asarray(ys, np.float64)
        n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
        default = np.asarray(getattr(DEFAULT_SPLIT, g))
        report[g] = {"intervals": len(y), "positive": n_pos, "negative": n_neg,
                     "default_accuracy": round(accuracy(default, x, y), 4) if len(y) else None}
        if min(n_pos, n_neg) < MIN_PER_CLASS:
            log(f"viseme split: {g}: {n_pos} / {n_neg} intervals, too few to fit; the default split stays")
            return None, report
        weights[g] = fit_logistic(x, y)
        report[g]["fitted_accuracy"] = round(accuracy(weights[g], x, y), 4)
    split = VisemeSplit(e=tuple(float(v) for v in weights["e"]), o=tuple(float(v) for v in weights["o"]))
    log(f"viseme split fitted on {report['e']['intervals']} mid and {report['o']['intervals']} rounded vowels: "
        f"E/I {report['e']['default_accuracy']} -> {report['e']['fitted_accuracy']}, "
        f"O/U {report['o']['default_accuracy']} -> {report['o']['fitted_accuracy']}")
    return split, report


def write_split(model_dir: Path, corpus: Path, log=print) -> dict:
    """Fit and store the split in ``model_dir/model.json`` (``viseme_split``, report in ``viseme_split_fit``)."""
    from thunder_blender.runtime.card import ModelCard

    split, report = fit_split(model_dir, corpus, log=log)
    card = ModelCard.read(model_dir / "model.json").with_changes(
        viseme_split=None if split is None else split.to_dict(), viseme_split_fit=report)
    card.write(model_dir / "model.json")
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True, help="exported model directory")
    ap.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    ap.add_argument("--write", action="store_true", help="store the split in the model's card")
    args = ap.parse_args(argv)
    if args.write:
        print(json.dumps(write_split(args.model, args.corpus), indent=1))
    else:
        split, report = fit_split(args.model, args.corpus)
        print(json.dumps({"split": None if split is None else split.to_dict(), "report": report}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
