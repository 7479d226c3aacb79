"""Training batches for the generator: random aligned crops, on-the-fly audio augmentation, features.

The features are computed with the shipped numpy front end (``core.features.log_mel`` +
``core.features.normalise``), so training sees exactly what the runtime computes. Real recordings
(``real_train``) get a fixed share of the draws (``real_share``) however large the synthetic part is; ``real_val`` is never used here.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from thunder_blender.core import features
from thunder_blender.core.channels import N_CHANNELS
from thunder_train.corpus.augment import AugmentConfig, augment, retime_classes, retime_labels, time_stretch

HOP = features.MEL.hop_length           # 160 samples = one mel frame
SAMPLES_PER_FRAME = 2 * HOP             # 320 samples = one 50 fps frame


def load_utterances(root: str | Path, splits: tuple[str, ...]) -> list:
    """Corpus utterances of the given splits (missing splits are skipped)."""
    from thunder_train.corpus.dataset import load_split

    out = []
    for split in splits:
        if (Path(root) / split).is_dir():
            out += list(load_split(root, split))
    return out


def frames_of(utt) -> int:
    """Usable 50 fps frames of an utterance (performance and audio both cover them)."""
    return int(min(len(utt.perf), len(utt.audio) // SAMPLES_PER_FRAME))


def features_for(audio: np.ndarray, n_frames: int) -> np.ndarray:
    """(S,) float32 16 kHz -> (2 * n_frames, 80) normalised log-mel, padded with silence if short."""
    mel = features.log_mel(audio)
    need = 2 * n_frames
    if mel.shape[0] < need:
        pad = np.full((need - mel.shape[0], mel.shape[1]), np.log(features.MEL.log_floor), np.float32)
        mel = np.concatenate([mel, pad])
    return mel[:need]


@dataclass
class BatchConfig:
    """Batch settings (values: ``thunder_train/recipe.toml`` [generator.batch] / [generator.augment])."""

    batch: int
    crop: int                       # frames at 50 fps
    real_share: float               # fraction of crops drawn from recorded speech (when the corpus has any)
    augment: bool
    augment_from: int               # batches before this one (0-based count of batches drawn) are clean
    min_frames: int
    augmentation: object | None = None   # corpus.augment.AugmentConfig (None: that module's defaults)


def is_recorded(u) -> bool:
    """Recorded speech (any ``real_train`` source: Asterisk prompts, game dialogue, Tux Paint descriptions)
    rather than synthesised: every source that is not a synthesis engine."""
    from thunder_train.corpus.voices import SYNTH_ENGINES

    return str(u.source) not in SYNTH_ENGINES


def draw_probabilities(utts: list, real_share: float) -> np.ndarray:
    """(n,) probability of drawing each utterance: proportional to its frames within its group, with the
    recorded-speech group getting ``real_share`` of the mass (all of it by frames when one group is empty)."""
    frames = np.array([frames_of(u) for u in utts], dtype=np.float64)
    real = np.array([is_recorded(u) for u in utts])
    if real.all() or not real.any():
        return frames / frames.sum()
    w = np.where(real, real_share * frames / frames[real].sum(), (1 - real_share) * frames / frames[~real].sum())
    return w / w.sum()


class Batcher:
    """Draws batches of aligned crops. ``next()`` returns a dict of tensors:

    mel (B, 2L, 80) normalised log-mel of the (augmented) audio; mel_clean (B, 2L, 80) raw log-mel of
    the clean audio (the judges' target side); perf (B, L, 55); closure (B, L) bool; phone (B, L) int64;
    viseme (B, L) int64; mask (B, L) bool; emotion (B,) int64; intensity (B,) float32.

    With augmentation on, a crop is played at another tempo with probability ``p_tempo``: round(L * rate)
    source frames are time-stretched (pitch kept) into L frames, and perf / closure / phone / viseme are re-timed on
    the same map (``corpus.augment.retime_labels``), so mel frame 2j..2j+1 still belongs to label frame j.
    """

    def __init__(self, utts: list, cfg: BatchConfig, seed: int = 0):
        self.cfg = cfg
        self.utts = [u for u in utts if frames_of(u) >= cfg.min_frames]
        if not self.utts:
            raise ValueError("no usable utterances for training")
        self.p = draw_probabilities(self.utts, cfg.real_share)
        self.rng = np.random.default_rng(seed)
        self.drawn = 0  # batches drawn so far; with ``rng``'s state this is the sampler's whole state
        self._augment = augment if cfg.augment else None
        self.augmenting = cfg.augment
        self._aug_cfg = cfg.augmentation or AugmentConfig()

    def state(self) -> dict:
        return {"drawn": self.drawn, "rng": self.rng.bit_generator.state}

    def set_state(self, state: dict) -> None:
        self.drawn = int(state["drawn"])
        self.rng.bit_generator.state = state["rng"]

    def next(self) -> dict[str, torch.Tensor]:
        c, rng = self.cfg, self.rng
        augmenting = self._augment is not None and self.drawn >= c.augment_from
        self.drawn += 1
        B, L = c.batch, c.crop
        mel = np.zeros((B, 2 * L, features.MEL.n_mels), np.float32)
        mel_clean = np.zeros_like(mel)
        perf = np.zeros((B, L, N_CHANNELS), np.float32)
        closure = np.zeros((B, L), bool)
        phone = np.zeros((B, L), np.int64)
        viseme = np.zeros((B, L), np.int64)
        mask = np.zeros((B, L), bool)
        emotion = np.zeros(B, np.int64)
        intensity = np.zeros(B, np.float32)
        for b in range(B):
            u = self.utts[int(rng.choice(len(self.utts), p=self.p))]
            n_all = frames_of(u)
            rate = 1.0
            if augmenting and rng.random() < self._aug_cfg.p_tempo:
                rate = float(rng.uniform(*self._aug_cfg.tempo_rate))
            src_len = int(round(L * rate))   # source frames that play in L output frames
            s = int(rng.integers(0, max(1, n_all - src_len + 1)))
            m = min(src_len, n_all - s)
            clip = np.asarray(u.audio[s * SAMPLES_PER_FRAME:(s + m) * SAMPLES_PER_FRAME], np.float32)
            u_perf, u_closure, u_phone = u.perf[s:s + m], u.closure[s:s + m], u.phone_class[s:s + m]
            u_vis = u.viseme[s:s + m]
            n = m
            if rate != 1.0:
                # tempo: the m source frames play in n output frames; audio and labels on the same time map
                n = max(1, min(L, int(round(m / rate))))
                clip = time_stretch(clip, n * SAMPLES_PER_FRAME)
                u_perf, u_phone, u_closure = retime_labels(u_perf, u_phone, u_closure, m / n, n)
                u_vis = retime_classes(u_vis, m / n, n)
            raw = features_for(clip, n)
            mel_clean[b, : 2 * n] = raw
            if augmenting:
                aug = np.asarray(self._augment(clip, features.SAMPLE_RATE, rng, c.augmentation),
                                 np.float32)[: len(clip)]
                if len(aug) < len(clip):
                    aug = np.pad(aug, (0, len(clip) - len(aug)))
                raw = features_for(aug, n)
            mel[b, : 2 * n] = features.normalise(raw)
            perf[b, :n] = u_perf
            closure[b, :n] = u_closure
            phone[b, :n] = u_phone
            viseme[b, :n] = u_vis
            mask[b, :n] = True
            emotion[b] = int(u.emotion)
            intensity[b] = float(u.intensity)
        return {k: torch.from_numpy(v) for k, v in dict(
            mel=mel, mel_clean=mel_clean, perf=perf, closure=closure, phone=phone, viseme=viseme, mask=mask,
            emotion=emotion, intensity=intensity).items()}


def perf_stats(utts: list, max_frames: int = 400_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std (floored) of the performances, (55,) each, float32."""
    rng = np.random.default_rng(seed)
    allp = np.concatenate([np.asarray(u.perf, np.float32) for u in utts])
    if len(allp) > max_frames:
        allp = allp[rng.choice(len(allp), max_frames, replace=False)]
    mean = allp.mean(0)
    std = np.maximum(allp.std(0), 0.02)
    return mean.astype(np.float32), std.astype(np.float32)
