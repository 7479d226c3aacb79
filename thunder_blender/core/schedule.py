"""The diffusion sampler: one DDIM sampler for the runtime, the torch side and the benchmark.

Variance-preserving diffusion with a cosine schedule (Nichol & Dhariwal 2021, eq. 17) over
``n_train_steps`` steps; the network predicts x0 directly. Sampling is deterministic DDIM (Song et al.
2021, eq. 12 with eta = 0) in a few steps, so the only randomness of a take is its initial noise
(``initial_noise``): a take is fully determined by its seed. Classifier-free guidance (Ho & Salimans
2022) mixes the conditional and unconditional x0 estimates (``guided``).

    sampler = DDIMSampler(ScheduleConfig(), steps=8)
    x = initial_noise(seed, T, 55)
    for i, t in enumerate(sampler.timesteps):
        x = sampler.step(i, x, network(x, t))      # the last step returns the x0 estimate

``step`` and ``guided`` use only arithmetic with Python floats, so they work on numpy arrays and torch
tensors alike (the torch side samples through this same code). Training-side noising is ``q_sample``
(numpy here, ``thunder_train.diffusion.Diffusion.q_sample`` in torch, tested equal).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .channels import MOUTH_INDEX


@dataclass(frozen=True)
class ScheduleConfig:
    """The training noise schedule (cosine, betas clipped at ``max_beta``)."""

    n_train_steps: int = 1000
    cosine_s: float = 0.008
    max_beta: float = 0.999

    def to_dict(self) -> dict:
        return asdict(self)


def alphas_cumprod(cfg: ScheduleConfig = ScheduleConfig()) -> np.ndarray:
    """abar_t for t = 0..N-1, shape (N,), float64."""
    n = cfg.n_train_steps
    s = np.arange(n + 1, dtype=np.float64) / n
    f = np.cos((s + cfg.cosine_s) / (1 + cfg.cosine_s) * np.pi / 2) ** 2
    betas = np.clip(1.0 - f[1:] / f[:-1], 0.0, cfg.max_beta)
    return np.cumprod(1.0 - betas)


def ddim_timesteps(n_steps: int, cfg: ScheduleConfig = ScheduleConfig()) -> np.ndarray:
    """Descending, evenly spaced time indices ending at 0, shape (n_steps,), int64.

    The first step is always the last index (pure noise), e.g. N=1000, 4 steps -> [999, 666, 333, 0].
    """
    if not 1 <= n_steps <= cfg.n_train_steps:
        raise ValueError(f"n_steps must be in 1..{cfg.n_train_steps}")
    if n_steps == 1:
        return np.array([cfg.n_train_steps - 1], dtype=np.int64)
    return np.round(np.linspace(cfg.n_train_steps - 1, 0, n_steps)).astype(np.int64)


@dataclass(frozen=True)
class DDIMSampler:
    """Deterministic DDIM over ``config``'s schedule in ``steps`` steps.

    ``timesteps``: (steps,) int64, descending, ending at 0. A regression (deterministic) model is the
    one-step case at t = 0 (``DDIMSampler.single_pass``): its one "step" returns the network's output.
    """

    config: ScheduleConfig = ScheduleConfig()
    steps: int = 8
    timesteps: np.ndarray = field(init=False, repr=False, compare=False)
    abar: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "timesteps", ddim_timesteps(int(self.steps), self.config))
        object.__setattr__(self, "abar", alphas_cumprod(self.config))

    @classmethod
    def single_pass(cls, config: ScheduleConfig = ScheduleConfig()) -> DDIMSampler:
        """One network call at t = 0 whose x0 is the result (deterministic regression models)."""
        s = cls(config, 1)
        object.__setattr__(s, "timesteps", np.array([0], np.int64))
        return s

    def step(self, i: int, x_t, x0):
        """From x at ``timesteps[i]`` and the network's x0 estimate to x at ``timesteps[i + 1]``.

        After the last step the x0 estimate itself is returned. Any array type (numpy, torch), any shape.
        """
        if i + 1 >= len(self.timesteps):
            return x0
        a_t = float(self.abar[self.timesteps[i]])
        a_p = float(self.abar[self.timesteps[i + 1]])
        eps = (x_t - a_t ** 0.5 * x0) / (1.0 - a_t) ** 0.5
        return a_p ** 0.5 * x0 + (1.0 - a_p) ** 0.5 * eps

    def sample(self, denoise, x_T, on_step=None):
        """Whole loop: ``denoise(x_t, t: int) -> x0``; ``on_step(i, n)`` after each step. Returns x0."""
        x = x_T
        n = len(self.timesteps)
        for i, t in enumerate(self.timesteps):
            x = self.step(i, x, denoise(x, int(t)))
            if on_step is not None:
                on_step(i + 1, n)
        return x


def initial_noise(seed: int, n_frames: int, n_channels: int, mouth_temperature: float = 1.0) -> np.ndarray:
    """x_T of one take, (n_frames, n_channels) float32: standard normal from ``default_rng(seed)`` with the
    mouth/jaw channels (``channels.MOUTH_INDEX``) scaled by ``mouth_temperature``.

    A temperature below 1 draws the mouth closer to what the audio implies while the upper face keeps the
    full take-to-take variety of the seed; 1 is plain DDIM.
    """
    x = np.random.default_rng(seed).standard_normal((n_frames, n_channels)).astype(np.float32)
    if mouth_temperature != 1.0:
        x[:, list(MOUTH_INDEX)] *= np.float32(mouth_temperature)
    return x


def q_sample(x0: np.ndarray, t: int, noise: np.ndarray, abar: np.ndarray) -> np.ndarray:
    """x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise (DDPM eq. 4)."""
    a = abar[t]
    return (np.sqrt(a) * x0 + np.sqrt(1.0 - a) * noise).astype(np.float32)


def guided(x0_cond, x0_uncond, scale: float):
    """Classifier-free guidance on the x0 estimate; scale 1 returns the conditional estimate."""
    if scale == 1.0:
        return x0_cond
    return x0_uncond + float(scale) * (x0_cond - x0_uncond)
