"""Run the evaluation: generators (``sample_fn``) against held-out corpus splits, judged on the demo head.

    sample_fn(audio: (S,) float32 16 kHz, seed: int, emotion: str) -> (T, 55) float32 at 50 fps

``evaluate({"full": fn, "no_m2s": fn2}, corpus_root, judges_dir)`` returns the metrics.json dict:
``{"ablation": {variant: {split: {metric: {"mean", "std", "n"}}}}, "closure": {...same nesting...},
"definitions": {...}, "config": {...}, "judges": {...}}``. Two reference rows that need no training are
added: ``ground_truth`` (the corpus performance itself: upper bound / sanity) and ``mean_pose`` (a constant
average pose from the val split: shows every metric can fail).

Spread: each metric is averaged over the utterances for each seed, then reported as mean and std over
seeds (S-DIV-U: over the pairs of seeds; the deterministic references have std 0).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from thunder_blender.core import head as head_mod
from thunder_blender.core.channels import EMOTIONS, N_CHANNELS
from thunder_blender.core.features import log_mel, normalise
from thunder_train.judges.data import read_split

from . import closure as cl
from . import metrics as mt

SampleFn = Callable[[np.ndarray, int, str], np.ndarray]
Sampler = Callable[[object, int], np.ndarray]  # (utterance, seed) -> (T, 55)

METRICS: tuple[tuple[str, str, str], ...] = (
    # key, table label, direction
    ("lve_mm", "LVE mm", "lower"),
    ("lip_pcc", "lip PCC", "higher"),
    ("lip_ccc", "lip CCC", "higher"),
    ("dtw_mm", "DTW mm", "lower"),
    ("fdd_mm", "FDD mm", "lower"),
    ("sdiv_u_mm", "S-DIV-U mm", "higher"),
    ("lse_d", "LSE-D", "lower"),
    ("lse_c", "LSE-C", "higher"),
    ("lipread_acc", "lip-read acc", "higher"),
)
CLOSURE_METRICS: tuple[tuple[str, str], ...] = (
    ("bilabial_sealed", "p b m sealed"),
    ("open_jaw", "open vowels: jaw open"),
    ("rounded_lips", "uw ow w: lips rounded"),
    ("silent_closed", "silence: mouth closed"),
)


@dataclass
class EvalConfig:
    seeds: tuple[int, ...] = (0, 1, 2)
    max_utts: int = 40                      # per split (random subset, fixed seed)
    splits: tuple[str, ...] = ("test", "real_val")
    max_offset: int = 15                    # LSE offsets, frames at 50 fps (+-0.3 s)
    subset_seed: int = 0
    closure: cl.ClosureConfig = field(default_factory=cl.ClosureConfig)


def definitions(cfg: EvalConfig) -> dict[str, str]:
    c = cfg.closure
    return {
        "lve_mm": "lip vertex error: per frame the max L2 error over the demo head's lip vertices, mean over frames (mm)",
        "lip_pcc": "Pearson correlation of the mouth opening (mean inner-lip gap) with the ground truth's",
        "lip_ccc": "Lin's concordance correlation of the mouth opening with the ground truth's",
        "dtw_mm": "DTW distance of the mouth opening to the ground truth's, abs cost / ground-truth frames (mm)",
        "fdd_mm": "upper-face dynamics deviation: mean over upper-face vertices of |std_t(displacement) gt - pred| (mm)",
        "sdiv_u_mm": "upper-face sample diversity: mean L2 distance of upper-face vertex trajectories between two "
                     "takes (seeds) of the same audio, mean over frames and vertices (mm)",
        "lse_d": "eval sync expert (never a training loss): mean distance between unit audio and mouth window "
                 "embeddings (0..2) at the true offset",
        "lse_c": f"eval sync expert: median minus minimum over offsets +-{cfg.max_offset} frames of the mean "
                 "embedding distance (SyncNet confidence)",
        "lipread_acc": "per-frame phone-class accuracy of the lip reader (trained on ground truth only, never a loss)",
        "bilabial_sealed": f"fraction of /p b m/ intervals where the inner-lip gap is < {c.seal_mm} mm in at "
                           f"least one frame (interval widened by {c.tol} frame each side)",
        "open_jaw": f"fraction of open-vowel intervals where the mouth opening reaches {c.open_mm} mm (+-{c.tol} frame)",
        "rounded_lips": f"fraction of rounded-phone intervals (uw uh ow w oy) where the lip width (x extent of the "
                        f"lip vertices) falls {100 * c.round_frac:.0f}% below rest (+-{c.tol} frame)",
        "silent_closed": f"fraction of silence frames >= {c.guard} frames from speech with inner-lip gap < "
                         f"{c.closed_mm} mm",
        "spread": "std over seeds of the per-seed mean over utterances (S-DIV-U: over seed pairs)",
    }


class Geometry:
    """Demo-head measurements of a performance."""

    def __init__(self, head: head_mod.DemoHead | None = None):
        self.head = head or head_mod.load_demo_head()
        self.lip = np.asarray(self.head.lip_idx)
        self.upper = np.asarray(self.head.upper_face_idx)
        self.template_upper = self.head.vertices[self.upper]
        self.rest_width_mm = self._width_mm(self.head.vertices[None])[0]

    def _width_mm(self, verts: np.ndarray) -> np.ndarray:
        x = verts[:, self.lip, 0]
        return (x.max(axis=1) - x.min(axis=1)) * 1000.0

    def measure(self, perf: np.ndarray) -> dict[str, np.ndarray]:
        """(T, 55) -> lip (T, L, 3) m, upper (T, U, 3) m, gap_mm (T,), width_mm (T,)."""
        v = head_mod.pose(self.head, perf[:, :52])
        return {"lip": v[:, self.lip], "upper": v[:, self.upper],
                "gap_mm": head_mod.mouth_opening(self.head, v) * 1000.0, "width_mm": self._width_mm(v)}


@dataclass
class Judges:
    """Evaluation judges (None when a checkpoint is missing; its metrics are then reported as None)."""

    sync_eval: object | None = None
    lipreader: object | None = None

    @staticmethod
    def load(judges_dir: str | Path | None) -> Judges:
        if judges_dir is None:
            return Judges()
        from thunder_train.judges import PATHS
        from thunder_train.judges.lipreader import load_lipreader
        from thunder_train.judges.sync import load_sync

        d = Path(judges_dir)
        s = d / PATHS["sync_eval"]
        r = d / PATHS["lipreader"]
        return Judges(load_sync(s) if s.exists() else None, load_lipreader(r) if r.exists() else None)


def _check_perf(perf: np.ndarray, variant: str) -> np.ndarray:
    perf = np.asarray(perf, dtype=np.float32)
    if perf.ndim != 2 or perf.shape[1] != N_CHANNELS or len(perf) < 2:
        raise ValueError(f"{variant}: sample_fn must return (T, {N_CHANNELS}) frames, got {perf.shape}")
    if not np.all(np.isfinite(perf)):
        raise ValueError(f"{variant}: sample_fn returned non-finite values")
    return perf


def evaluate_split(sampler: Sampler, utts: list, gt_geo: list[dict], mels: list[np.ndarray], geo: Geometry,
                   judges: Judges, cfg: EvalConfig, variant: str) -> tuple[dict, dict]:
    """Metrics of one sampler on one list of utterances: (metrics {name: mean_std}, closure {name: mean_std})."""
    per_seed: dict[str, list[float]] = {k: [] for k, _, _ in METRICS if k != "sdiv_u_mm"}
    clos_seed: dict[str, list[float]] = {k: [] for k, _ in CLOSURE_METRICS}
    uppers: list[list[np.ndarray]] = [[] for _ in utts]
    for seed in cfg.seeds:
        vals: dict[str, list[float]] = {k: [] for k in per_seed}
        hits: dict[str, list[bool]] = {k: [] for k in clos_seed}
        for i, (u, g, mel) in enumerate(zip(utts, gt_geo, mels, strict=True)):
            perf = _check_perf(sampler(u, seed), variant)
            t = min(len(perf), len(u.perf))
            perf = perf[:t]
            m = geo.measure(perf)
            uppers[i].append(m["upper"])
            vals["lve_mm"].append(mt.lve_mm(m["lip"], g["lip"][:t]))
            vals["lip_pcc"].append(mt.pcc(m["gap_mm"], g["gap_mm"][:t]))
            vals["lip_ccc"].append(mt.ccc(m["gap_mm"], g["gap_mm"][:t]))
            vals["dtw_mm"].append(mt.dtw(m["gap_mm"], g["gap_mm"][:t]))
            vals["fdd_mm"].append(mt.fdd_mm(m["upper"], g["upper"][:t], geo.template_upper))
            if judges.sync_eval is not None:
                from thunder_train.judges.sync import offset_distances

                d = offset_distances(judges.sync_eval, perf, mel[: 2 * t], cfg.max_offset)
                if d is not None:
                    lse_d, lse_c, _ = mt.lse(d)
                    vals["lse_d"].append(lse_d)
                    vals["lse_c"].append(lse_c)
            if judges.lipreader is not None:
                from thunder_train.judges.lipreader import predict

                vals["lipread_acc"].append(float(np.mean(predict(judges.lipreader, perf) == u.phone_class[:t])))
            labels = np.asarray(u.phone_class[:t])
            hits["bilabial_sealed"] += cl.bilabial_sealed(m["gap_mm"], labels, cfg.closure)
            hits["open_jaw"] += cl.open_jaw(m["gap_mm"], labels, cfg.closure)
            hits["rounded_lips"] += cl.rounded_lips(m["width_mm"], geo.rest_width_mm, labels, cfg.closure)
            hits["silent_closed"] += cl.silent_closed(m["gap_mm"], labels, cfg.closure)
        for k, v in vals.items():
            per_seed[k].append(float(np.mean(v)) if v else None)
        for k, h in hits.items():
            clos_seed[k].append(cl.rate(h))
    out = {k: mt.mean_std(v) for k, v in per_seed.items()}
    pairs = [(a, b) for a in range(len(cfg.seeds)) for b in range(a + 1, len(cfg.seeds))]
    out["sdiv_u_mm"] = mt.mean_std([float(np.mean([mt.pair_distance_mm(up[a], up[b]) for up in uppers]))
                                    for a, b in pairs])
    return out, {k: mt.mean_std(v) for k, v in clos_seed.items()}


def _subset(utts: list, n: int, seed: int) -> list:
    if len(utts) <= n:
        return utts
    idx = np.sort(np.random.default_rng(seed).choice(len(utts), size=n, replace=False))
    return [utts[int(i)] for i in idx]


def wrap(sample_fn: SampleFn) -> Sampler:
    """Adapt a public ``sample_fn(audio, seed, emotion)`` to the internal (utterance, seed) form."""
    return lambda u, seed: sample_fn(np.asarray(u.audio, np.float32), int(seed), EMOTIONS[int(u.emotion)])


def reference_samplers(corpus_root: str | Path) -> dict[str, Sampler]:
    """ground_truth (the corpus performance) and mean_pose (average val-split pose, held constant)."""
    val = read_split(corpus_root, "val") or read_split(corpus_root, "train")
    mean = np.concatenate([u.perf for u in val]).mean(axis=0).astype(np.float32)
    return {"ground_truth": lambda u, seed: np.asarray(u.perf, np.float32),
            "mean_pose": lambda u, seed: np.repeat(mean[None], len(u.perf), axis=0)}


def evaluate(variants: dict[str, SampleFn], corpus_root: str | Path, judges_dir: str | Path | None,
             cfg: EvalConfig | None = None, references: bool = True, log=print) -> dict:
    """Evaluate every variant (and the references) on every split of ``cfg.splits``; metrics.json dict."""
    cfg = cfg or EvalConfig()
    import torch

    from thunder_train.judges.data import THREADS

    torch.set_num_threads(THREADS)
    geo = Geometry()
    judges = Judges.load(judges_dir)
    samplers: dict[str, Sampler] = reference_samplers(corpus_root) if references else {}
    samplers.update({name: wrap(fn) for name, fn in variants.items()})
    result: dict = {"ablation": {v: {} for v in samplers}, "closure": {v: {} for v in samplers},
                    "definitions": definitions(cfg), "config": asdict(cfg), "judges": _judge_numbers(judges_dir),
                    "counts": {}}
    for split in cfg.splits:
        utts = _subset(read_split(corpus_root, split), cfg.max_utts, cfg.subset_seed)
        if not utts:
            log(f"eval: split {split!r} is empty in {corpus_root}; skipped")
            continue
        result["counts"][split] = {"utterances": len(utts), "seeds": len(cfg.seeds),
                                   "frames": int(sum(len(u.perf) for u in utts))}
        gt_geo = [geo.measure(np.asarray(u.perf, np.float32)) for u in utts]
        mels = [normalise(log_mel(u.audio)) for u in utts]
        for name, sampler in samplers.items():
            t0 = time.monotonic()
            res, clo = evaluate_split(sampler, utts, gt_geo, mels, geo, judges, cfg, name)
            result["ablation"][name][split] = res
            result["closure"][name][split] = clo
            log(f"eval: {name} on {split} ({len(utts)} utterances x {len(cfg.seeds)} seeds) "
                f"in {time.monotonic() - t0:.0f}s")
    return result


def _judge_numbers(judges_dir: str | Path | None) -> dict:
    if judges_dir is None:
        return {}
    p = Path(judges_dir) / "judges.json"
    if not p.exists():
        return {}
    import json

    return json.loads(p.read_text())
