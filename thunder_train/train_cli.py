"""``thunder-train train``: train one generator run of the recipe on a corpus and save its checkpoint.

    thunder-train train --run diffusion_base --out data/runs/diffusion_base.pt
    thunder-train train --run diffusion_m2s --m2s data/judges/m2s_mouth.pt \
        --init-from data/runs/diffusion.pt --out data/runs/diffusion_m2s.pt
    thunder-train train --run diffusion_base --out data/runs/diffusion_base.pt --resume --max-minutes 170

Every setting comes from the recipe (``thunder_train/recipe.toml``, or ``--recipe``); ``--set KEY=VALUE``
changes one (TOML value syntax, e.g. ``--set generator.runs.diffusion_base.steps=2000``) and the change is
recorded with the recipe in the checkpoint. Step checkpoints and ``metrics.jsonl`` go to ``<out>.ckpt/``
(``--ckpt-dir``). ``--max-minutes`` aborts the session: a checkpoint is written, the command exits with
status 3 and ``--resume`` continues the run to the same weights an uninterrupted run would reach.
"""
from __future__ import annotations

import os

# Passive OpenMP waiting: on a shared 2-core machine spinning threads made a training step 3-10x slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from thunder_train.checkpoint import TimeLimitReached, atomic_write_text  # noqa: E402
from thunder_train.data import load_utterances  # noqa: E402
from thunder_train.recipe import Recipe, RecipeError  # noqa: E402
from thunder_train.train import TrainConfig, save_checkpoint, train  # noqa: E402

EXIT_TIME_LIMIT = 3

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


DEVSET = Path("data/devset")   # `thunder-train devset` output: recorded speech of voices never trained on


def devset_validation(root: Path, per_group: int = 8, steps: int = 4, seed: int = 0):
    """Returns ``val_fn(gen) -> dict`` of ARKit-definition mouth rates on a fixed, style-stratified subset of the
    development set (``per_group`` clips per style group, one take each), or None when ``root`` has no dev set.

    dev_sealed / dev_rounded / dev_open / dev_silent: the rates of ``devset.evaluate`` (``arkit.*``) pooled
    over the subset; dev_round_peak: median generated / target rounding peak; dev_pcc: lip PCC vs target.
    Takes are sampled at mouth temperature 1 (the network's own distribution, like ``closure_validation``);
    the exported model's evaluation uses the shipped temperature.
    """
    from thunder_train.devset.evaluate import DevEvalConfig, _Acc, load_dev, score_clip
    from thunder_train.evaluation import closure as cl
    from thunder_train.evaluation.run import Geometry
    from thunder_train.infer import sample_takes

    try:
        recs = load_dev(root)
    except ValueError:
        return None
    rng = np.random.default_rng(seed)
    chosen = []
    for style in sorted({r.style for r in recs}):
        idx = [i for i, r in enumerate(recs) if r.style == style]
        chosen += [recs[i] for i in sorted(rng.choice(idx, size=min(per_group, len(idx)), replace=False))]
    cfg, geo = DevEvalConfig(), Geometry()

    def val_fn(gen) -> dict:
        acc = _Acc()
        for k, r in enumerate(chosen):
            take = sample_takes(gen, np.asarray(r.audio, np.float32) / 32768.0, [seed + k], steps=steps,
                                n_frames=len(r.perf))[0]
            score_clip(take, r, geo, cfg, acc)
        out = {f"dev_{name}": round(cl.rate(acc.hits.get(f"arkit.{key}", [])), 4) for name, key in (
            ("sealed", "bilabial_sealed"), ("rounded", "rounded_lips"), ("open", "open_jaw"),
            ("silent", "silent_closed"))}
        rr = acc.ratios.get("round", [])
        out["dev_round_peak"] = round(float(np.median(rr)), 4) if rr else None
        out["dev_pcc"] = round(float(np.mean(acc.pcc)), 4)
        out["dev_clips"] = len(chosen)
        return out

    return val_fn


def combined_validation(*fns):
    """One ``val_fn`` whose dict merges those of ``fns`` (None entries skipped); None when all are None."""
    fns = [f for f in fns if f is not None]
    if not fns:
        return None
    return lambda gen: {k: v for f in fns for k, v in f(gen).items()}


def add_recipe_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--recipe", type=Path, default=None, help="recipe file (default thunder_train/recipe.toml)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="change one recipe setting (TOML value), e.g. generator.train.checkpoint_every=500")
    p.add_argument("--smoke", action="store_true", help="the recipe's [smoke] settings (CI-sized)")
    p.add_argument("--resume", action="store_true", help="continue from the newest step checkpoint")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="session time limit: past it, checkpoint and exit with status 3 (the run is not finished)")


def deterministic_process() -> None:
    """Deterministic torch kernels for the whole training process (part of exact resumption; on CPU the
    kernels this project uses have deterministic implementations, so this costs no speed)."""
    import torch

    torch.use_deterministic_algorithms(True)


def load_recipe(args: argparse.Namespace) -> Recipe:
    return Recipe.load(args.recipe, smoke=args.smoke, overrides=args.overrides)


def deadline_of(args: argparse.Namespace) -> float | None:
    return None if args.max_minutes is None else time.monotonic() + 60.0 * args.max_minutes


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, help="generator run of the recipe (e.g. diffusion_base)")
    p.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    p.add_argument("--out", type=Path, required=True, help="checkpoint path (.pt)")
    p.add_argument("--ckpt-dir", type=Path, default=None, help="step checkpoints (default <out>.ckpt)")
    p.add_argument("--m2s", type=str, default=None, help="frozen M2S checkpoint (diffusion_m2s*)")
    p.add_argument("--sync", type=str, default=None, help="frozen sync-expert checkpoint (diffusion_m2s_sync)")
    p.add_argument("--init-from", type=str, default=None, help="checkpoint of the run's `init` run")
    add_recipe_arguments(p)


def config_from_args(args: argparse.Namespace, recipe: Recipe) -> TrainConfig:
    run = recipe.runs.get(args.run)
    if run is None:
        raise RecipeError(f"no generator run {args.run!r} in {recipe.path} (runs: {', '.join(recipe.runs)})")
    if run["init"] and not args.init_from:
        raise RecipeError(f"run {args.run!r} starts from run {run['init']!r}: pass --init-from its checkpoint")
    return recipe.train_config(args.run, m2s_path=args.m2s, sync_path=args.sync, init_from=args.init_from)


def run_training(cfg: TrainConfig, corpus: Path, out: Path, log=print, recipe: Recipe | None = None,
                 ckpt_dir: Path | None = None, resume: bool = False, deadline: float | None = None,
                 devset: Path | None = DEVSET) -> dict:
    """Train one run to ``out`` (.pt, plus .json with its record); step checkpoints in ``ckpt_dir``."""
    utts = load_utterances(corpus, TRAIN_SPLITS)
    if not utts:
        raise SystemExit(f"no training utterances under {corpus}")
    val_split = validation_splits(corpus)[0]
    val = load_utterances(corpus, (val_split,))
    seed = recipe.seed_for("validation.subset") if recipe else 0
    val_fn = combined_validation(closure_validation(val, max_utts=cfg.val_utts, seed=seed) if val else None,
                                 devset_validation(devset, seed=seed) if devset is not None else None)
    provenance = recipe.provenance() if recipe else {}
    gen, info = train(cfg, utts, log=log, val_fn=val_fn, run_dir=ckpt_dir or out.with_suffix(".ckpt"),
                      resume=resume, deadline=deadline, provenance=provenance, val_split=val_split)
    info["corpus"] = str(corpus)
    info["val_split"] = val_split
    if recipe:
        info["recipe_hash"] = recipe.hash
    save_checkpoint(gen, cfg, info, out, provenance)
    atomic_write_text(out.with_suffix(".json"), json.dumps(info, indent=1) + "\n")
    log(f"saved {out}")
    return info


def _log(msg: str) -> None:
    print(msg, flush=True)


def run(args: argparse.Namespace) -> int:
    try:
        recipe = load_recipe(args)
        cfg = config_from_args(args, recipe)
    except RecipeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    deterministic_process()
    try:
        run_training(cfg, args.corpus, args.out, log=_log, recipe=recipe, ckpt_dir=args.ckpt_dir,
                     resume=args.resume, deadline=deadline_of(args))
    except TimeLimitReached as e:
        print(f"STOPPED: {e}", file=sys.stderr, flush=True)
        return EXIT_TIME_LIMIT
    except (FileExistsError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
