"""Mouth-shape metrics on the development set, per style group and overall, both definitions.

    evaluate_devset({"shipped": sample_fn}, "data/devset")   # -> dict (devset_metrics.json)

For every variant, take seed and clip: the mesh definitions (``evaluation.closure``, demo head, mm) and the
ARKit-weight definitions (``evaluation.arkit``) are scored against the clip's aligned phone classes; the
peak-amplitude ratios compare with the clip's articulation-model target (``perf`` in the shard), and lip
PCC is the correlation of the mouth opening with that target's. Rates pool the intervals (or frames) of a
group for one seed; the table gives mean and std over seeds. Peak ratios are medians over intervals.
A ``target`` row scores the articulation targets themselves (what the metrics give a perfect copy).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from thunder_train.corpus.shards import Record, read_shard
from thunder_train.evaluation import arkit as ak
from thunder_train.evaluation import closure as cl
from thunder_train.evaluation import metrics as mt

from .sources import STYLES

SampleFn = Callable[[np.ndarray, int, str], np.ndarray]  # (audio (S,) 16 kHz, seed, emotion) -> (T, 55) 50 fps
# the same with the clip's transcript and its language (a core.pronounce.LANGUAGES code) as fourth and fifth
# arguments (transcript-assisted rows)
TextSampleFn = Callable[[np.ndarray, int, str, str, str], np.ndarray]

RATES: tuple[tuple[str, str], ...] = (
    ("bilabial_sealed", "p b m sealed"), ("rounded_lips", "uw ow w rounded"),
    ("open_jaw", "open vowels jaw open"), ("silent_closed", "silence closed"),
)
TARGETS: dict[str, str] = {"bilabial_sealed": ">= 0.95", "rounded_lips": ">= 0.90", "open_jaw": ">= 0.95",
                           "silent_closed": ">= 0.97", "peak_ratio": "0.85-1.15"}


@dataclass
class DevEvalConfig:
    seeds: tuple[int, ...] = (0, 1, 2, 3)
    emotion: str = "auto"       # what `thunder generate` uses by default
    closure: cl.ClosureConfig = field(default_factory=cl.ClosureConfig)
    arkit: ak.ArkitConfig = field(default_factory=ak.ArkitConfig)


def load_dev(root: str | Path, split: str = "dev") -> list[Record]:
    """Every record of ``<root>/<split>`` (ValueError when there is none)."""
    shards = sorted((Path(root) / split).glob("shard_*.npz"))
    if not shards:
        raise ValueError(f"{root}: no '{split}' shards (build them with `thunder-train devset`)")
    return [r for p in shards for r in read_shard(p)]


class _Acc:
    """Hits and ratios of one (variant, group, seed)."""

    def __init__(self) -> None:
        self.hits: dict[str, list[bool]] = {}
        self.ratios: dict[str, list[float]] = {}
        self.pcc: list[float] = []

    def add(self, key: str, vals: list) -> None:
        self.hits.setdefault(key, []).extend(vals)

    def add_ratio(self, key: str, vals: list[float]) -> None:
        self.ratios.setdefault(key, []).extend(vals)


def score_clip(perf: np.ndarray, rec: Record, geo, cfg: DevEvalConfig, acc: _Acc) -> None:  # noqa: ANN001
    """Add one generated performance ``(T, 55)`` of ``rec`` to ``acc`` (both definitions)."""
    t = min(len(perf), len(rec.perf))
    perf, target = np.asarray(perf[:t], np.float32), np.asarray(rec.perf[:t], np.float32)
    labels = np.asarray(rec.phone_class[:t])
    m = geo.measure(perf)
    acc.add("mesh.bilabial_sealed", cl.bilabial_sealed(m["gap_mm"], labels, cfg.closure))
    acc.add("mesh.open_jaw", cl.open_jaw(m["gap_mm"], labels, cfg.closure))
    acc.add("mesh.rounded_lips", cl.rounded_lips(m["width_mm"], geo.rest_width_mm, labels, cfg.closure))
    acc.add("mesh.silent_closed", cl.silent_closed(m["gap_mm"], labels, cfg.closure))
    acc.add("arkit.bilabial_sealed", ak.bilabial_sealed(perf, labels, cfg.arkit))
    acc.add("arkit.open_jaw", ak.open_jaw(perf, labels, cfg.arkit))
    acc.add("arkit.rounded_lips", ak.rounded_lips(perf, labels, cfg.arkit))
    acc.add("arkit.silent_closed", ak.silent_closed(perf, labels, cfg.arkit))
    for k, v in ak.peak_ratios(perf, target, labels, cfg.arkit).items():
        acc.add_ratio(k, v)
    acc.pcc.append(mt.pcc(m["gap_mm"], geo.measure(target)["gap_mm"]))


def _summary(accs: list[_Acc]) -> dict:
    """Mean/std over seeds of each rate, median peak ratio and lip PCC; counts of scored items."""
    out: dict = {}
    keys = sorted({k for a in accs for k in a.hits})
    for k in keys:
        out[k] = mt.mean_std([cl.rate(a.hits.get(k, [])) for a in accs])
        out[k]["items"] = len(accs[0].hits.get(k, []))
    for k in sorted({k for a in accs for k in a.ratios}):
        out[f"peak_ratio.{k}"] = mt.mean_std([float(np.median(a.ratios[k])) if a.ratios.get(k) else None
                                              for a in accs])
        out[f"peak_ratio.{k}"]["items"] = len(accs[0].ratios.get(k, []))
        # the distributions can be bimodal (an articulator used or not): also the mean and the share in range
        out[f"peak_ratio_mean.{k}"] = mt.mean_std([float(np.mean(a.ratios[k])) if a.ratios.get(k) else None
                                                   for a in accs])
        out[f"peak_ratio_in_range.{k}"] = mt.mean_std(
            [float(np.mean([0.85 <= x <= 1.15 for x in a.ratios[k]])) if a.ratios.get(k) else None for a in accs])
    out["lip_pcc_vs_target"] = mt.mean_std([float(np.mean(a.pcc)) if a.pcc else None for a in accs])
    return out


def evaluate_devset(variants: dict[str, SampleFn], root: str | Path, cfg: DevEvalConfig | None = None,
                    target_row: bool = True, log=print, text_variants: dict[str, TextSampleFn] | None = None
                    ) -> dict:
    """``{"groups": {variant: {group: summary}}, "counts", "config", "definitions"}`` (groups + "overall").

    ``text_variants`` are scored like ``variants`` but also get each clip's transcript and its language."""
    from thunder_blender.core.pronounce import language_of
    from thunder_train.evaluation.run import Geometry

    cfg = cfg or DevEvalConfig()
    recs = load_dev(root)
    geo = Geometry()
    samplers: dict[str, Callable[[Record, int], np.ndarray]] = {}
    if target_row:
        samplers["target"] = lambda r, seed: np.asarray(r.perf, np.float32)
    for name, fn in variants.items():
        samplers[name] = lambda r, seed, fn=fn: fn(np.asarray(r.audio, np.float32) / 32768.0, int(seed), cfg.emotion)
    for name, fn in (text_variants or {}).items():
        samplers[name] = lambda r, seed, fn=fn: fn(np.asarray(r.audio, np.float32) / 32768.0, int(seed), cfg.emotion,
                                                   r.text, language_of(r.lang))
    groups = [s for s in STYLES if any(r.style == s for r in recs)]
    result: dict = {"groups": {}, "config": asdict(cfg), "definitions": definitions(cfg), "targets": TARGETS,
                    "counts": {g: {"clips": sum(r.style == g for r in recs),
                                   "speakers": len({r.voice for r in recs if r.style == g}),
                                   "seconds": round(sum(len(r.audio) for r in recs if r.style == g) / 16000, 1)}
                               for g in groups}}
    result["counts"]["overall"] = {"clips": len(recs), "speakers": len({r.voice for r in recs}),
                                   "seconds": round(sum(len(r.audio) for r in recs) / 16000, 1)}
    for name, sampler in samplers.items():
        t0 = time.monotonic()
        seeds = cfg.seeds if name != "target" else cfg.seeds[:1]
        per: dict[str, list[_Acc]] = {g: [] for g in [*groups, "overall"]}
        for seed in seeds:
            accs = {g: _Acc() for g in per}
            for r in recs:
                perf = np.asarray(sampler(r, seed), np.float32)
                if perf.ndim != 2 or perf.shape[1] != 55 or not np.all(np.isfinite(perf)):
                    raise ValueError(f"{name}: bad performance {perf.shape} for {r.voice}")
                score_clip(perf, r, geo, cfg, accs[r.style])
                score_clip(perf, r, geo, cfg, accs["overall"])
            for g, a in accs.items():
                per[g].append(a)
        result["groups"][name] = {g: _summary(a) for g, a in per.items()}
        log(f"devset-eval: {name}: {len(recs)} clips x {len(seeds)} seeds in {time.monotonic() - t0:.0f} s")
    return result


def definitions(cfg: DevEvalConfig) -> dict[str, str]:
    c, a = cfg.closure, cfg.arkit
    return {
        "mesh.*": f"demo-head definitions of evaluation/closure.py: seal gap < {c.seal_mm} mm, open >= {c.open_mm} mm, "
                  f"lip width {100 * c.round_frac:.0f} % below rest, silence gap < {c.closed_mm} mm; +-{c.tol} frame",
        "arkit.bilabial_sealed": f"/p b m/ intervals with jawOpen - mouthClose < {a.seal} in some frame (+-{a.tol})",
        "arkit.rounded_lips": f"rounded intervals with max(mouthFunnel, mouthPucker) > {a.round} in some frame (+-{a.tol})",
        "arkit.open_jaw": f"open-vowel intervals with jawOpen - mouthClose > {a.open} in some frame (+-{a.tol})",
        "arkit.silent_closed": f"silence frames >= {a.guard} frames from speech with jawOpen - mouthClose < {a.seal}",
        "peak_ratio_mean.*, peak_ratio_in_range.*": "mean of the same ratios, and the share of intervals with a ratio "
                                                    "in 0.85-1.15",
        "peak_ratio.*": "median over intervals of generated / articulation-target peak: jaw = jawOpen on open vowels, "
                        f"round = max(funnel, pucker) on rounded phones, close = mouthClose on /p b m/ "
                        f"(intervals with target peak >= {a.min_peak})",
        "lip_pcc_vs_target": "Pearson correlation of the demo head's mouth opening with the articulation target's",
        "spread": "mean and std over take seeds; the target row is one deterministic pass",
    }


def to_markdown(result: dict) -> str:
    """Per-group tables (rates both ways, peak ratios) for every variant."""
    groups = list(result["counts"])
    lines = []
    for name, per in result["groups"].items():
        lines += [f"### {name}", "", "| measure | " + " | ".join(
            f"{g} ({result['counts'][g]['clips']} clips, {result['counts'][g]['speakers']} spk)" for g in groups)
            + " | target |", "|---" * (len(groups) + 2) + "|"]
        keys = [f"{d}.{k}" for k, _ in RATES for d in ("mesh", "arkit")]
        keys += [f"peak_ratio{m}.{k}" for k in ak.ARTICULATORS for m in ("", "_mean", "_in_range")]
        keys += ["lip_pcc_vs_target"]
        for k in keys:
            cells = []
            for g in groups:
                v = per.get(g, {}).get(k)
                if not v or v["mean"] is None:
                    cells.append("-")
                    continue
                n = f" /{v['items']}" if "items" in v else ""
                std = f" ± {v['std']:.2f}" if v["n"] > 1 else ""
                cells.append(f"{v['mean']:.2f}{std}{n}")
            tgt = TARGETS.get(k.split(".", 1)[-1], TARGETS["peak_ratio"] if k.startswith("peak_ratio.") else "")
            lines.append(f"| {k} | " + " | ".join(cells) + f" | {tgt} |")
        lines.append("")
    lines.append("Cells: mean ± std over take seeds, then /number of scored intervals (frames for silence) per seed.")
    return "\n".join(lines) + "\n"
