"""``thunder-train train``: train one generator variant on a corpus and save its checkpoint.

    thunder-train train --corpus data/corpus --variant diffusion --minutes 10 --out runs/diffusion.pt
    thunder-train train --corpus data/corpus --variant diffusion_m2s --m2s runs/judges/m2s.pt \
        --init-from runs/diffusion_base.pt --minutes 4 --out runs/diffusion_m2s.pt
"""
from __future__ import annotations

import os

# Passive OpenMP waiting: on a shared 2-core machine spinning threads made a training step 3-10x slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
from dataclasses import replace
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from thunder_train.data import BatchConfig, load_utterances  # noqa: E402
from thunder_train.train import VARIANTS, TrainConfig, save_checkpoint, train  # noqa: E402

TRAIN_SPLITS = ("train", "real_train")


def validation_splits(root: str | Path) -> tuple[str, ...]:
    """real_val when the corpus has it (recorded speech, never trained on), else the synthetic val split."""
    return ("real_val",) if (Path(root) / "real_val").is_dir() else ("val",)


def closure_validation(utts: list, max_utts: int = 40, steps: int = 4, seed: int = 0):
    """Returns ``val_fn(gen) -> dict``: closure accuracy and mouth error of one take per utterance.

    closure_acc: fraction of the corpus's closure frames on which the generated lips are sealed
    (``corpus.articulation.lips_sealed``, channel-level, tolerance 0.05);
    closure_acc_frames: the number of such frames; mouth_mae: mean absolute error on the mouth channels.
    """
    from thunder_blender.core.channels import MOUTH_INDEX
    from thunder_train.corpus.articulation import lips_sealed
    from thunder_train.infer import sample_takes

    rng = np.random.default_rng(seed)
    chosen = [utts[i] for i in sorted(rng.choice(len(utts), size=min(max_utts, len(utts)), replace=False))]

    def val_fn(gen) -> dict:
        sealed, total, mae = 0, 0, []
        for k, u in enumerate(chosen):
            take = sample_takes(gen, u.audio, [seed + k], steps=steps, n_frames=len(u.perf))[0]
            mask = np.asarray(u.closure, bool)
            sealed += int(lips_sealed(take)[mask].sum())
            total += int(mask.sum())
            mae.append(float(np.abs(take[:, MOUTH_INDEX] - u.perf[:, MOUTH_INDEX]).mean()))
        return {"closure_acc": round(sealed / max(total, 1), 4), "closure_frames": total,
                "mouth_mae": round(float(np.mean(mae)), 5), "utterances": len(chosen)}

    return val_fn


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    p.add_argument("--variant", choices=VARIANTS, default="diffusion")
    p.add_argument("--out", type=Path, required=True, help="checkpoint path (.pt)")
    p.add_argument("--minutes", type=float, default=10.0, help="wall-clock budget")
    p.add_argument("--steps", type=int, default=20000, help="step budget (whichever ends first)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--crop", type=int, default=200, help="crop length in 50 fps frames")
    p.add_argument("--lr", type=float, default=1.5e-3)
    p.add_argument("--m2s", type=str, default=None, help="frozen M2S checkpoint (diffusion_m2s*)")
    p.add_argument("--sync", type=str, default=None, help="frozen sync-expert checkpoint (diffusion_m2s_sync)")
    p.add_argument("--init-from", type=str, default=None)
    p.add_argument("--w-m2s", type=float, default=None)
    p.add_argument("--w-sync", type=float, default=None)
    p.add_argument("--w-anchor", type=float, default=None, help="upper-face anchor to the --init-from model")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--seed", type=int, default=0)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    cfg = TrainConfig(variant=args.variant, steps=args.steps, max_seconds=60.0 * args.minutes, lr=args.lr,
                      m2s_path=args.m2s, sync_path=args.sync, init_from=args.init_from, seed=args.seed,
                      threads=args.threads,
                      batch=BatchConfig(batch=args.batch, crop=args.crop, augment=not args.no_augment))
    if args.w_m2s is not None:
        cfg = replace(cfg, w_m2s=args.w_m2s)
    if args.w_sync is not None:
        cfg = replace(cfg, w_sync=args.w_sync)
    if args.w_anchor is not None:
        cfg = replace(cfg, w_anchor=args.w_anchor)
    return cfg


def run_training(cfg: TrainConfig, corpus: Path, out: Path, log=print, val_utts: int = 40) -> dict:
    utts = load_utterances(corpus, TRAIN_SPLITS)
    if not utts:
        raise SystemExit(f"no training utterances under {corpus}")
    val = load_utterances(corpus, validation_splits(corpus))
    val_fn = closure_validation(val, max_utts=val_utts) if val else None
    gen, info = train(cfg, utts, log=log, val_fn=val_fn)
    info["corpus"] = str(corpus)
    info["val_split"] = validation_splits(corpus)[0]
    save_checkpoint(gen, cfg, info, out)
    out.with_suffix(".json").write_text(json.dumps(info, indent=1) + "\n")
    log(f"saved {out}")
    return info


def _log(msg: str) -> None:
    print(msg, flush=True)


def run(args: argparse.Namespace) -> int:
    run_training(config_from_args(args), args.corpus, args.out, log=_log)
    return 0
