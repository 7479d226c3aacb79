"""Small temporal convolution networks the judges are built from (CPU friendly, any length)."""
from __future__ import annotations

import math
import time
from dataclasses import asdict, fields
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


def lr_fraction(step: int, steps: int) -> float:
    """Training progress 0..1 of optimiser step ``step`` (1-based) of ``steps``: the step count alone."""
    return (step - 1) / max(1, steps)


def set_lr(opt: torch.optim.Optimizer, peak: float, frac: float, warmup: float = 0.05) -> None:
    """Linear warm-up then cosine decay to 1% of ``peak`` as ``frac`` goes 0 -> 1."""
    if frac < warmup:
        lr = peak * max(frac / warmup, 0.01)
    else:
        lr = peak * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(1.0, (frac - warmup) / (1 - warmup)))))
    for g in opt.param_groups:
        g["lr"] = lr


def fit(model: nn.Module, cfg, step_loss, name: str, log, clip: float | None = 1.0,
        deadline: float | None = None) -> dict:
    """The judges' shared training loop; returns {"steps", "seconds"} and leaves ``model`` frozen.

    cfg: any judge config with ``seed``, ``lr`` and ``steps`` (AdamW, warm-up then cosine over exactly
    ``cfg.steps`` steps). ``step_loss(model, rng) -> (loss, note)`` draws one batch with the numpy ``rng``
    and returns the scalar loss and a short text for the log. ``deadline`` (a ``time.monotonic()`` value):
    past it the loop raises ``TimeLimitReached``; a judge trains in minutes, so it is retrained from its
    start rather than checkpointed.
    """
    from thunder_train.checkpoint import TimeLimitReached

    rng = np.random.default_rng(cfg.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    t0 = time.monotonic()
    for step in range(1, cfg.steps + 1):
        set_lr(opt, cfg.lr, lr_fraction(step, cfg.steps))
        model.train()
        loss, note = step_loss(model, rng)
        opt.zero_grad()
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        if step % 200 == 0:
            log(f"{name} step {step} loss {loss.item():.4f}{note} ({time.monotonic() - t0:.0f}s)")
        if deadline is not None and time.monotonic() > deadline and step < cfg.steps:
            raise TimeLimitReached(f"judge {name}", step, cfg.steps, None,
                                   "judges are not checkpointed: this one retrains from its first step")
    freeze(model)
    return {"steps": cfg.steps, "seconds": round(time.monotonic() - t0, 1)}


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
    known = {f.name for f in fields(cfg_cls)}
    # settings dropped since the checkpoint was written (e.g. the old clock cap max_seconds) are ignored
    cfg = {k: tuple(v) if isinstance(v, list) else v for k, v in ck["cfg"].items() if k in known}
    model = model_cls(cfg_cls(**cfg))
    model.load_state_dict(ck["state"])
    model.metrics = ck.get("metrics", {})
    return freeze(model)
