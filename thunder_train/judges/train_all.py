"""Train every judge on one corpus: ``train_all_judges(corpus_root, out_dir)`` (the pipeline's entry point).

The mel front end runs once over a random subset of the corpus and is shared by all judges.
Settings and seeds come from the recipe (``thunder_train/recipe.toml`` [judges]); its [smoke] tables train
each judge for a few seconds (pipeline / CI check, not usable as a judge).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from thunder_train.checkpoint import atomic_write_text

from . import PATHS
from .data import _log, load_items, voice_half
from .lipreader import save_lipreader, train_lipreader_items
from .m2s import save_m2s, train_m2s_items
from .sync import save_sync, train_sync_items


def train_all_judges(corpus_root: str | Path, out_dir: str | Path = "data/judges", recipe=None,
                     only: tuple[str, ...] | None = None, deadline: float | None = None, log=_log
                     ) -> dict[str, Path]:
    """Train M2S (mouth and all-channel inputs), two sync experts and the lip reader.

    recipe: ``thunder_train.recipe.Recipe`` (default: ``Recipe.load()``); every setting and seed comes from it.
    only: names from ``judges.PATHS`` to (re)train; the others are left as they are.
    A judge whose checkpoint exists and whose ``judges.json`` entry carries this recipe's hash is kept
    (a stopped pipeline does not retrain it). ``deadline``: see ``nets.fit``.
    Returns {name: checkpoint path}; also writes ``out_dir/judges.json`` with every judge's numbers
    (merged with the numbers of judges trained earlier into the same directory).
    """
    from thunder_train.recipe import Recipe

    recipe = recipe or Recipe.load()
    torch.set_num_threads(recipe.data["runtime"]["judge_threads"])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    old = out / "judges.json"
    report: dict[str, dict] = json.loads(old.read_text()) if old.exists() else {}
    paths: dict[str, Path] = {}
    jobs = _jobs(recipe)
    todo = []
    for name in jobs:
        if only is not None and name not in only:
            continue
        done = (out / PATHS[name]).is_file() and report.get(name, {}).get("recipe_hash") == recipe.hash
        if done and only is None:
            log(f"judges: {name} already trained with recipe {recipe.hash}, kept")
            paths[name] = out / PATHS[name]
        else:
            todo.append(name)
    if todo:
        j = recipe.data["judges"]
        seed = recipe.judge_items_seed()
        train = load_items(corpus_root, ("train", "real_train"), j["max_items"], seed=seed)
        val = load_items(corpus_root, ("val",), j["val_items"], seed=seed)
        log(f"judges: {len(train)} train / {len(val)} val utterances prepared in {time.monotonic() - t0:.0f}s")
    for name in todo:  # priority order: what generator training needs first, evaluation-only judges last
        model, m = jobs[name](train, val, deadline, log)
        m["recipe_hash"] = recipe.hash
        paths[name] = save_judge(name, model, out / PATHS[name], m, recipe)
        report[name] = m
        atomic_write_text(out / "judges.json", json.dumps(report, indent=2, default=str))
    report["_meta"] = {"only": list(only) if only else None, "corpus": str(corpus_root), "trained": todo,
                       "recipe_hash": recipe.hash, "seconds": round(time.monotonic() - t0, 1)}
    atomic_write_text(out / "judges.json", json.dumps(report, indent=2, default=str))
    log(f"judges: done in {time.monotonic() - t0:.0f}s -> {out}")
    return paths


def _jobs(recipe) -> dict:
    """{judge name: train(train_items, val_items, deadline, log) -> (model, metrics)}, in training order."""

    def m2s(inputs: str):
        return lambda tr, va, dl, log: train_m2s_items(tr, va, recipe.m2s_config(inputs), log=log, deadline=dl)

    def sync(name: str, half: int):
        def job(tr, va, dl, log):
            part = voice_half(tr, half)
            model, m = train_sync_items(part, va, recipe.sync_config(name), log=log, deadline=dl)
            m["train_voices"] = len({it.voice for it in part})
            m["n_train_items"] = len(part)
            return model, m
        return job

    return {"m2s_mouth": m2s("mouth"), "sync_loss": sync("sync_loss", 0), "m2s_all": m2s("all"),
            "lipreader": lambda tr, va, dl, log: train_lipreader_items(tr, va, recipe.lipreader_config(), log=log,
                                                                      deadline=dl),
            "sync_eval": sync("sync_eval", 1)}


def save_judge(name: str, model, path: Path, metrics: dict, recipe) -> Path:
    """Atomic save of one judge, with the recipe's provenance next to its numbers."""
    saver = {"m2s_mouth": save_m2s, "m2s_all": save_m2s, "sync_loss": save_sync, "sync_eval": save_sync,
             "lipreader": save_lipreader}[name]
    tmp = path.with_name(f".{path.name}.tmp")
    saver(model, tmp, {**metrics, **recipe.provenance()})
    tmp.replace(path)
    return path


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--corpus", default="data/corpus")
    p.add_argument("--out", default="data/judges")
    p.add_argument("--recipe", default=None, help="recipe file (default thunder_train/recipe.toml)")
    p.add_argument("--smoke", action="store_true", help="the recipe's [smoke] settings")
    p.add_argument("--only", nargs="+", choices=sorted(PATHS), default=None)
    a = p.parse_args(argv)
    from thunder_train.recipe import Recipe

    train_all_judges(a.corpus, a.out, Recipe.load(a.recipe, smoke=a.smoke), only=tuple(a.only) if a.only else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
