"""Reference path: the same generator network sampled with many ancestral (DDPM) steps vs the shipped
few-step sampler, in the same run, so the ratio is free of machine differences.

The denoiser closure is built from the same public pieces ``runtime.generate`` uses (``core.features``
log-mel + normalisation, ``Model.run_encoder``, ``Model.run_denoiser`` with the "auto" emotion, the card's
noise schedule), for one take of one window, and handed to these loops:

* shipped: the card's ``DDIMSampler`` (the sampler ``generate`` steps through per take);
* K-step DDPM: ancestral sampling on K evenly spaced steps (the posterior q(x_t' | x_t, x0) between
  consecutive chosen steps); with K = N = 1000 training steps it is plain DDPM (Ho et al. 2020, eqs. 6-7).

The ancestral sampler lives here, not in ``core``: it is a reference for the benchmark, never shipped.

The full ``generate()`` call for one take is timed too, so the loop-only numbers can be compared with it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .common import TimingConfig, Unavailable, read_wav, speech_clip, time_repeated
from .runtime_bench import load_cpu_model, load_runtime


@dataclass(frozen=True)
class ReferenceConfig:
    audio_s: float = 10.0
    ddpm_steps: tuple[int, ...] = (50, 1000)
    timing: TimingConfig = field(default_factory=lambda: TimingConfig(warmup=1, min_runs=3, max_runs=7))
    seed: int = 3


def ancestral_step(x_t: np.ndarray, x0: np.ndarray, t: int, t_prev: int, abar: np.ndarray,
                   noise: np.ndarray) -> np.ndarray:
    """Sample x_{t_prev} ~ q(x_{t_prev} | x_t, x0) for t_prev < t (t_prev < 0: return x0)."""
    if t_prev < 0:
        return x0.astype(np.float32)
    a_t, a_p = abar[t], abar[t_prev]
    beta = 1.0 - a_t / a_p  # effective beta of the jump t_prev -> t
    c0 = np.sqrt(a_p) * beta / (1.0 - a_t)
    ct = np.sqrt(1.0 - beta) * (1.0 - a_p) / (1.0 - a_t)
    var = beta * (1.0 - a_p) / (1.0 - a_t)
    return (c0 * x0 + ct * x_t + np.sqrt(var) * noise).astype(np.float32)


def sample_ddpm_strided(denoise, x_T: np.ndarray, n_steps: int, rng: np.random.Generator, cfg) -> np.ndarray:
    """Ancestral sampling over ``n_steps`` evenly spaced steps of the training schedule. Returns x0."""
    from thunder_blender.core import schedule

    abar = schedule.alphas_cumprod(cfg)
    ts = np.round(np.linspace(cfg.n_train_steps - 1, 0, n_steps)).astype(np.int64)
    x = np.asarray(x_T, dtype=np.float32)
    for i, t in enumerate(ts):
        x0 = denoise(x, int(t))
        t_prev = int(ts[i + 1]) if i + 1 < len(ts) else -1
        x = ancestral_step(x, x0, int(t), t_prev, abar, rng.standard_normal(x.shape).astype(np.float32))
    return x


def build_denoiser(model, pcm: np.ndarray, sr: int, counter: list[int]):
    """(denoise(x_t (T, 55), t) -> x0 (T, 55), T, schedule config) for one take, as generate() builds it."""
    from thunder_blender.core import features
    from thunder_blender.runtime import generate as gen

    audio = gen.prepare_audio(pcm, sr)
    mel = features.normalise(features.log_mel(audio))
    n = mel.shape[0] // 2
    window = model.card.window.frames
    if n > window:
        raise Unavailable(f"reference clip longer than one model window ({n} > {window} frames)")
    feats, _ = model.run_encoder(mel[None, : 2 * n])
    cfg = model.card.schedule.config
    emo, inten = np.array([model.card.null_emotion]), np.array([0.0], np.float32)

    def denoise(x: np.ndarray, t: int) -> np.ndarray:
        counter[0] += 1
        return model.run_denoiser(x[None], feats, np.array([t], np.int64), emo, inten)[0]

    return denoise, n, cfg


def bench_reference(cfg: ReferenceConfig, work: Path) -> dict:
    load_model, generate, GenerateRequest = load_runtime()
    model = load_cpu_model(load_model)
    if getattr(model, "regression", False):
        raise Unavailable("the shipped model is the deterministic regression model (no sampler to compare)")
    pcm, sr = read_wav(speech_clip(cfg.audio_s, work))
    req = GenerateRequest(pcm=pcm, sample_rate=sr, n_takes=1, seed=cfg.seed)
    try:
        full = time_repeated(lambda: generate(req, model), cfg.timing)
    except NotImplementedError as exc:
        raise Unavailable(f"generate() not implemented yet ({exc})") from exc
    counter = [0]
    denoise, n, sched = build_denoiser(model, pcm, sr, counter)
    noise = np.random.default_rng(cfg.seed).standard_normal((n, 55)).astype(np.float32)
    sampler = model.card.sampler()
    steps = len(sampler.timesteps)
    shipped = time_repeated(lambda: sampler.sample(denoise, noise), cfg.timing)
    out: dict = {"audio_s": cfg.audio_s, "takes": 1, "frames": n, "shipped_steps": steps,
                 "generate_one_take": full, "shipped_few_step": shipped, "many_step": {}}
    for k in cfg.ddpm_steps:
        counter[0] = 0
        rng = np.random.default_rng(cfg.seed)
        t0 = time.perf_counter()
        sample_ddpm_strided(denoise, noise, k, rng, sched)
        wall = time.perf_counter() - t0
        out["many_step"][str(k)] = {"wall_s": wall, "denoiser_calls": counter[0],
                                    "x_shipped": wall / shipped["median_s"]}
    return out
