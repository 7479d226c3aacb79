"""Train every judge on one corpus: ``train_all_judges(corpus_root, out_dir)`` (the pipeline's entry point).

The mel front end runs once over a random subset of the corpus and is shared by all judges.
``smoke=True`` trains each judge for a few seconds (pipeline / CI check, not usable as a judge).
"""
from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import torch

from . import PATHS
from .data import THREADS, _log, load_items, voice_half
from .lipreader import LipReaderConfig, save_lipreader, train_lipreader_items
from .m2s import M2SConfig, save_m2s, train_m2s_items
from .sync import SyncConfig, save_sync, train_sync_items


def train_all_judges(corpus_root: str | Path, out_dir: str | Path = "data/judges", smoke: bool = False,
                     max_items: int = 6000, only: tuple[str, ...] | None = None, log=_log) -> dict[str, Path]:
    """Train M2S (mouth and all-channel inputs), two sync experts and the lip reader.

    only: names from ``judges.PATHS`` to (re)train; the others are left as they are.
    Returns {name: checkpoint path}; also writes ``out_dir/judges.json`` with every judge's numbers
    (merged with the numbers of judges trained earlier into the same directory).
    """
    torch.set_num_threads(THREADS)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    train = load_items(corpus_root, ("train", "real_train"), 64 if smoke else max_items, seed=0)
    val = load_items(corpus_root, ("val",), 16 if smoke else 300, seed=0)
    log(f"judges: {len(train)} train / {len(val)} val utterances prepared in {time.monotonic() - t0:.0f}s")
    fast = {"steps": 40, "max_seconds": 20.0, "batch": 8} if smoke else {}
    old = out / "judges.json"
    report: dict[str, dict] = json.loads(old.read_text()) if old.exists() else {}
    paths: dict[str, Path] = {}

    def m2s(inputs: str, budget: float | None) -> None:
        cfg = replace(M2SConfig(inputs=inputs), **fast)
        if budget is not None and not smoke:
            cfg = replace(cfg, max_seconds=budget)
        model, m = train_m2s_items(train, val, cfg, log=log)
        name = f"m2s_{inputs}"
        paths[name] = save_m2s(model, out / PATHS[name], m)
        report[name] = m

    def sync(name: str, half: int, seed: int) -> None:
        cfg = replace(SyncConfig(seed=seed), **fast)
        part = voice_half(train, half)
        model, m = train_sync_items(part, val, cfg, log=log)
        m["train_voices"] = len({it.voice for it in part})
        m["n_train_items"] = len(part)
        paths[name] = save_sync(model, out / PATHS[name], m)
        report[name] = m

    def lipreader() -> None:
        cfg = replace(LipReaderConfig(), **fast)
        model, m = train_lipreader_items(train, val, cfg, log=log)
        paths["lipreader"] = save_lipreader(model, out / PATHS["lipreader"], m)
        report["lipreader"] = m

    # priority order: what generator training needs first, evaluation-only judges last
    jobs = (("m2s_mouth", lambda: m2s("mouth", None)), ("sync_loss", lambda: sync("sync_loss", 0, 0)),
            ("m2s_all", lambda: m2s("all", 300.0)), ("lipreader", lipreader),
            ("sync_eval", lambda: sync("sync_eval", 1, 1)))
    for name, job in jobs:
        if only is not None and name not in only:
            continue
        job()
        (out / "judges.json").write_text(json.dumps(report, indent=2, default=str))

    report["_meta"] = {"only": list(only) if only else None, "corpus": str(corpus_root), "n_train": len(train), "n_val": len(val), "smoke": smoke,
                       "seconds": round(time.monotonic() - t0, 1)}
    (out / "judges.json").write_text(json.dumps(report, indent=2, default=str))
    log(f"judges: done in {time.monotonic() - t0:.0f}s -> {out}")
    return paths


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--corpus", default="data/corpus")
    p.add_argument("--out", default="data/judges")
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--max-items", type=int, default=6000)
    p.add_argument("--only", nargs="+", choices=sorted(PATHS), default=None)
    a = p.parse_args(argv)
    train_all_judges(a.corpus, a.out, smoke=a.smoke, max_items=a.max_items,
                     only=tuple(a.only) if a.only else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
