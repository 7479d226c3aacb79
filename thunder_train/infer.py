"""Torch-side sampling of takes (evaluation and export checks); mirrors ``runtime.generate`` for one window.

Noise for a take comes only from its seed (``np.random.default_rng(seed).standard_normal((T, 55))``),
exactly as in the runtime, so torch and onnxruntime takes can be compared one to one.
"""
from __future__ import annotations

import numpy as np
import torch

from thunder_blender.core import features, schedule
from thunder_blender.core.channels import EMOTION_INDEX, N_ARKIT, N_CHANNELS
from thunder_blender.core.phones import UNKNOWN, phone_input
from thunder_train.networks import Generator


def mel_input(audio: np.ndarray) -> np.ndarray:
    """(S,) 16 kHz float32 -> (1, 2T, 80) normalised log-mel with T = Tm // 2."""
    mel = features.normalise(features.log_mel(audio))
    n = mel.shape[0] // 2
    return mel[None, : 2 * n]


@torch.no_grad()
def sample_takes(gen: Generator, audio: np.ndarray, seeds: list[int], emotion: int = 0, intensity: float = 0.0,
                 steps: int = 8, guidance: float = 1.0, n_frames: int | None = None,
                 mouth_temperature: float = 1.0, phones: np.ndarray | None = None) -> np.ndarray:
    """Takes for 16 kHz audio: (N, T, 55) float32 in raw units (ARKit clipped to [0, 1]).

    n_frames crops/pads (edge) the output to a given length (e.g. the reference performance's).
    phones: (T',) int phone classes per 50 fps frame (``core.phones.UNKNOWN`` where none; cropped/padded
    to T), the transcript mode; None is audio-only.
    """
    gen.eval()
    mel = torch.from_numpy(mel_input(audio))
    feats = gen.encoder(mel)
    T = feats.shape[1]
    sampler = schedule.DDIMSampler.single_pass() if gen.regression else schedule.DDIMSampler(steps=steps)
    emo = torch.tensor([emotion])
    inten = torch.tensor([intensity if emotion else 0.0], dtype=torch.float32)
    guide = guidance != 1.0 and emotion != 0 and not gen.regression
    ph = None
    if phones is not None:
        cls = np.full(T, UNKNOWN, np.int64)
        cls[: min(T, len(phones))] = np.asarray(phones, np.int64)[:T]
        ph = torch.from_numpy(phone_input(cls))[None]
    out = []
    for seed in seeds:
        x = torch.from_numpy(schedule.initial_noise(seed, T, N_CHANNELS, mouth_temperature))[None]
        for i, t in enumerate(sampler.timesteps):
            tt = torch.tensor([int(t)])
            x0 = gen.denoiser(x, feats, tt, emo, inten, ph)
            if guide:
                x0u = gen.denoiser(x, feats, tt, torch.tensor([EMOTION_INDEX["auto"]]), torch.tensor([0.0]), ph)
                x0 = schedule.guided(x0, x0u, guidance)
            x = sampler.step(i, x, x0)
        perf = gen.denormalise(x)[0].numpy()
        perf[:, :N_ARKIT] = np.clip(perf[:, :N_ARKIT], 0.0, 1.0)
        out.append(perf)
    res = np.stack(out).astype(np.float32)
    if n_frames is not None:
        if res.shape[1] >= n_frames:
            res = res[:, :n_frames]
        else:
            res = np.concatenate([res, np.repeat(res[:, -1:], n_frames - res.shape[1], axis=1)], axis=1)
    return res


def closure_probability(gen: Generator, audio: np.ndarray) -> np.ndarray:
    """(T,) sigmoid of the encoder's closure head."""
    with torch.no_grad():
        feats = gen.encoder(torch.from_numpy(mel_input(audio)))
        c, _ = gen.encoder.heads(feats)
    return torch.sigmoid(c[0]).numpy()
