"""Small temporal convolution networks the judges are built from (CPU friendly, any length)."""
from __future__ import annotations

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
    import math

    if frac < warmup:
        lr = peak * max(frac / warmup, 0.01)
    else:
        lr = peak * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(1.0, (frac - warmup) / (1 - warmup)))))
    for g in opt.param_groups:
        g["lr"] = lr
