"""Generation entry point shared by the add-on and the CLI: audio in, N takes out.

Contract (the add-on and the CLI depend only on this module and ``runtime.model``):

    model = load_model()                       # runtime.model; model dir from the card
    takes = generate(GenerateRequest(pcm=pcm, sample_rate=16000, n_takes=4, seed=7), model,
                     progress=lambda done, total: ..., cancel=threading.Event())
    takes.weights   # (N, T, 55) float32 at takes.fps, channels core.channels.CHANNELS

How a take is made: the audio is resampled to 16 kHz, turned into a per-utterance normalised log-mel
(``core.features``) and encoded once; each take starts from its own Gaussian noise (drawn from its seed
only, so a take can be re-rolled alone) and is denoised with a few deterministic DDIM steps
(``core.schedule``). Clips longer than the card's window are processed in overlapping windows whose
results are cross-faded linearly over the overlap (the noise is one global sequence sliced per window,
so neighbouring windows agree in the overlap and there is no seam).

With ``transcript=`` the words are aligned to the encoder's phone posteriors (``core.pronounce``,
``core.alignment``; ``Takes.alignment``). A model with phone input gets the aligned classes (a model without it
says so in its takes), and the lips are sealed on the core of every aligned /p b m/ (``transcript_seal``).
docs/TRANSCRIPTS.md.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..core import activity, blinks, features, gaze, schedule
from ..core.alignment import AlignConfig, Alignment, align
from ..core.channels import CHANNELS, EMOTION_INDEX, EMOTIONS, HEAD_INDEX, INDEX, N_ARKIT
from ..core.closures import LIP_OPENING, aligned_closures
from ..core.phones import CLASS_INDEX, phone_input
from ..core.pronounce import LANGUAGES, pronounce
from ..core.rest import rest_mouth, rest_weights
from ..core.speech_check import nonspeech_reason
from ..core.visemes import SpeechCues, sibilance

MAX_SECONDS = 3600.0  # one hour: generation and the numpy outputs stay within 2 GB (make bench)
MIN_SECONDS = 0.1
MAX_TAKES = 16
MAX_TRANSCRIPT_CHARS = 200_000   # about 30 000 words: a few hours of speech
MAX_WORDS_PER_SECOND = 8.0
SIL = CLASS_INDEX["sil"]       # fast speech is 4-5 words/s; beyond this the text is not this clip's
# With a transcript, seal the lips on the core of each aligned /p b m/ too (core.closures.aligned_closures);
# chosen by the development-set measurements in docs/TRANSCRIPTS.md (with and without phone input).
TRANSCRIPT_SEAL = True


class GenerationCancelled(Exception):
    """Raised by generate() when its cancel event is set; nothing is returned."""


class InputError(ValueError):
    """Unusable input (empty, silent, too long, wrong emotion name...). Message is user-facing."""


@dataclass(frozen=True)
class GenerateRequest:
    """Everything generation needs, snapshotted on the caller's thread (no Blender objects).

    pcm: (S,) float32 mono samples in [-1, 1] at ``sample_rate`` (resampled to the model's rate inside).
    take_seeds: explicit per-take seeds (re-roll of one take); when given, one take per seed is made and
        ``n_takes`` is ignored. Default: N seeds derived from ``seed`` (``take_seeds(request)``).
    guidance: classifier-free guidance on the emotion condition (1 = off; no effect with emotion "auto").
    steps / seal_closures / silence_rest: override the card's DDIM step count / closure sealing / mouth rest in
        silence (None = card default).
    """

    pcm: np.ndarray
    sample_rate: int = 16000
    n_takes: int = 4
    seed: int = 0
    emotion: str = "auto"
    intensity: float = 0.5
    guidance: float = 1.0
    head_motion: bool = True
    take_seeds: tuple[int, ...] | None = None
    steps: int | None = None          # DDIM steps (default: the card's)
    seal_closures: bool | None = None  # seal lips where the closure head fires (default: the card's)
    silence_rest: bool | None = None   # mouth at rest where the phone head hears silence (default: the card's)
    mouth_temperature: float | None = None  # x_T scale on the mouth channels (default: the card's, else 1)
    eye_layer: bool = True  # blinks and gaze from the seeded layers (core.blinks, core.gaze), see add_eye_layer
    transcript: str | None = None  # the words spoken; aligned to the audio, see align_transcript
    transcript_language: str = "en"  # language of the transcript: a code of core.pronounce.LANGUAGES
    transcript_seal: bool = TRANSCRIPT_SEAL  # with a transcript: also seal the aligned /p b m/ (closures)

    def __post_init__(self) -> None:
        if self.emotion not in EMOTIONS:
            raise InputError(f"unknown emotion {self.emotion!r}; choose one of {', '.join(EMOTIONS)}")
        if self.n_takes < 1:
            raise InputError("number of takes must be at least 1")
        if self.n_takes > MAX_TAKES:
            raise InputError(f"at most {MAX_TAKES} takes at once")
        if not 0.0 <= float(self.intensity) <= 1.0:
            raise InputError("emotion intensity must be between 0 and 1")
        if not 0.0 <= float(self.guidance) <= 10.0:
            raise InputError("guidance must be between 0 and 10")
        if self.mouth_temperature is not None and not 0.0 <= float(self.mouth_temperature) <= 1.0:
            raise InputError("mouth variation (mouth temperature) must be between 0 and 1")
        if self.steps is not None and not 1 <= int(self.steps) <= 50:
            raise InputError("steps must be between 1 and 50")
        if self.transcript_language not in LANGUAGES:
            raise InputError(f"unknown transcript language {self.transcript_language!r}; choose one of "
                             f"{', '.join(LANGUAGES)}")
        if self.transcript is not None:
            if not isinstance(self.transcript, str):
                raise InputError("the transcript must be text")
            if not self.transcript.strip():
                raise InputError("the transcript is empty")
            if len(self.transcript) > MAX_TRANSCRIPT_CHARS:
                raise InputError(f"the transcript is {len(self.transcript)} characters long; the limit is "
                                 f"{MAX_TRANSCRIPT_CHARS} (split the audio and its text into shorter clips)")


@dataclass
class Takes:
    """Generated takes.

    weights: (N, T, 55) float32 at ``fps``; ARKit weights in [0, 1], head rotation in radians.
    seeds: the seed of each take (re-rolling take i with seeds[i] reproduces it exactly).
    cues: what the audio says about the mouth (``core.visemes.SpeechCues``: (T, 10) phone-class posteriors over
        the card's ``phone_classes``, (T,) sibilance and, from a viseme head, (T, 15) viseme posteriors), shared
        by all takes; viseme and VRM keys are driven from them (``SpeechCues.visemes``). None when not available.
    alignment: the transcript aligned to the audio (``core.alignment.Alignment``, model frames), shared by all
        takes; None without a transcript. ``settings["alignment"]`` holds a summary (``Alignment.summary``);
        its words are in ``alignment.to_dict()``.
    """

    weights: np.ndarray
    fps: float
    seeds: tuple[int, ...]
    channels: tuple[str, ...] = CHANNELS
    settings: dict = field(default_factory=dict)
    cues: SpeechCues | None = None
    alignment: Alignment | None = None

    @property
    def duration(self) -> float:
        return self.weights.shape[1] / self.fps


ProgressFn = Callable[[int, int], None]


def take_seeds(request: GenerateRequest) -> tuple[int, ...]:
    """Per-take seeds: the explicit ones, or N seeds derived from ``request.seed``."""
    if request.take_seeds is not None:
        seeds = tuple(int(s) for s in request.take_seeds)
        if not seeds:
            raise InputError("take_seeds is empty")
        return seeds
    state = np.random.SeedSequence(int(request.seed)).generate_state(request.n_takes, dtype=np.uint32)
    return tuple(int(s) for s in state)


def prepare_audio(pcm: np.ndarray, sample_rate: int) -> np.ndarray:
    """Validate and convert to 16 kHz mono float32. Raises InputError with a user-facing message."""
    x = np.asarray(pcm)
    if x.size == 0:
        raise InputError("the audio is empty")
    if x.ndim not in (1, 2):
        raise InputError(f"audio must be mono (S,) or (S, channels), got shape {x.shape}")
    if np.issubdtype(x.dtype, np.integer):
        x = x.astype(np.float32) / float(np.iinfo(x.dtype).max)
    x = x.astype(np.float32, copy=False)
    if int(sample_rate) < 4000:
        raise InputError(f"sample rate {sample_rate} Hz is too low (at least 4000 Hz)")
    seconds = x.shape[0] / float(sample_rate)
    if seconds > MAX_SECONDS:
        raise InputError(f"the audio is {format_duration(seconds)} long; the limit is "
                         f"{format_duration(MAX_SECONDS)} (split it into shorter clips)")
    if seconds < MIN_SECONDS:
        raise InputError(f"the audio is too short ({seconds:.2f} s; at least {MIN_SECONDS} s)")
    if not np.all(np.isfinite(x)):
        raise InputError("the audio contains invalid samples (NaN or infinity)")
    if float(np.abs(x).max()) < features.SILENCE_PEAK:
        raise InputError("the audio is silent (peak below -60 dBFS)")
    return features.to_model_audio(x, int(sample_rate))


def format_duration(seconds: float) -> str:
    """``12 min 05 s``, ``1 h 00 min 01 s``, ``9.5 s``: exact enough that a refused length never reads as the limit."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    m, s = divmod(whole, 60)
    h, m = divmod(m, 60)
    sec = f"{s:02d}" if seconds == whole else f"{s + (seconds - whole):04.1f}"
    return f"{h} h {m:02d} min {sec} s" if h else f"{m} min {sec} s"


def windows(n: int, size: int, overlap: int) -> list[tuple[int, int]]:
    """[start, stop) windows covering n frames, consecutive ones overlapping by ``overlap``."""
    if n <= size:
        return [(0, n)]
    hop = size - overlap
    starts = list(range(0, n - size, hop)) + [n - size]
    return [(s, s + size) for s in starts]


def blend_weights(wins: list[tuple[int, int]], n: int) -> list[np.ndarray]:
    """Per-window (len,) weights: linear cross-fades over each overlap, summing to 1 per frame."""
    out = []
    for i, (s, e) in enumerate(wins):
        w = np.ones(e - s, np.float32)
        if i > 0:
            ov = wins[i - 1][1] - s
            w[:ov] = (np.arange(ov) + 0.5) / ov
        if i + 1 < len(wins):
            ov = e - wins[i + 1][0]
            w[e - s - ov:] = np.minimum(w[e - s - ov:], 1.0 - (np.arange(ov) + 0.5) / ov)
        out.append(w)
    total = np.zeros(n, np.float32)
    for (s, e), w in zip(wins, out, strict=True):
        total[s:e] += w
    return [w / total[s:e] for (s, e), w in zip(wins, out, strict=True)]


def seal_closures(perf: np.ndarray, closed: np.ndarray) -> np.ndarray:
    """Seal the lips on frames where ``closed`` (T,) is set: mouthClose = jawOpen, lip-opening channels 0.

    perf: (T, 55) (modified copy returned).
    """
    out = perf.copy()
    idx = np.flatnonzero(closed)
    if idx.size:
        out[idx, INDEX["mouthClose"]] = out[idx, INDEX["jawOpen"]]
        out[np.ix_(idx, [INDEX[k] for k in LIP_OPENING])] = 0.0
    return out


def add_eye_layer(perf: np.ndarray, fps: float, pause: np.ndarray, seed: int) -> np.ndarray:
    """Blinks and gaze drawn from the take's seed: fixations/saccades (core.gaze) replace the model's gaze
    drift, then blinks clustered at pauses (core.blinks) replace its blinks. perf: (T, 55) -> (T, 55)."""
    perf, _ = gaze.apply_gaze(perf, fps, blinks.take_rng(seed, gaze.GAZE_STREAM))
    perf, _ = blinks.apply_blinks(perf, fps, pause, blinks.take_rng(seed, blinks.BLINK_STREAM))
    return perf


def encode(model, mel: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """The encoder over ``n`` model frames of normalised log-mel ``mel`` (>= 2n, 80): feats (1, n, E),
    closure logits (1, n), phone logits (1, n, P) or None when the graph has no phone head, viseme logits
    (1, n, 15) or None when it has no viseme head.

    The encoder is convolutional with per-frame norms, so it runs in windows of the card's window length
    with its receptive field as margin on both sides: the same features as one pass (to float rounding),
    and an hour of audio never becomes one huge activation.
    """
    size, margin = model.card.window.frames, model.card.receptive_field_frames["encoder"]
    if n <= size + 2 * margin:
        return model.run_encoder_heads(mel[None, : 2 * n])
    parts: list[tuple] = []
    for s in range(0, n, size):
        e = min(n, s + size)
        a, b = max(0, s - margin), min(n, e + margin)
        out = model.run_encoder_heads(mel[None, 2 * a: 2 * b])
        parts.append(tuple(None if x is None else x[:, s - a: s - a + e - s] for x in out))
    joined = [None if parts[0][j] is None else np.concatenate([p[j] for p in parts], axis=1) for j in range(4)]
    return joined[0], joined[1], joined[2], joined[3]


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, float32."""
    z = np.asarray(logits, np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log-softmax over the last axis, float64."""
    z = np.asarray(logits, np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def align_transcript(transcript: str, phone_logits: np.ndarray | None, seconds: float,
                     cfg: AlignConfig | None = None, language: str = "en") -> Alignment:
    """The transcript's words (in ``language``, a code of ``core.pronounce.LANGUAGES``) aligned to the encoder's
    phone posteriors. phone_logits: (T, 10) or None (an encoder without a phone head). Raises InputError when
    nothing can be aligned."""
    if phone_logits is None:
        raise InputError("this model has no phone-class head, so a transcript cannot be aligned; "
                         "generate without the transcript")
    words = pronounce(transcript, language)
    if not any(w.classes for w in words):
        raise InputError("the transcript has no words that can be pronounced")
    if len(words) > MAX_WORDS_PER_SECOND * seconds + 10:
        raise InputError(f"the transcript has {len(words)} words for {format_duration(seconds)} of audio: "
                         "it is not the text of this clip")
    alignment = align(log_softmax(phone_logits), words, cfg)
    spelled = [w for w in words if w.source != "dictionary"]
    if len(spelled) > max(2, len(words) // 2):
        name = LANGUAGES[language]
        alignment.notes.append(f"{len(spelled)} of {len(words)} words are not in the {name} pronunciation table "
                               "and were spelled by rules (is the transcript language right?)"
                               if language != "other" else "the words were spelled by rules (language 'other')")
    return alignment


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise GenerationCancelled("generation cancelled")


def generate(request: GenerateRequest, model, progress: ProgressFn | None = None,
             cancel: threading.Event | None = None) -> Takes:
    """Generate the requested takes. Same request (and seeds) -> identical takes."""
    seeds = take_seeds(request)
    audio = prepare_audio(request.pcm, request.sample_rate)
    card = model.card
    raw_mel = features.log_mel(audio)
    not_speech = nonspeech_reason(raw_mel)
    mel = features.normalise(raw_mel)
    n = mel.shape[0] // 2
    if n < 2:
        raise InputError("the audio is too short")
    seal = card.closure_seal if request.seal_closures is None else request.seal_closures
    tau = float(card.mouth_temperature if request.mouth_temperature is None else request.mouth_temperature)
    wins = windows(n, card.window.frames, card.window.overlap)
    weights = blend_weights(wins, n)
    emo = EMOTION_INDEX[request.emotion]
    null = card.null_emotion
    inten = 0.0 if emo == null else float(request.intensity)
    guide = float(request.guidance) != 1.0 and emo != null and not card.regression
    sampler = card.sampler(request.steps)
    total = 1 + len(seeds) * len(wins) * len(sampler.timesteps)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    _check_cancel(cancel)
    feats, closure_logit, phone_logits, viseme_logits = encode(model, mel, n)
    del mel
    posteriors = None if phone_logits is None else softmax(phone_logits[0, :n])
    cues = None if posteriors is None else SpeechCues(
        posteriors, sibilance(raw_mel[: 2 * n]), card.split,
        None if viseme_logits is None else softmax(viseme_logits[0, :n]))
    rest = card.silence_rest if request.silence_rest is None else request.silence_rest
    rest_w = None if not rest or posteriors is None else rest_weights(posteriors[:, SIL])
    del raw_mel
    alignment, phones = None, None
    if request.transcript is not None:
        alignment = align_transcript(request.transcript, None if phone_logits is None else phone_logits[0, :n],
                                     n / model.fps, AlignConfig(fps=float(model.fps)), request.transcript_language)
        if model.phone_input:
            phones = phone_input(alignment.frames)[None]
        if cues is not None:  # viseme and VRM keys follow the aligned phones
            cues = cues.with_transcript(alignment.frames)
    closed = closure_logit[0] > card.closure_logit_threshold
    transcript_sealed = 0
    if alignment is not None and request.transcript_seal:
        cores = aligned_closures(alignment.frames)
        closed = (closed if seal else np.zeros_like(closed)) | cores
        seal, transcript_sealed = True, int(cores.sum())
    pause = activity.pause_frames(audio, features.SAMPLE_RATE, model.fps, n) if request.eye_layer else None
    tick()
    mean, std = model.perf_mean, model.perf_std
    n_ch = len(CHANNELS)
    out = np.zeros((len(seeds), n, n_ch), np.float32)
    for k, seed in enumerate(seeds):
        noise = schedule.initial_noise(seed, n, n_ch, tau)
        acc = np.zeros((n, n_ch), np.float32)
        for (s, e), w in zip(wins, weights, strict=True):
            f = feats[:, s:e]
            x = noise[None, s:e]
            if guide:
                f = np.concatenate([f, f])
                cond_e, cond_i = np.array([emo, null]), np.array([inten, 0.0], np.float32)
            else:
                cond_e, cond_i = np.array([emo]), np.array([inten], np.float32)
            for i, t in enumerate(sampler.timesteps):
                _check_cancel(cancel)
                xin = np.concatenate([x, x]) if guide else x
                ph = None if phones is None else phones[:, s:e]
                x0 = model.run_denoiser(xin, f, np.full(len(xin), t, np.int64), cond_e, cond_i, ph)
                x0 = schedule.guided(x0[:1], x0[1:], float(request.guidance)) if guide else x0
                x = sampler.step(i, x, x0)
                tick()
            acc[s:e] += w[:, None] * x[0]
        perf = acc * std + mean
        perf[:, :N_ARKIT] = np.clip(perf[:, :N_ARKIT], 0.0, 1.0)
        if rest_w is not None:
            perf = rest_mouth(perf, rest_w)
        if seal:
            perf = seal_closures(perf, closed)
        if request.eye_layer:
            perf = add_eye_layer(perf, float(model.fps), pause, seed)
        if not request.head_motion:
            perf[:, list(HEAD_INDEX)] = 0.0
        out[k] = perf
    settings = {"emotion": request.emotion, "intensity": inten, "guidance": float(request.guidance),
                "head_motion": bool(request.head_motion), "steps": int(len(sampler.timesteps)), "seal_closures": bool(seal),
                "silence_rest": rest_w is not None,
                "mouth_temperature": tau, "eye_layer": bool(request.eye_layer),
                "windows": len(wins), "providers": list(getattr(model, "providers", []))}
    warnings = []
    if not_speech:
        warnings.append(f"the audio does not look like speech: {not_speech}; the mouth moves anyway")
    if alignment is not None:
        settings["alignment"] = alignment.summary() | {"language": request.transcript_language,
                                                       "phone_input": bool(model.phone_input),
                                                       "sealed_frames": transcript_sealed}
        warnings += [f"transcript: {note}" for note in alignment.notes]
        if not model.phone_input:
            warnings.append("transcript: this model was trained without phone input, so the takes come from the "
                            "audio alone" + (f", apart from the lips sealed on the {transcript_sealed} frames of the "
                                             "aligned /p b m/" if transcript_sealed else "")
                            + "; the aligned words are in the output")
    if warnings:
        settings["warnings"] = warnings
    return Takes(weights=out, fps=float(model.fps), seeds=seeds, settings=settings, cues=cues, alignment=alignment)
