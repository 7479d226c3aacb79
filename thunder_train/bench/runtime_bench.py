"""Generation through the shipped runtime (onnxruntime, CPU): takes x clip length, per-stage split.

Everything goes through the same public functions the add-on and the CLI call:
``runtime.model.load_model`` and ``runtime.generate.generate``. Per-stage times come from
``generate(..., timings=dict)`` when the runtime offers that hook; otherwise every onnxruntime session the
model holds is wrapped so its ``run`` calls are timed (encoder / denoiser ...), the log-mel front end
(``core.features``) is timed on its own, and the remainder of the wall time is reported as
"sampler arithmetic + other". Resampling to the scene rate (``core.resample.resample``, which the add-on
applies per take) is timed separately.
"""
from __future__ import annotations

import inspect
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .common import TimingConfig, Unavailable, model_dir_override, read_wav, speech_clip, time_repeated


@dataclass(frozen=True)
class RuntimeBenchConfig:
    durations_s: tuple[float, ...] = (10.0, 60.0)
    n_takes: tuple[int, ...] = (1, 4, 8)
    timing: TimingConfig = field(default_factory=TimingConfig)
    scene_fps: float = 30.0
    seed: int = 7


def load_runtime():
    """(load_model, generate, GenerateRequest) from the shipped runtime, or Unavailable."""
    try:
        from thunder_blender.runtime import generate as gen_mod
        from thunder_blender.runtime.model import load_model
    except ImportError as exc:
        raise Unavailable(f"runtime not importable ({exc})") from exc
    return load_model, gen_mod.generate, gen_mod.GenerateRequest


def load_cpu_model(load_model):
    """The shipped model on the CPU provider (as the add-on runs it on a machine without a GPU)."""
    try:
        params = inspect.signature(load_model).parameters
        kwargs = {"model_dir": model_dir_override()} if model_dir_override() else {}
        if "providers" in params:
            kwargs["providers"] = ["CPUExecutionProvider"]
        return load_model(**kwargs)
    except NotImplementedError as exc:
        raise Unavailable(f"load_model() not implemented yet ({exc})") from exc
    except Exception as exc:  # ModelError (missing/corrupt model), OSError...
        raise Unavailable(f"no usable model ({type(exc).__name__}: {exc})") from exc


class _TimedSession:
    """Wraps an onnxruntime InferenceSession; accumulates the wall time of ``run`` under ``name``."""

    def __init__(self, session, name: str, acc: dict[str, float], calls: dict[str, int]) -> None:
        self._session, self._name, self._acc, self._calls = session, name, acc, calls

    def run(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return self._session.run(*args, **kwargs)
        finally:
            self._acc[self._name] += time.perf_counter() - t0
            self._calls[self._name] += 1

    def __getattr__(self, item):
        return getattr(self._session, item)


def instrument_sessions(model) -> tuple[dict[str, float], dict[str, int]]:
    """Wrap every InferenceSession held by ``model`` (attributes, or values of dict attributes)."""
    import onnxruntime as ort

    acc: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    holders = [model] + [v for v in vars(model).values() if isinstance(v, dict)]
    found = 0
    for holder in holders:
        items = list(holder.items()) if isinstance(holder, dict) else list(vars(holder).items())
        for key, value in items:
            if isinstance(value, ort.InferenceSession):
                name = str(key).strip("_")
                wrapped = _TimedSession(value, name, acc, calls)
                if isinstance(holder, dict):
                    holder[key] = wrapped
                else:
                    object.__setattr__(holder, key, wrapped)
                found += 1
    if not found:
        raise Unavailable("found no onnxruntime session on the loaded model to time")
    return acc, calls


def _request(GenerateRequest, pcm: np.ndarray, sr: int, n_takes: int, seed: int):
    return GenerateRequest(pcm=pcm, sample_rate=sr, n_takes=n_takes, seed=seed)


def bench_generation(cfg: RuntimeBenchConfig, work: Path) -> dict:
    """Median wall time and real-time factor per take for every (clip length, takes) pair, plus stages."""
    load_model, generate, GenerateRequest = load_runtime()
    t0 = time.perf_counter()
    model = load_cpu_model(load_model)
    load_s = time.perf_counter() - t0
    has_hook = "timings" in inspect.signature(generate).parameters
    acc, calls = ({}, {}) if has_hook else instrument_sessions(model)

    rows = []
    stages = {}
    for dur in cfg.durations_s:
        pcm, sr = read_wav(speech_clip(dur, work))
        for n in cfg.n_takes:
            req = _request(GenerateRequest, pcm, sr, n, cfg.seed)
            try:
                takes = generate(req, model)
            except NotImplementedError as exc:
                raise Unavailable(f"generate() not implemented yet ({exc})") from exc
            t = time_repeated(lambda req=req: generate(req, model), cfg.timing)
            rows.append({"audio_s": dur, "takes": n, **t,
                         "rtf_per_take": t["median_s"] / n / dur,
                         "out_shape": list(np.shape(takes.weights)), "out_fps": float(takes.fps)})
        stages[f"{dur:g} s x 4 takes"] = _stage_split(generate, model, GenerateRequest, pcm, sr, cfg, has_hook,
                                              acc, calls)
    return {"model_load_s": load_s, "stage_source": "generate(timings=)" if has_hook else "session wrappers",
            "rows": rows, "stages": stages}


def _stage_split(generate, model, GenerateRequest, pcm, sr, cfg: RuntimeBenchConfig, has_hook: bool,
                 acc: dict, calls: dict) -> dict:
    """Median per-stage times of 4-take generation (same runs), plus features and resampling timed alone."""
    from thunder_blender.core import features, resample

    req = _request(GenerateRequest, pcm, sr, 4, cfg.seed)
    per_run: dict[str, list[float]] = defaultdict(list)
    n_calls: dict[str, int] = {}
    takes = None
    for _ in range(max(3, cfg.timing.min_runs)):
        if has_hook:
            timings: dict = {}
            t0 = time.perf_counter()
            takes = generate(req, model, timings=timings)
            per_run["total"].append(time.perf_counter() - t0)
            for k, v in timings.items():
                if isinstance(v, (int, float)):
                    per_run[k].append(float(v))
        else:
            acc.clear()
            calls.clear()
            t0 = time.perf_counter()
            takes = generate(req, model)
            total = time.perf_counter() - t0
            per_run["total"].append(total)
            for k, v in acc.items():
                per_run[f"onnx {k}"].append(v)
            per_run["outside onnx (features, sampler arithmetic, blending)"].append(total - sum(acc.values()))
            n_calls = dict(calls)
    out = {k: float(np.median(v)) for k, v in per_run.items()}
    if n_calls:
        out["onnx_calls_per_generation"] = n_calls
    audio16 = features.to_model_audio(pcm, sr)
    out["features alone (log-mel + normalise)"] = time_repeated(
        lambda: features.normalise(features.log_mel(audio16)), cfg.timing)["median_s"]
    w = np.asarray(takes.weights)
    out[f"resample 4 takes to {cfg.scene_fps:g} fps (core.resample, add-on side)"] = time_repeated(
        lambda: [resample.resample(w[i], float(takes.fps), cfg.scene_fps) for i in range(len(w))],
        cfg.timing)["median_s"]
    return out


def bench_denoiser_batching(cfg: RuntimeBenchConfig, frames: int = 500, batches: tuple[int, ...] = (1, 4, 8)) -> dict:
    """One denoiser call on (B, frames, 55) for several B: does sampling all takes in one batch pay off?

    ``frames`` = 500 is a 10 s clip at 50 fps. Returns per-call medians and the per-take cost."""
    load_model, _, _ = load_runtime()
    model = load_cpu_model(load_model)
    if not hasattr(model, "run_denoiser") or not hasattr(model, "run_encoder"):
        raise Unavailable("model has no run_denoiser/run_encoder")
    rng = np.random.default_rng(cfg.seed)
    mel = rng.standard_normal((1, 2 * frames, 80)).astype(np.float32)
    feats, _ = model.run_encoder(mel)
    out = {"frames": frames, "calls": {}}
    for b in batches:
        x = rng.standard_normal((b, frames, 55)).astype(np.float32)
        f = np.repeat(feats, b, axis=0)
        t = np.full(b, 500, np.int64)
        e, i = np.zeros(b, np.int64), np.zeros(b, np.float32)
        r = time_repeated(lambda x=x, f=f, t=t, e=e, i=i: model.run_denoiser(x, f, t, e, i), cfg.timing)
        out["calls"][str(b)] = {**r, "per_take_s": r["median_s"] / b}
    return out
