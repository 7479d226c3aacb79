"""Tempo augmentation in the batcher: audio and frame labels are re-timed on the same map."""
from __future__ import annotations

import numpy as np
import pytest

from thunder_train.corpus.augment import AugmentConfig
from thunder_train.corpus.dataset import Utterance
from thunder_train.data import SAMPLES_PER_FRAME, BatchConfig, Batcher

SR = 16000


def _clicky_utterance(F: int = 400, every: int = 23) -> Utterance:
    """Tone bursts two frames long every ``every`` frames; perf channel 0, closure and phone mark them."""
    audio = np.zeros(F * SAMPLES_PER_FRAME, np.float32)
    perf = np.zeros((F, 55), np.float32)
    on = np.zeros(F, bool)
    t = np.arange(2 * SAMPLES_PER_FRAME) / SR
    for f in range(5, F - 2, every):
        audio[f * SAMPLES_PER_FRAME:(f + 2) * SAMPLES_PER_FRAME] = 0.5 * np.sin(2 * np.pi * 500 * t)
        on[f:f + 2] = True
    perf[:, 0] = on
    perf[:, 1] = np.arange(F) / F
    return Utterance(audio=audio, perf=perf, phone_class=on.astype(np.int8), closure=on.copy(), emotion=1,
                     intensity=0.5, voice="test", lang="en", source="test", text="", segments=[],
                     viseme=(on * 7).astype(np.int8))


def _only_tempo(rate: float) -> AugmentConfig:
    off = {f: 0.0 for f in AugmentConfig.__dataclass_fields__ if f.startswith("p_")}
    return AugmentConfig(**{**off, "gain_db": (0.0, 0.0), "p_tempo": 1.0, "tempo_rate": (rate, rate)})


@pytest.mark.parametrize("rate", [0.75, 1.0, 1.33])
def test_tempo_keeps_audio_and_labels_aligned(rate):
    u = _clicky_utterance()
    cfg = BatchConfig(batch=6, crop=100, real_share=0.5, augment=True, augment_from=0, min_frames=10,
                      augmentation=_only_tempo(rate))
    b = Batcher([u], cfg, seed=3).next()
    for i in range(6):
        m = b["mask"][i].numpy()
        n = int(m.sum())
        assert n == 100                                    # the crop is always filled (long utterance)
        energy = b["mel_clean"][i].numpy().reshape(-1, 2, 80).mean((1, 2))[:n]
        loud = energy > 0.5 * (energy.max() + energy.min())
        label = b["perf"][i, :n, 0].numpy() > 0.05
        # every labelled burst frame is loud within one frame, and every loud run is labelled
        for f in np.nonzero(label)[0]:
            assert loud[max(f - 1, 0):f + 2].any(), (rate, i, f)
        for f in np.nonzero(loud)[0]:
            assert label[max(f - 1, 0):f + 2].any(), (rate, i, f)
        closure = b["closure"][i, :n].numpy()
        phone = b["phone"][i, :n].numpy() > 0
        np.testing.assert_array_equal(b["viseme"][i, :n].numpy(), 7 * phone)   # visemes re-timed like phones
        assert (closure[phone]).all() and closure.sum() <= phone.sum() + 2 * len(np.nonzero(np.diff(phone))[0]) + 2
        # the clock channel advances ``rate`` source frames per output frame
        clock = b["perf"][i, :n, 1].numpy() * 400
        slope = np.polyfit(np.arange(n), clock, 1)[0]
        assert abs(slope - rate) < 0.02, (rate, slope)
        # bursts every 23 source frames -> every 23 / rate output frames
        runs = np.nonzero(np.diff(closure.astype(int)) == 1)[0]
        if len(runs) > 1:
            assert abs(np.median(np.diff(runs)) - 23 / rate) <= 1.0


def test_tempo_is_deterministic_and_resumable():
    u = _clicky_utterance()
    cfg = BatchConfig(batch=4, crop=80, real_share=0.5, augment=True, augment_from=0, min_frames=10,
                      augmentation=AugmentConfig())
    a, b = Batcher([u], cfg, seed=7), Batcher([u], cfg, seed=7)
    a.next()
    state = a.state()
    x = a.next()
    b.set_state(state)
    y = b.next()
    for k in x:
        np.testing.assert_array_equal(x[k].numpy(), y[k].numpy())
