"""Shared data preparation for the judges: speaker-normalised log-mel next to the 50 fps performance.

The audio representation every judge uses is the project's 16 kHz log-mel front end
(``thunder_blender.core.features``, 100 frames/s, 80 mels), normalised per utterance (mean and standard
deviation per mel bin over the utterance's frames). Normalising per utterance removes most of the
speaker/voice/channel colour, and it is what is available at generation time (one clip, no speaker id).

Alignment: performance frame ``f`` (50 fps) covers mel frames ``2f`` and ``2f + 1``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from thunder_blender.core import features
from thunder_blender.core.channels import MOUTH_INDEX

N_MELS = 80
# One intra-op thread: on the shared 2-core machine two threads measured ~5x slower per step
# (0.96 vs 0.19 CPU-s for an M2S step at hidden 128, batch 32) because of spin-waiting under load.
THREADS = 1


STD_FLOOR = features.NORM_STD_FLOOR  # keeps near-constant bins (e.g. silence-only crops) from blowing up


def _log(msg: str) -> None:
    print(msg, flush=True)


@dataclass
class Item:
    """One utterance ready for judge training.

    mel: (2T, 80) float32 speaker-normalised log-mel at 100 fps.
    perf: (T, 55) float32 performance at 50 fps.
    phone_class: (T,) int64 phone-class ids.
    """

    mel: np.ndarray
    perf: np.ndarray
    phone_class: np.ndarray
    voice: str
    source: str


def log_mel(audio: np.ndarray) -> np.ndarray:
    """(S,) float32 16 kHz audio -> (Tm, 80) float32 log-mel at 100 fps (the shipped front end)."""
    return np.asarray(features.log_mel(np.asarray(audio, dtype=np.float32)), dtype=np.float32)


def normalise_np(mel: np.ndarray) -> np.ndarray:
    """(Tm, 80) -> (Tm, 80): per-utterance, per-bin mean/std normalisation (the runtime's own)."""
    return features.normalise(mel)


def normalise_torch(mel: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """(B, Tm, 80) -> (B, Tm, 80), normalised per item over its valid frames.

    mask: (B, Tm) bool of valid mel frames (None = all valid). Invalid frames come out as 0.
    """
    if mask is None:
        mask = torch.ones(mel.shape[:2], dtype=torch.bool, device=mel.device)
    m = mask.to(mel.dtype).unsqueeze(-1)
    n = m.sum(dim=1, keepdim=True).clamp_min(1.0)
    mu = (mel * m).sum(dim=1, keepdim=True) / n
    var = (((mel - mu) * m) ** 2).sum(dim=1, keepdim=True) / n
    sd = var.sqrt().clamp_min(STD_FLOOR)
    return (mel - mu) / sd * m


def mask_to_mel(mask: torch.Tensor, tm: int) -> torch.Tensor:
    """(B, T) bool at 50 fps -> (B, tm) bool at 100 fps (frame f -> mel frames 2f, 2f+1)."""
    m = mask.repeat_interleave(2, dim=1)
    if m.shape[1] >= tm:
        return m[:, :tm]
    pad = torch.zeros(m.shape[0], tm - m.shape[1], dtype=torch.bool, device=m.device)
    return torch.cat([m, pad], dim=1)


def prepare(utts: list, max_items: int | None = None, seed: int = 0) -> list[Item]:
    """Corpus utterances -> judge items (mel computed once, aligned to the performance length).

    A random subset of ``max_items`` utterances is kept when given (explicit RNG).
    """
    idx = np.arange(len(utts))
    if max_items is not None and len(utts) > max_items:
        idx = np.sort(np.random.default_rng(seed).choice(len(utts), size=max_items, replace=False))
    items = []
    for i in idx:
        u = utts[int(i)]
        mel = log_mel(u.audio)
        t = min(len(u.perf), mel.shape[0] // 2)
        if t < 4:
            continue
        items.append(Item(
            mel=normalise_np(mel[: 2 * t]),
            perf=np.asarray(u.perf[:t], dtype=np.float32),
            phone_class=np.asarray(u.phone_class[:t], dtype=np.int64),
            voice=str(u.voice), source=str(u.source),
        ))
    return items


def read_split(corpus_root: str | Path, split: str) -> list:
    """Utterances of one split (``corpus.dataset.load_split``); [] when the split was not built."""
    from thunder_train.corpus.dataset import load_split

    return load_split(corpus_root, split)


def load_items(corpus_root: str | Path, splits: tuple[str, ...], max_items: int | None = None,
               seed: int = 0) -> list[Item]:
    """Load and prepare the given splits of a corpus (missing splits are skipped)."""
    utts = []
    for split in splits:
        utts += read_split(corpus_root, split)
    if not utts:
        raise FileNotFoundError(f"no utterances in {corpus_root} for splits {splits}")
    return prepare(utts, max_items=max_items, seed=seed)


def voice_half(items: list[Item], half: int) -> list[Item]:
    """One of two disjoint halves of the items, stratified by source.

    Within each source (synthesiser or recording set) the sorted voices alternate between the halves;
    a source with a single voice (e.g. one recorded speaker) is split by utterance instead, so both
    halves see every kind of audio (synthetic and recorded) and the halves never share an utterance.
    """
    by_source: dict[str, list[Item]] = {}
    for it in items:
        by_source.setdefault(it.source, []).append(it)
    out: list[Item] = []
    for src in sorted(by_source):
        group = by_source[src]
        voices = sorted({it.voice for it in group})
        if len(voices) >= 2:
            keep = set(voices[half::2])
            out += [it for it in group if it.voice in keep]
        else:
            out += group[half::2]
    return out


def crop_batch(items: list[Item], rng: np.random.Generator, batch: int, length: int
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random aligned crops of ``length`` frames (shorter items are zero-padded and masked).

    Returns perf (B, L, 55), mel (B, 2L, 80), phone (B, L) int64, mask (B, L) bool.
    """
    perf = np.zeros((batch, length, 55), np.float32)
    mel = np.zeros((batch, 2 * length, N_MELS), np.float32)
    phone = np.zeros((batch, length), np.int64)
    mask = np.zeros((batch, length), bool)
    for b in range(batch):
        it = items[int(rng.integers(len(items)))]
        t = len(it.perf)
        s = int(rng.integers(0, max(1, t - length + 1)))
        n = min(length, t - s)
        perf[b, :n] = it.perf[s:s + n]
        mel[b, : 2 * n] = it.mel[2 * s: 2 * (s + n)]
        phone[b, :n] = it.phone_class[s:s + n]
        mask[b, :n] = True
    return torch.from_numpy(perf), torch.from_numpy(mel), torch.from_numpy(phone), torch.from_numpy(mask)


def mouth(x: torch.Tensor) -> torch.Tensor:
    """(..., 55) -> (..., len(MOUTH_INDEX)) mouth/jaw channels."""
    return x[..., list(MOUTH_INDEX)]
