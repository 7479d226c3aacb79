"""Generator networks: audio encoder, x0-predicting diffusion denoiser, deterministic regressor.

All layers are per-frame or 1-D convolutions over time with per-frame LayerNorm (no statistics over
time), so any length works, the ONNX graphs keep a dynamic time axis, and a frame's output depends only
on a finite neighbourhood (the receptive field) - which is what makes windowed inference seamless.

Shapes: mel (B, Tm, 80) per-utterance normalised log-mel at 100 fps; features/performances at 50 fps,
(B, T, C) with T = Tm // 2 (frame f pools mel frames 2f-1 .. 2f+2, i.e. it is centred on mel frames
2f, 2f+1 as in the corpus alignment).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from thunder_blender.core.channels import EMOTIONS, N_CHANNELS
from thunder_blender.core.phones import N_PHONE_INPUT, PHONE_CLASSES
from thunder_blender.core.visemes import VISEMES


@dataclass
class NetConfig:
    """Architecture. The shipped values are in ``thunder_train/recipe.toml`` [generator.net]; the ``n_*``
    sizes are the data contract (features, emotions, phone classes, channels), not settings."""

    enc_dim: int
    enc_dilations: tuple[int, ...]
    dim: int
    den_dilations: tuple[int, ...]
    kernel: int
    dropout: float
    viseme_head: bool = False   # the encoder also predicts Oculus visemes (False in models trained before it)
    n_mels: int = 80
    n_emotions: int = len(EMOTIONS)
    n_phones: int = len(PHONE_CLASSES)
    n_phone_input: int = N_PHONE_INPUT
    n_visemes: int = len(VISEMES)
    n_channels: int = N_CHANNELS

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> NetConfig:
        d = dict(d)
        d["enc_dilations"] = tuple(d["enc_dilations"])
        d["den_dilations"] = tuple(d["den_dilations"])
        return cls(**d)


class ChannelNorm(nn.Module):
    """LayerNorm over channels of a (B, C, T) tensor, per frame (no statistics over time)."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1, dim, 1))
        self.bias = nn.Parameter(torch.zeros(1, dim, 1))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu = x.mean(dim=1, keepdim=True)
        var = (x - mu).pow(2).mean(dim=1, keepdim=True)
        return (x - mu) * torch.rsqrt(var + self.eps) * self.weight + self.bias


class ConvBlock(nn.Module):
    """Pre-norm residual block on (B, C, T): norm -> (FiLM) -> GELU -> dilated conv -> GELU -> 1x1 conv."""

    def __init__(self, dim: int, kernel: int, dilation: int, dropout: float, cond_dim: int = 0):
        super().__init__()
        self.norm = ChannelNorm(dim)
        self.conv = nn.Conv1d(dim, dim, kernel, padding=dilation * (kernel - 1) // 2, dilation=dilation)
        self.proj = nn.Conv1d(dim, dim, 1)
        self.drop = nn.Dropout(dropout)
        self.film = nn.Linear(cond_dim, 2 * dim) if cond_dim else None
        if self.film is not None:
            nn.init.zeros_(self.film.weight)
            nn.init.zeros_(self.film.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        h = self.norm(x)
        if self.film is not None and cond is not None:
            scale, shift = self.film(cond).unsqueeze(-1).chunk(2, dim=1)
            h = h * (1 + scale) + shift
        h = self.conv(F.gelu(h))
        return x + self.drop(self.proj(F.gelu(h)))


class AudioEncoder(nn.Module):
    """(B, Tm, 80) normalised log-mel at 100 fps -> (B, Tm // 2, enc_dim) features at 50 fps.

    Auxiliary heads (training signal; the closure head is also used at run time): ``closure`` logit
    (B, T) and phone class logits (B, T, n_phones); with ``viseme_head``, viseme logits (B, T, n_visemes)
    (``core.visemes.VISEMES``), which drive viseme and VRM rigs at run time.
    """

    def __init__(self, cfg: NetConfig):
        super().__init__()
        d = cfg.enc_dim
        self.down = nn.Conv1d(cfg.n_mels, d, 4, stride=2, padding=1)
        self.blocks = nn.ModuleList(ConvBlock(d, cfg.kernel, k, cfg.dropout) for k in cfg.enc_dilations)
        self.norm = ChannelNorm(d)
        self.closure_head = nn.Linear(d, 1)
        self.phone_head = nn.Linear(d, cfg.n_phones)
        self.viseme_head = nn.Linear(d, cfg.n_visemes) if cfg.viseme_head else None

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        h = self.down(mel.transpose(1, 2))
        for b in self.blocks:
            h = b(h)
        return self.norm(h).transpose(1, 2)

    def heads(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.closure_head(feats).squeeze(-1), self.phone_head(feats)

    def viseme_logits(self, feats: torch.Tensor) -> torch.Tensor | None:
        """(B, T, enc_dim) -> (B, T, n_visemes), or None without a viseme head."""
        return None if self.viseme_head is None else self.viseme_head(feats)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of (B,) time indices (float) -> (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    args = t.to(torch.float32)[:, None] * freqs[None, :]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class Denoiser(nn.Module):
    """x0 prediction: (x_t (B,T,55), feats (B,T,enc_dim), t (B,), emotion (B,) int64, intensity (B,),
    phones (B,T,n_phone_input) or None) -> x0 (B, T, 55), all in the normalised performance space.

    ``phones`` are the aligned phone classes of a transcript (``core.phones.phone_input``: one-hot + known
    flag; zeros where nothing is aligned, and None = zeros everywhere). The encoder stays audio-only: its
    phone posteriors are what a transcript is aligned against.

    ``regression=True`` makes the deterministic baseline: same layers and capacity, but x_t and t are
    ignored (zero input, fixed step), so the output is a function of audio and emotion only.
    """

    def __init__(self, cfg: NetConfig, regression: bool = False):
        super().__init__()
        self.cfg = cfg
        self.regression = regression
        d = cfg.dim
        self.x_in = nn.Linear(cfg.n_channels, d)
        self.a_in = nn.Linear(cfg.enc_dim, d)
        self.p_in = nn.Linear(cfg.n_phone_input, d, bias=False)   # zeros in -> nothing added
        self.t_mlp = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.emo = nn.Embedding(cfg.n_emotions, d)
        self.emo_int = nn.Embedding(cfg.n_emotions, d)
        self.blocks = nn.ModuleList(ConvBlock(d, cfg.kernel, k, cfg.dropout, cond_dim=d)
                                    for k in cfg.den_dilations)
        self.out_norm = ChannelNorm(d)
        self.out = nn.Linear(d, cfg.n_channels)

    def forward(self, x_t: torch.Tensor, feats: torch.Tensor, t: torch.Tensor, emotion: torch.Tensor,
                intensity: torch.Tensor, phones: torch.Tensor | None = None) -> torch.Tensor:
        if self.regression:
            x_t = torch.zeros_like(x_t)
            t = torch.zeros_like(t)
        cond = self.t_mlp(timestep_embedding(t, self.cfg.dim))
        cond = cond + self.emo(emotion) + intensity.to(torch.float32)[:, None] * self.emo_int(emotion)
        h = self.x_in(x_t) + self.a_in(feats)
        if phones is not None:
            h = h + self.p_in(phones)
        h = h.transpose(1, 2)
        for b in self.blocks:
            h = b(h, cond)
        return self.out(self.out_norm(h).transpose(1, 2))


class Generator(nn.Module):
    """Encoder + denoiser, the unit that is trained, checkpointed and exported (as two graphs)."""

    def __init__(self, cfg: NetConfig, regression: bool = False):
        super().__init__()
        self.cfg = cfg
        self.encoder = AudioEncoder(cfg)
        self.denoiser = Denoiser(cfg, regression=regression)
        # performance normalisation (filled from training data): x_norm = (x - mean) / std
        self.register_buffer("perf_mean", torch.zeros(cfg.n_channels))
        self.register_buffer("perf_std", torch.ones(cfg.n_channels))

    @property
    def regression(self) -> bool:
        return self.denoiser.regression

    def normalise(self, perf: torch.Tensor) -> torch.Tensor:
        return (perf - self.perf_mean) / self.perf_std

    def denormalise(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.perf_std + self.perf_mean


def receptive_field(cfg: NetConfig) -> tuple[int, int]:
    """One-sided receptive field in 50 fps frames of (encoder, denoiser)."""
    enc = 1 + sum(d * (cfg.kernel - 1) // 2 for d in cfg.enc_dilations)
    den = sum(d * (cfg.kernel - 1) // 2 for d in cfg.den_dilations)
    return enc, den


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
