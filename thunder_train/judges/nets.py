"""Small temporal convolution networks the judges are built from (CPU friendly, any length)."""
from __future__ import annotations

import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn


class ResBlock(nn.Module):
    """Residual dilated 1-D convolution block, same length in and out. x: (B, C, T) -> (B, C, T)."""

    def __init__(self, channels: int, kernel: int, dilation: int, dropout: float = 0.1):
        super().__init__()
        pad = dilation * (kernel - 1) // 2
        self.conv = nn.Conv1d(channels, channels, kernel, padding=pad, dilation=dilation)
        self.norm = nn.GroupNorm(1, channels)
        self.proj = nn.Conv1d(channels, channels, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.nn.functional.gelu(self.norm(self.conv(x)))
        return x + self.drop(self.proj(h))


class TemporalNet(nn.Module):
    """Per-frame sequence model: (B, T, Cin) -> (B, T, Cout), receptive field 1 + (k-1) * sum(dilations)."""

    def __init__(self, c_in: int, c_out: int, hidden: int = 128, kernel: int = 5,
                 dilations: tuple[int, ...] = (1, 2, 4, 1), dropout: float = 0.1):
        super().__init__()
        self.inp = nn.Conv1d(c_in, hidden, 1)
        self.blocks = nn.Sequential(*[ResBlock(hidden, kernel, d, dropout) for d in dilations])
        self.out = nn.Conv1d(hidden, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.blocks(self.inp(x.transpose(1, 2)))).transpose(1, 2)


def freeze(module: nn.Module) -> nn.Module:
    """Eval mode, no parameter gradients (gradients still flow through to the inputs)."""
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
        p.grad = None
    return module


def progress(step: int, steps: int, elapsed: float, max_seconds: float) -> float:
    """Training progress 0..1 by steps or by the clock, whichever is further along (the clock cap then
    still ends with an annealed learning rate)."""
    return max(step / steps, elapsed / max_seconds)


def set_lr(opt: torch.optim.Optimizer, peak: float, frac: float, warmup: float = 0.05) -> None:
    """Linear warm-up then cosine decay to 1% of ``peak`` as ``frac`` goes 0 -> 1."""
    if frac < warmup:
        lr = peak * max(frac / warmup, 0.01)
    else:
        lr = peak * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(1.0, (frac - warmup) / (1 - warmup)))))
    for g in opt.param_groups:
        g["lr"] = lr


def fit(model: nn.Module, cfg, step_loss, name: str, log, clip: float | None = 1.0) -> dict:
    """The judges' shared training loop; returns {"steps", "seconds"} and leaves ``model`` frozen.

    cfg: any judge config with ``seed``, ``lr``, ``steps`` and ``max_seconds`` (AdamW, warm-up then cosine
    over whichever of the step and clock budgets runs out first). ``step_loss(model, rng) -> (loss, note)``
    draws one batch with the numpy ``rng`` and returns the scalar loss and a short text for the log.
    """
    rng = np.random.default_rng(cfg.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    t0 = time.monotonic()
    step = 0
    for step in range(1, cfg.steps + 1):
        frac = progress(step - 1, cfg.steps, time.monotonic() - t0, cfg.max_seconds)
        if frac >= 1.0:
            log(f"{name} clock cap reached after {step - 1} steps")
            step -= 1
            break
        set_lr(opt, cfg.lr, frac)
        model.train()
        loss, note = step_loss(model, rng)
        opt.zero_grad()
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        if step % 200 == 0:
            log(f"{name} step {step} loss {loss.item():.4f}{note} ({time.monotonic() - t0:.0f}s)")
    freeze(model)
    return {"steps": step, "seconds": round(time.monotonic() - t0, 1)}


def save_judge(kind: str, model: nn.Module, path, metrics: dict | None = None):
    """Checkpoint ``{"kind", "cfg", "state", "metrics"}`` (``model.cfg`` is a dataclass). Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"kind": kind, "cfg": asdict(model.cfg), "state": model.state_dict(), "metrics": metrics or {}}, path)
    return path


def load_judge(path, kind: str, what: str, model_cls, cfg_cls) -> nn.Module:
    """Load a checkpoint written by ``save_judge`` as a frozen module; ``what`` names the kind in errors ("an M2S")."""
    ck = torch.load(Path(path), map_location="cpu", weights_only=False)
    if ck.get("kind") != kind:
        raise ValueError(f"{path} is not {what} checkpoint")
    cfg = {k: tuple(v) if isinstance(v, list) else v for k, v in ck["cfg"].items()}
    model = model_cls(cfg_cls(**cfg))
    model.load_state_dict(ck["state"])
    model.metrics = ck.get("metrics", {})
    return freeze(model)
