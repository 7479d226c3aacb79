"""The model card: ``model.json``, the one contract between the exported model and the runtime.

``thunder_train.export`` builds a :class:`ModelCard` and writes it; the runtime reads it here, once,
and never looks at the JSON again. Reading checks everything the runtime relies on against ``core``
(channels, emotions, mel front end, frame rate) and every value's range, so a wrong card fails with one
clear message instead of wrong output or an exception deep inside generation. Every runtime default
(window, closure threshold, mouth temperature, null emotion) lives in this file.

Fields the runtime does not use (training provenance, metrics summary, sizes, ONNX input/output
descriptions) are kept in ``info`` and written back unchanged.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from ..core import features
from ..core.channels import CHANNELS, EMOTION_INDEX, EMOTIONS, N_CHANNELS
from ..core.schedule import DDIMSampler, ScheduleConfig
from ..core.visemes import DEFAULT_SPLIT, VisemeSplit

CARD_VERSION = 2
MAX_STEPS = 50
FRAMES_PER_MODEL_FRAME = 2  # mel frames (100 fps) per model frame (50 fps)
FEATURES = {**features.MEL.to_dict(), "normalisation": "per-utterance per-bin mean/std",
            "std_floor": features.NORM_STD_FLOOR, "frames_per_model_frame": FRAMES_PER_MODEL_FRAME}


class CardError(ValueError):
    """The card is missing, unreadable or inconsistent. The message is one user-facing line."""


@dataclass(frozen=True)
class Window:
    """Long clips are generated in windows of ``frames`` model frames overlapping by ``overlap``."""

    frames: int = 3000
    overlap: int = 500

    def check(self) -> None:
        if not 8 <= self.frames <= 100_000:
            raise CardError(f"window of {self.frames} frames (8..100000)")
        if not 0 <= self.overlap < self.frames // 2:
            raise CardError(f"window overlap {self.overlap} must be in 0..{self.frames // 2 - 1} (below half "
                            f"the window of {self.frames})")


@dataclass(frozen=True)
class Sampling:
    """The noise schedule the network was trained with and the shipped DDIM step count."""

    n_train_steps: int = 1000
    cosine_s: float = 0.008
    max_beta: float = 0.999
    steps: int = 8
    type: str = "cosine"
    prediction: str = "x0"
    sampler: str = "ddim"
    eta: float = 0.0

    @property
    def config(self) -> ScheduleConfig:
        return ScheduleConfig(self.n_train_steps, self.cosine_s, self.max_beta)

    def check(self) -> None:
        if (self.type, self.prediction, self.sampler, self.eta) != ("cosine", "x0", "ddim", 0.0):
            raise CardError(f"schedule {self.type}/{self.prediction}/{self.sampler} eta={self.eta} is not "
                            "supported (cosine, x0, ddim, eta 0)")
        if not 2 <= self.n_train_steps <= 100_000:
            raise CardError(f"n_train_steps {self.n_train_steps} out of range")
        if not 1 <= self.steps <= min(MAX_STEPS, self.n_train_steps):
            raise CardError(f"schedule steps {self.steps} out of range (1..{MAX_STEPS})")
        if not (0 < self.cosine_s < 1 and 0 < self.max_beta < 1):
            raise CardError("schedule cosine_s / max_beta out of range (0, 1)")


@dataclass(frozen=True)
class ModelCard:
    """What the runtime needs to run the two ONNX graphs (``files``) and turn their output into takes.

    perf_mean / perf_std: (55,) de-normalisation of the denoiser's output, in ``core.channels.CHANNELS``
    order. closure_seal_threshold is a probability of the encoder's closure head. phone_input: the denoiser
    graph has a ``phones`` input (``core.phones.phone_input``) for transcript-aligned phones. silence_rest:
    the mouth rests where the encoder's phone head hears silence (``core.rest``). viseme_split: how this model's
    mouth splits E/I and O/U visemes (``core.visemes.VisemeSplit`` as a dict; None: the default split).
    """

    perf_mean: tuple[float, ...]
    perf_std: tuple[float, ...]
    files: dict = field(default_factory=lambda: {"encoder": "encoder.onnx", "denoiser": "denoiser.onnx"})
    schedule: Sampling = Sampling()
    regression: bool = False
    phone_input: bool = False
    window: Window = Window()
    closure_seal: bool = False
    closure_seal_threshold: float = 0.5
    silence_rest: bool = False
    viseme_split: dict | None = None
    mouth_temperature: float = 1.0
    fps: float = features.MEL_FPS / FRAMES_PER_MODEL_FRAME
    sample_rate: int = features.SAMPLE_RATE
    features: dict = field(default_factory=lambda: dict(FEATURES))
    channels: tuple[str, ...] = CHANNELS
    emotions: tuple[str, ...] = EMOTIONS
    null_emotion: int = EMOTION_INDEX["auto"]
    # frames of context each output frame sees: the encoder is run in windows with this much margin
    receptive_field_frames: dict = field(default_factory=lambda: {"encoder": 39, "denoiser_per_step": 38})
    card_version: int = CARD_VERSION
    info: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ derived
    @property
    def closure_logit_threshold(self) -> float:
        p = self.closure_seal_threshold
        return math.log(p / (1.0 - p))

    @property
    def split(self) -> VisemeSplit:
        """The viseme split of this model (``viseme_split``, else ``core.visemes.DEFAULT_SPLIT``)."""
        return DEFAULT_SPLIT if self.viseme_split is None else VisemeSplit.from_dict(self.viseme_split)

    def sampler(self, steps: int | None = None) -> DDIMSampler:
        """The sampler for ``steps`` DDIM steps (default: the card's); one pass for a regression model."""
        if self.regression:
            return DDIMSampler.single_pass(self.schedule.config)
        return DDIMSampler(self.schedule.config, int(steps or self.schedule.steps))

    # ------------------------------------------------------------------ checks
    def check(self) -> ModelCard:
        """Raise CardError unless the card matches this runtime; returns self."""
        if self.card_version != CARD_VERSION:
            raise CardError(f"card version {self.card_version}; this version of THUNDER reads version "
                            f"{CARD_VERSION}")
        if set(self.files) != {"encoder", "denoiser"} or not all(isinstance(v, str) and v for v in self.files.values()):
            raise CardError("'files' must name the encoder and denoiser .onnx files")
        if len(set(self.files.values())) != 2:
            raise CardError("'files' names the same file for encoder and denoiser")
        if tuple(self.channels) != CHANNELS:
            raise CardError(f"the model's {len(self.channels)} channels differ from this runtime's {N_CHANNELS}")
        if tuple(self.emotions) != EMOTIONS:
            raise CardError("the model's emotion list differs from this runtime's")
        if self.null_emotion != EMOTION_INDEX["auto"]:
            raise CardError(f"null emotion {self.null_emotion} is not 'auto' ({EMOTION_INDEX['auto']})")
        if self.features != FEATURES:
            diff = sorted(k for k in set(self.features) | set(FEATURES) if self.features.get(k) != FEATURES.get(k))
            raise CardError(f"the model's audio features differ from this runtime's ({', '.join(diff)})")
        if self.sample_rate != features.SAMPLE_RATE or self.fps != features.MEL_FPS / FRAMES_PER_MODEL_FRAME:
            raise CardError(f"sample rate {self.sample_rate} Hz / {self.fps} fps do not match the front end "
                            f"({features.SAMPLE_RATE} Hz, {features.MEL_FPS / FRAMES_PER_MODEL_FRAME:g} fps)")
        for name, vec in (("perf_mean", self.perf_mean), ("perf_std", self.perf_std)):
            if len(vec) != N_CHANNELS or not all(math.isfinite(v) for v in vec):
                raise CardError(f"{name} must hold {N_CHANNELS} finite numbers (has {len(vec)})")
        if min(self.perf_std) <= 0:
            raise CardError("perf_std must be positive")
        self.schedule.check()
        self.window.check()
        rf = self.receptive_field_frames
        if not (isinstance(rf, dict) and all(isinstance(rf.get(k), int) and 0 < rf[k] < 10_000
                                             for k in ("encoder", "denoiser_per_step"))):
            raise CardError("receptive_field_frames must give the encoder's and denoiser's context in frames")
        if not 0.0 < self.closure_seal_threshold < 1.0:
            raise CardError(f"closure_seal_threshold {self.closure_seal_threshold} must be in (0, 1)")
        if self.viseme_split is not None:
            try:
                VisemeSplit.from_dict(self.viseme_split)
            except ValueError as exc:
                raise CardError(f"viseme_split: {exc}") from None
        if not 0.0 <= self.mouth_temperature <= 1.0:
            raise CardError(f"mouth_temperature {self.mouth_temperature} must be in 0..1")
        return self

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "info"}
        d["schedule"], d["window"] = asdict(self.schedule), asdict(self.window)
        d["channels"], d["emotions"] = list(self.channels), list(self.emotions)
        d["perf_mean"], d["perf_std"] = list(self.perf_mean), list(self.perf_std)
        return {**self.info, **d}

    @classmethod
    def from_dict(cls, d: dict) -> ModelCard:
        """Typed card from parsed JSON; raises CardError for missing keys or wrong types/values."""
        if not isinstance(d, dict):
            raise CardError("the card is not a JSON object")
        names = {f.name for f in fields(cls)} - {"info"}
        missing = [k for k in ("perf_mean", "perf_std", "schedule", "card_version") if k not in d]
        if missing:
            raise CardError(f"the card lacks {', '.join(missing)}")
        try:
            kw = {k: d[k] for k in names if k in d}
            kw["schedule"] = Sampling(**d["schedule"])
            if "window" in d:
                kw["window"] = Window(**d["window"])
            kw["perf_mean"] = tuple(float(v) for v in d["perf_mean"])
            kw["perf_std"] = tuple(float(v) for v in d["perf_std"])
            kw["channels"] = tuple(d.get("channels", CHANNELS))
            kw["emotions"] = tuple(d.get("emotions", EMOTIONS))
            kw["fps"] = float(kw.get("fps", cls.fps))
            for k, typ in (("regression", bool), ("closure_seal", bool), ("phone_input", bool),
                           ("silence_rest", bool), ("sample_rate", int),
                           ("null_emotion", int), ("card_version", int)):
                if k in kw and not isinstance(kw[k], typ):
                    raise TypeError(f"{k} must be {typ.__name__}")
            for k in ("closure_seal_threshold", "mouth_temperature"):
                if k in kw:
                    kw[k] = float(kw[k])
            card = cls(**kw, info={k: v for k, v in d.items() if k not in names})
            if not isinstance(card.schedule.steps, int) or not isinstance(card.window.frames, int) \
                    or not isinstance(card.window.overlap, int):
                raise TypeError("steps and window sizes must be integers")
        except (TypeError, ValueError) as exc:
            if isinstance(exc, CardError):
                raise
            raise CardError(f"malformed card ({exc})") from exc
        return card.check()

    @classmethod
    def read(cls, path: Path) -> ModelCard:
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CardError(f"{path} is unreadable or not JSON") from exc
        except RecursionError as exc:
            raise CardError(f"{path} is nested too deeply to be a model card") from exc
        return cls.from_dict(d)

    def write(self, path: Path) -> Path:
        self.check()
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")
        return Path(path)

    def with_changes(self, **changes) -> ModelCard:
        """A copy with runtime fields and/or ``info`` entries changed (unknown names go to ``info``)."""
        names = {f.name for f in fields(self)}
        info = {**self.info, **{k: v for k, v in changes.items() if k not in names}}
        return replace(self, **{k: v for k, v in changes.items() if k in names and k != "info"}, info=info).check()
