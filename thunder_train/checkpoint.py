"""Resumable training: step checkpoints written atomically, exact restore, the metrics log.

A run directory holds::

    step_00001000.pt     training state after step 1000 (the newest ``keep`` are kept)
    metrics.jsonl        one JSON object per line: {"step": 1000, "split": "train", "loss": 0.12, ...}

A training state (``capture`` / ``restore``) is everything the next step depends on: model and optimiser
state, the step, the global RNG states of torch, numpy and python, the states of the explicit generators
the loop draws from (``torch.Generator`` / ``np.random.Generator``, by name) and any extra picklable
values (sampler counters, the loss window). Restored into freshly built objects, the following steps
are the same computation as in a run that never stopped.

Writes go to a temporary file in the same directory, are flushed to disk and renamed over the target,
so a file is either the old one, the complete new one or absent, never half written.
"""
from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

import numpy as np
import torch

STEP_FILE = re.compile(r"^step_(\d{8})\.pt$")
METRICS_FILE = "metrics.jsonl"


class TimeLimitReached(RuntimeError):
    """A session's time limit stopped a run before its last step; a checkpoint was written first."""

    def __init__(self, name: str, step: int, steps: int, checkpoint: Path | None, note: str = ""):
        self.step, self.steps, self.checkpoint = step, steps, checkpoint
        where = f"checkpoint {checkpoint}" if checkpoint else (note or "no checkpoint directory")
        super().__init__(f"{name}: time limit reached at step {step} of {steps}; {where}; "
                         "the run is NOT finished: continue it with --resume")


def _fsync_replace(tmp: Path, path: Path) -> None:
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_save(obj, path: str | Path) -> Path:
    """``torch.save(obj)`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(obj, tmp)
        _fsync_replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        _fsync_replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def capture(step: int, model: torch.nn.Module, opt: torch.optim.Optimizer,
            torch_gens: dict[str, torch.Generator] | None = None,
            np_gens: dict[str, np.random.Generator] | None = None, **extra) -> dict:
    """The training state after ``step`` (tensors cloned, so later steps do not change it)."""
    return {
        "kind": "training_state",
        "step": int(step),
        "model": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "optimizer": opt.state_dict(),
        "rng": {
            "torch": torch.get_rng_state(),
            "numpy": np.random.get_state(),
            "python": random.getstate(),
            "torch_generators": {k: g.get_state() for k, g in (torch_gens or {}).items()},
            "numpy_generators": {k: g.bit_generator.state for k, g in (np_gens or {}).items()},
        },
        "extra": extra,
    }


def restore(state: dict, model: torch.nn.Module, opt: torch.optim.Optimizer,
            torch_gens: dict[str, torch.Generator] | None = None,
            np_gens: dict[str, np.random.Generator] | None = None) -> tuple[int, dict]:
    """Load ``state`` (from ``capture``) into freshly built objects; returns (step, extra)."""
    if state.get("kind") != "training_state":
        raise ValueError("not a training-state checkpoint")
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    rng = state["rng"]
    torch.set_rng_state(rng["torch"])
    np.random.set_state(rng["numpy"])
    random.setstate(rng["python"])
    for k, g in (torch_gens or {}).items():
        g.set_state(rng["torch_generators"][k])
    for k, g in (np_gens or {}).items():
        g.bit_generator.state = rng["numpy_generators"][k]
    return int(state["step"]), state.get("extra", {})


class RunDir:
    """Checkpoints and the metrics log of one training run."""

    def __init__(self, path: str | Path, keep: int = 2):
        self.path = Path(path)
        self.keep = max(1, int(keep))

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS_FILE

    def checkpoints(self) -> list[Path]:
        """Step checkpoints, oldest first."""
        if not self.path.is_dir():
            return []
        return sorted(p for p in self.path.iterdir() if STEP_FILE.match(p.name))

    def latest(self) -> Path | None:
        ck = self.checkpoints()
        return ck[-1] if ck else None

    def save(self, state: dict) -> Path:
        path = atomic_save(state, self.path / f"step_{state['step']:08d}.pt")
        for old in self.checkpoints()[:-self.keep]:
            old.unlink()
        return path

    def load(self, path: Path | None = None) -> dict:
        path = path or self.latest()
        if path is None:
            raise FileNotFoundError(f"no checkpoint in {self.path}")
        return torch.load(path, map_location="cpu", weights_only=False)

    def log_metrics(self, step: int, split: str, values: dict) -> None:
        row = {"step": int(step), "split": split, **{k: v for k, v in values.items() if _is_number(v)}}
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(row) + "\n")

    def truncate_metrics(self, step: int) -> None:
        """Drop log rows after ``step`` (written after the checkpoint a resumed run continues from)."""
        rows = read_metrics(self.metrics_path)
        atomic_write_text(self.metrics_path, "".join(json.dumps(r) + "\n" for r in rows if r["step"] <= step))


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def read_metrics(path: str | Path) -> list[dict]:
    """Rows of a metrics.jsonl ([] when absent); a torn last line (a killed writer) is skipped."""
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows
