"""Load the shipped generator: the ``model.json`` card plus its ONNX sessions (numpy + onnxruntime).

    model = load_model()                      # <package>/models (installed) or <repo>/models
    model = load_model("/path/to/models", providers=["CPUExecutionProvider"])

Providers: ``"auto"`` takes the first available of CUDA, DirectML, CoreML, then CPU. If a GPU session
cannot be created, or a run on it fails, the model falls back to CPU (``Model.providers`` tells which).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.phones import N_PHONE_INPUT
from .card import CardError, ModelCard

GPU_PROVIDERS = ("CUDAExecutionProvider", "DmlExecutionProvider", "CoreMLExecutionProvider")
CPU = "CPUExecutionProvider"
INTRA_OP_THREADS = 2
GRAPH_INPUTS = {"encoder": ("mel",), "denoiser": ("x_t", "feats", "t", "emotion", "intensity")}
PHONE_GRAPH_INPUT = "phones"   # the denoiser's extra input when the card has ``phone_input``


class ModelError(RuntimeError):
    """The model is missing, incomplete or corrupt. The message says which file and what to do."""


def candidate_dirs() -> list[Path]:
    """Where the model is looked for, in order: installed extension, then the source checkout."""
    here = Path(__file__).resolve()
    return [here.parents[1] / "models", here.parents[2] / "models"]


def find_model_dir(model_dir: str | Path | None = None) -> Path:
    if model_dir is not None:
        d = Path(model_dir)
        if not (d / "model.json").is_file():
            raise ModelError(f"no model.json in {d}")
        return d
    for d in candidate_dirs():
        if (d / "model.json").is_file():
            return d
    raise ModelError("THUNDER model not found (looked for model.json in "
                     + ", ".join(str(d) for d in candidate_dirs()) + "); reinstall the extension")


def import_onnxruntime():
    # onnxruntime's telemetry writes a device id and an event queue under ~/.cache/Microsoft as soon as it is
    # imported, unless ORT_DISABLE_TELEMETRY is set first; this project stores and sends nothing about its
    # users. If something imported onnxruntime before us, its events are at least switched off.
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ModelError("onnxruntime is not installed; install the extension build that bundles it") from exc
    if hasattr(ort, "disable_telemetry_events"):
        ort.disable_telemetry_events()
    return ort


def choose_providers(providers: str | list[str] = "auto") -> list[str]:
    ort = import_onnxruntime()
    available = ort.get_available_providers()
    if providers == "auto":
        gpu = [p for p in GPU_PROVIDERS if p in available]
        return gpu[:1] + [CPU]
    wanted = [p for p in providers if p in available]
    if not wanted:
        raise ModelError(f"none of the requested providers {providers} is available ({available})")
    return wanted if CPU in wanted else wanted + [CPU]


@dataclass
class Model:
    """Card + sessions. ``run_encoder`` / ``run_denoiser`` take and return numpy float32 arrays."""

    card: ModelCard
    directory: Path
    providers: list[str]
    _sessions: dict = field(default_factory=dict, repr=False)

    @property
    def fps(self) -> float:
        return self.card.fps

    @property
    def sample_rate(self) -> int:
        return self.card.sample_rate

    @property
    def steps(self) -> int:
        return self.card.schedule.steps

    @property
    def perf_mean(self) -> np.ndarray:
        return np.asarray(self.card.perf_mean, np.float32)

    @property
    def perf_std(self) -> np.ndarray:
        return np.asarray(self.card.perf_std, np.float32)

    @property
    def regression(self) -> bool:
        return self.card.regression

    def _run(self, name: str, feeds: dict) -> list[np.ndarray]:
        sess = self._sessions[name]
        try:
            return sess.run(None, feeds)
        except Exception:
            if self.providers == [CPU]:
                raise
            # GPU run failed (driver, memory...): rebuild every session on CPU and retry once
            self._sessions.update(_open_sessions(self.directory, self.card, [CPU]))
            self.providers = [CPU]
            return self._sessions[name].run(None, feeds)

    def run_encoder(self, mel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """mel (1, Tm, 80) normalised -> feats (1, Tm // 2, E), closure_logit (1, Tm // 2)."""
        feats, closure, _phones, _visemes = self.run_encoder_heads(mel)
        return feats, closure

    def run_encoder_heads(self, mel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None,
                                                          np.ndarray | None]:
        """Like ``run_encoder``, plus phone_logits (1, Tm // 2, 10) over the card's ``phone_classes`` and
        viseme_logits (1, Tm // 2, 15) over its ``viseme_classes`` (each None for an encoder graph without that
        output)."""
        feats, closure, *rest = self._run("encoder", {"mel": np.ascontiguousarray(mel, np.float32)})
        return feats, closure, (rest[0] if rest else None), (rest[1] if len(rest) > 1 else None)

    @property
    def phone_input(self) -> bool:
        """The denoiser takes transcript-aligned phones (``core.phones.phone_input``)."""
        return self.card.phone_input

    def run_denoiser(self, x_t: np.ndarray, feats: np.ndarray, t: np.ndarray, emotion: np.ndarray,
                     intensity: np.ndarray, phones: np.ndarray | None = None) -> np.ndarray:
        """x_t (B, T, 55), feats (B, T, E), t/emotion (B,) int64, intensity (B,), phones (B, T, 11) or None
        -> x0 (B, T, 55). ``phones`` is used when the model has that input (None: no transcript)."""
        feeds = {
            "x_t": np.ascontiguousarray(x_t, np.float32), "feats": np.ascontiguousarray(feats, np.float32),
            "t": np.asarray(t, np.int64), "emotion": np.asarray(emotion, np.int64),
            "intensity": np.asarray(intensity, np.float32)}
        if self.card.phone_input:
            shape = (*np.shape(x_t)[:2], N_PHONE_INPUT)
            feeds[PHONE_GRAPH_INPUT] = (np.zeros(shape, np.float32) if phones is None
                               else np.ascontiguousarray(np.broadcast_to(phones, shape), np.float32))
        (x0,) = self._run("denoiser", feeds)
        return x0


def _open_sessions(directory: Path, card: ModelCard, providers: list[str]) -> dict:
    ort = import_onnxruntime()
    so = ort.SessionOptions()
    so.intra_op_num_threads = INTRA_OP_THREADS
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    # no busy-waiting: Blender (and other work) shares the cores; spinning threads slow everyone down
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    out = {}
    for name in ("encoder", "denoiser"):
        path = directory / card.files[name]
        if not path.is_file():
            raise ModelError(f"model file missing: {path}; reinstall the extension")
        try:
            out[name] = ort.InferenceSession(str(path), so, providers=providers)
        except Exception as exc:
            if providers != [CPU]:
                raise
            raise ModelError(f"model file {path.name} is corrupt or unreadable ({type(exc).__name__}); "
                             "reinstall the extension") from exc
        got = tuple(i.name for i in out[name].get_inputs())
        want = GRAPH_INPUTS[name] + ((PHONE_GRAPH_INPUT,) if name == "denoiser" and card.phone_input else ())
        if got != want:
            raise ModelError(f"model file {path.name} is not the {name} graph (inputs {', '.join(got)}); "
                             "reinstall the extension")
    return out


def load_card(directory: Path) -> ModelCard:
    path = directory / "model.json"
    try:
        return ModelCard.read(path)
    except CardError as exc:
        raise ModelError(f"model card {path}: {exc}; reinstall the extension") from exc


def load_model(model_dir: str | Path | None = None, providers: str | list[str] = "auto") -> Model:
    """Find, validate and open the model. Raises ModelError with a one-line message."""
    directory = find_model_dir(model_dir)
    card = load_card(directory)
    chosen = choose_providers(providers)
    try:
        sessions = _open_sessions(directory, card, chosen)
    except ModelError:
        raise
    except Exception:
        chosen = [CPU]  # GPU provider failed to initialise: fall back
        sessions = _open_sessions(directory, card, chosen)
    return Model(card=card, directory=directory, providers=chosen, _sessions=sessions)
