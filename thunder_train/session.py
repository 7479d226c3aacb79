"""``thunder-train session``: carry a long retraining from one machine to the next through git.

    thunder-train session save    [--work data/pipeline] [--corpus data/corpus] [--dir training/resume]
                                  [--cache data/cache] [--alignments training/alignments] [--devset data/devset]
    thunder-train session restore [--work data/pipeline] [--corpus data/corpus] [--dir training/resume]

A retraining runs over several sessions; ``data/`` is not committed and the machine may be replaced in
between. ``save`` copies what the next session needs into a small committed directory and writes its
``manifest.json``; ``restore`` checks it and puts the files back under ``--work``. What is kept:

- the judges (``judges/*.pt``, ``judges.json``): a few hundred kB each;
- every finished generator run's final weights (``runs/<run>.pt`` + ``.json``, ~6 MB each), which later
  runs start from and the export reads;
- the newest step checkpoint of the run in progress (``runs/<run>.ckpt/step_*.pt``: weights, AdamW moments,
  RNG and sampler states, ~17 MB) and every run's ``metrics.jsonl`` (the training curves);
- the manifest: recipe hash, settings, root seed and the corpus seed / hours / shard hashes (and each
  shard's per-array digests, so a restore can tell which arrays of a rebuilt shard differ), so the corpus
  is rebuilt identically (``thunder-train corpus --out data/corpus``) and checked, not copied (gigabytes);
- the forced alignments of the recorded speech in ``--cache`` (``corpus.alignments``, written to
  ``--alignments``, default ``training/alignments``), so that rebuild decodes the recordings instead of
  aligning them again (two hours on two cores), and the development set's (``<--devset>/devset.npz``,
  copied to ``<--alignments>/devset.npz``; ``thunder-train devset`` reads it and aligns only what differs).

``restore`` refuses a manifest written with another recipe (hash) and files whose sha256 differ from it;
it exits with status 4 when the files were restored but the corpus is missing or differs from the one
the manifest describes.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

from thunder_train.checkpoint import RunDir, atomic_write_text
from thunder_train.recipe import Recipe, RecipeError

FORMAT = 1
MANIFEST = "manifest.json"
DEFAULT_DIR = Path("training/resume")


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def shard_arrays(path: Path) -> dict[str, str]:
    """{array name: sha256 (16 hex digits) of its values} of one shard, so that a rebuild that differs can
    say what differs (the audio's float rounding, or the texts, labels and targets); {} for a file numpy
    cannot read."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: hashlib.sha256(np.ascontiguousarray(f[k]).tobytes()).hexdigest()[:16] for k in sorted(f.files)}
    except (OSError, ValueError):
        return {}


def corpus_identity(corpus: Path, arrays: bool = False) -> dict:
    """Seed, hours and per-shard sha256 of a built corpus (what a rebuild must reproduce); with ``arrays``,
    also each shard's per-array digests (``shard_arrays``)."""
    meta_path = corpus / "meta.json"
    if not meta_path.is_file():
        return {}
    meta = json.loads(meta_path.read_text())
    paths = sorted(corpus.glob("*/shard_*.npz"))
    out = {"seed": meta.get("seed"), "hours_requested": meta.get("hours_requested"),
           "shards": {str(p.relative_to(corpus)): sha256(p) for p in paths}}
    if arrays:
        out["arrays"] = {str(p.relative_to(corpus)): shard_arrays(p) for p in paths}
    return out


def differing_arrays(want: dict[str, dict[str, str]], corpus: Path, shards: list[str]) -> dict[str, int]:
    """{array name: number of ``shards`` in which it differs from ``want``} (shards the manifest has array
    digests for)."""
    count: dict[str, int] = {}
    for rel in shards:
        if rel not in want or not (corpus / rel).is_file():
            continue
        have = shard_arrays(corpus / rel)
        for name in sorted(set(want[rel]) | set(have)):
            if want[rel].get(name) != have.get(name):
                count[name] = count.get(name, 0) + 1
    return count


def session_files(work: Path, recipe: Recipe) -> tuple[dict[str, Path], dict[str, str]]:
    """{path relative to work: file} to keep, and each recipe run's state ("finished", "step N", "not started")."""
    from thunder_train.judges import PATHS

    files: dict[str, Path] = {}
    for f in list(PATHS.values()) + ["judges.json"]:
        if (work / "judges" / f).is_file():
            files[f"judges/{f}"] = work / "judges" / f
    runs = work / "runs"
    states: dict[str, str] = {}
    for name in recipe.runs:
        final, record, ckdir = runs / f"{name}.pt", runs / f"{name}.json", RunDir(runs / f"{name}.ckpt")
        if final.is_file() and record.is_file() and json.loads(record.read_text()).get("recipe_hash") == recipe.hash:
            files[f"runs/{name}.pt"], files[f"runs/{name}.json"] = final, record
            states[name] = "finished"
        elif ckdir.latest() is not None:
            latest = ckdir.latest()
            files[f"runs/{name}.ckpt/{latest.name}"] = latest
            states[name] = f"step {int(latest.stem.split('_')[1])}"
        else:
            states[name] = "not started"
        if ckdir.metrics_path.is_file():
            files[f"runs/{name}.ckpt/metrics.jsonl"] = ckdir.metrics_path
    if (runs / "training.json").is_file():
        files["runs/training.json"] = runs / "training.json"
    return files, states


def save_session(work: Path, corpus: Path, dest: Path, recipe: Recipe, log=print,
                 cache: Path | None = None, alignments: Path | None = None, devset: Path | None = None) -> dict:
    """Copy the files to keep into ``dest`` (replacing what an earlier save left there) + manifest.json, and
    export the alignments of ``cache`` and of the development set built in ``devset`` into ``alignments``
    (all optional)."""
    from thunder_train.corpus.alignments import copy, export
    from thunder_train.devset.build import ALIGNMENTS_NAME
    from thunder_train.export import git_commit

    if cache is not None and alignments is not None:
        exported = export(cache, alignments, log)
        log(f"alignments of {sum(exported.values())} clips in {alignments}: {exported}")
    if devset is not None and alignments is not None and (devset / ALIGNMENTS_NAME).is_file():
        written = copy(devset / ALIGNMENTS_NAME, alignments / ALIGNMENTS_NAME)
        log(f"development-set alignments {'copied to' if written else 'unchanged in'} {alignments / ALIGNMENTS_NAME}")

    files, states = session_files(work, recipe)
    dest.mkdir(parents=True, exist_ok=True)
    for old in sorted(dest.rglob("*"), reverse=True):
        if old.is_file() and old.name != MANIFEST and str(old.relative_to(dest)) not in files:
            old.unlink()
        elif old.is_dir() and not any(old.iterdir()):
            old.rmdir()
    entries = {}
    for rel, src in files.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = sha256(src)
        if not target.is_file() or sha256(target) != digest:
            tmp = target.with_name(f".{target.name}.tmp")
            shutil.copyfile(src, tmp)
            tmp.replace(target)
        entries[rel] = {"sha256": digest, "bytes": src.stat().st_size}
    manifest = {
        "format": FORMAT, "recipe_hash": recipe.hash, "recipe_smoke": recipe.smoke,
        "recipe_overrides": list(recipe.overrides), "root_seed": recipe.seed, "recipe": recipe.data,
        "corpus": {"path": str(corpus), "seed": recipe.build_config(corpus).seed,
                   "hours": recipe.build_config(corpus).hours, **corpus_identity(corpus, arrays=True)},
        "runs": states, "files": entries, "commit": git_commit(Path(__file__).resolve().parents[1]),
    }
    atomic_write_text(dest / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    total = sum(e["bytes"] for e in entries.values())
    log(f"session saved to {dest}: {len(entries)} files, {total / 1e6:.1f} MB; runs {states}")
    return manifest


def restore_session(src: Path, work: Path, corpus: Path, recipe: Recipe, log=print) -> dict:
    """Check ``src``'s manifest against ``recipe`` and copy its files under ``work``. Returns the manifest.

    Raises ValueError (nothing copied) on another recipe or a file whose sha256 differs from the manifest.
    A missing or different corpus is reported in the returned ``corpus_check`` (rebuild it first).
    """
    manifest = json.loads((src / MANIFEST).read_text())
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{src / MANIFEST}: unknown format {manifest.get('format')}")
    if manifest["recipe_hash"] != recipe.hash:
        raise ValueError(f"{src} was saved with recipe {manifest['recipe_hash']}, this recipe is {recipe.hash} "
                         f"(smoke={recipe.smoke}, overrides={list(recipe.overrides)}): load the same settings")
    for rel, e in manifest["files"].items():
        if not (src / rel).is_file() or sha256(src / rel) != e["sha256"]:
            raise ValueError(f"{src / rel} is missing or differs from the manifest")
    for rel in manifest["files"]:
        target = work / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(src / rel, tmp)
        tmp.replace(target)
    want = manifest["corpus"]
    have = corpus_identity(corpus)
    if not have:
        smoke = " --smoke" if recipe.smoke else ""
        check = (f"missing: build it with `thunder-train corpus{smoke} --out {corpus}` "
                 f"(seed {want['seed']}, {want['hours']} h)")
    elif have["seed"] != want["seed"] or have["hours_requested"] != want["hours"]:
        check = f"DIFFERENT settings: seed {have['seed']}, {have['hours_requested']} h (want {want['seed']}, {want['hours']} h)"
    elif want.get("shards") and have["shards"] != want["shards"]:
        bad = sorted(k for k in set(want["shards"]) | set(have["shards"])
                     if want["shards"].get(k) != have["shards"].get(k))
        check = f"DIFFERENT content in {len(bad)} shard(s), e.g. {bad[:3]}: the runs will not continue bit-exactly"
        if want.get("arrays"):
            diff = differing_arrays(want["arrays"], corpus, bad)
            same = sorted(set().union(*(want["arrays"].get(k, {}) for k in bad)) - set(diff))
            check += (f"; arrays that differ (in how many of those shards): {diff}; identical: {same}" if diff
                      else "; every array is identical (only the files' bytes differ)")
    else:
        check = "identical"
    manifest["corpus_check"] = check
    log(f"session restored into {work}: runs {manifest['runs']}; corpus {corpus}: {check}")
    return manifest


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("save", "restore"))
    p.add_argument("--work", type=Path, default=Path("data/pipeline"))
    p.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    p.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="the committed session directory")
    p.add_argument("--cache", type=Path, default=Path("data/cache"), help="the corpus build's cache (save)")
    p.add_argument("--alignments", type=Path, default=Path("training/alignments"),
                   help="where save exports the cache's forced alignments (committed; the corpus build reads them)")
    p.add_argument("--devset", type=Path, default=Path("data/devset"),
                   help="the development set's build, whose alignments save copies to --alignments")
    p.add_argument("--recipe", type=Path, default=None)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--smoke", action="store_true")


def run(args: argparse.Namespace) -> int:
    try:
        recipe = Recipe.load(args.recipe, smoke=args.smoke, overrides=args.overrides)
        if args.action == "save":
            save_session(args.work, args.corpus, args.dir, recipe, cache=args.cache, alignments=args.alignments,
                         devset=args.devset)
            return 0
        m = restore_session(args.dir, args.work, args.corpus, recipe)
    except (RecipeError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0 if m["corpus_check"] == "identical" else 4
