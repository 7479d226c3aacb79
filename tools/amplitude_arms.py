"""Short training comparison of amplitude levers (hand-run; results in docs/TRAINING.md).

    .venv/bin/python tools/amplitude_arms.py --corpus data/corpus_mid --steps 1500 --name base \\
        --set w_extremum=0.0 --out out/arms

Trains the recipe's ``diffusion_base`` run with ``--steps`` steps (warm-up and cosine decay scaled to
them, same seed for every arm), with the given TrainConfig overrides, then scores the test split with one
take per utterance (seed 0, DDIM 8 steps, mouth temperature 0 and 1): the articulator peak-amplitude
ratios (thunder_train.evaluation.amplitude), the peaks against the articulation poses, and lip PCC (the
demo head's mouth opening against the target's, mean over utterances).
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from thunder_train.corpus.dataset import load_split
from thunder_train.evaluation import amplitude as amp
from thunder_train.evaluation.metrics import pcc
from thunder_train.evaluation.run import Geometry
from thunder_train.infer import sample_takes
from thunder_train.recipe import Recipe
from thunder_train.train import save_checkpoint, train

FPS = 50.0


def score(gen, utts: list, temperature: float, geo: Geometry) -> dict:
    peaks: dict[str, list] = {}
    lip = []
    for u in utts:
        take = sample_takes(gen, u.audio, [0], steps=8, n_frames=len(u.perf), mouth_temperature=temperature)[0]
        amp.merge(peaks, amp.segment_peaks(take, u.perf, u.segments, FPS))
        lip.append(pcc(geo.measure(take)["gap_mm"], geo.measure(u.perf)["gap_mm"]))
    return {"peak_ratio": amp.summary(peaks), "lip_pcc": round(float(np.mean(lip)), 4)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--corpus", required=True)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--augment", action="store_true", help="training-time augmentation (default off for arms)")
    p.add_argument("--name", required=True)
    p.add_argument("--set", action="append", default=[], help="TrainConfig field=value")
    p.add_argument("--out", type=Path, default=Path("out/arms"))
    a = p.parse_args()
    recipe = Recipe.load()
    cfg = recipe.train_config("diffusion_base")
    over = {}
    for item in a.set:
        k, v = item.split("=", 1)
        over[k] = type(getattr(cfg, k))(float(v) if isinstance(getattr(cfg, k), float) else v)
    cfg = replace(cfg, steps=a.steps, warmup=max(1, a.steps // 30), eval_every=0, log_every=100,
                  checkpoint_every=10 ** 9, batch=replace(cfg.batch, batch=a.batch, augment=a.augment), **over)
    train_utts = load_split(a.corpus, "train")
    test = load_split(a.corpus, "test")
    t0 = time.monotonic()
    gen, info = train(cfg, train_utts, log=print)
    a.out.mkdir(parents=True, exist_ok=True)
    save_checkpoint(gen, cfg, info, a.out / f"{a.name}.pt")
    geo = Geometry()
    res = {"name": a.name, "corpus": a.corpus, "steps": a.steps, "batch": a.batch, "augment": a.augment,
           "overrides": over, "seed": cfg.seed, "train_seconds": round(time.monotonic() - t0, 1),
           "final_losses": info["final_losses"], "test_utterances": len(test)}
    with torch.no_grad():
        for t in (0.0, 1.0):
            res[f"T={t:g}"] = score(gen, test, t, geo)
    (a.out / f"{a.name}.json").write_text(json.dumps(res, indent=1, ensure_ascii=False))
    print(json.dumps(res, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
