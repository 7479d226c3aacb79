"""Shared benchmark helpers: repeated timing, "n/a" results, speech clips, subprocess probes, machine info.

A section result is a dict. A part whose dependency has not landed (or that failed) is
``{"status": "n/a", "reason": "..."}`` and the benchmark carries on; it never fails on noise.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
PROBE_PREFIX = "THUNDER_BENCH_PROBE "
# Set by ``--model-dir``: benchmark another exported model than the shipped one (probes inherit it).
MODEL_DIR_ENV = "THUNDER_BENCH_MODEL_DIR"


def model_dir_override() -> str | None:
    return os.environ.get(MODEL_DIR_ENV) or None

# A phonetically varied English text, repeated as needed to fill longer clips.
SPEECH_TEXT = (
    "Peter picked a bunch of mellow plums, and we ate them by the open window. "
    "The quick brown fox jumps over the lazy dog while the bells ring far away. "
    "Would you rather move to the blue house on the hill, or stay here with me? "
    "Five wizards boxed thirty jumping frogs before the morning show began. "
)


def na(reason: str) -> dict:
    """The result of a part that could not run, with a one-line reason."""
    return {"status": "n/a", "reason": " ".join(str(reason).split())[:300]}


def is_na(result) -> bool:
    return isinstance(result, dict) and result.get("status") == "n/a"


class Unavailable(RuntimeError):
    """A dependency of a bench part has not landed (or is unusable); the message says which."""


def guarded(fn: Callable[[], dict], what: str) -> dict:
    """Run one bench part; an exception becomes an n/a result (unexpected ones print a traceback)."""
    try:
        return fn()
    except Unavailable as exc:
        return na(f"{what}: {exc}")
    except Exception as exc:  # noqa: BLE001  (a benchmark reports, never aborts)
        traceback.print_exc(file=sys.stderr)
        return na(f"{what}: {type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class TimingConfig:
    """Repetitions: ``warmup`` untimed runs, then at least ``min_runs`` and at most ``max_runs`` timed runs,
    stopping early once ``budget_s`` seconds of timed runs have passed."""

    warmup: int = 1
    min_runs: int = 5
    max_runs: int = 15
    budget_s: float = 8.0


def time_repeated(fn: Callable[[], object], cfg: TimingConfig = TimingConfig()) -> dict:
    """Wall times of ``fn()``: median, min, max, runs (seconds), and the median CPU time of this process
    (all threads) per run, which says how much of the wall time was waiting for a loaded machine."""
    for _ in range(cfg.warmup):
        fn()
    times: list[float] = []
    cpu: list[float] = []
    start = time.perf_counter()
    while len(times) < cfg.max_runs:
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        if len(times) >= cfg.min_runs and time.perf_counter() - start > cfg.budget_s:
            break
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "runs": len(times),
            "cpu_median_s": statistics.median(cpu)}


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """(S,) float32 mono in [-1, 1] and the sample rate of a 16-bit PCM WAV."""
    with wave.open(str(path), "rb") as w:
        sr, ch, n = w.getframerate(), w.getnchannels(), w.getnframes()
        data = np.frombuffer(w.readframes(n), dtype="<i2").astype(np.float32) / 32768.0
    return data.reshape(-1, ch).mean(axis=1), sr


def speech_clip(seconds: float, out_dir: Path, sample_rate: int = 16000) -> Path:
    """A ``seconds``-long 16-bit mono WAV of espeak-ng speech at ``sample_rate`` (cut or padded exactly)."""
    out = out_dir / f"speech_{seconds:g}s.wav"
    if out.exists():
        return out
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        raise RuntimeError("espeak-ng and sox are needed to make the benchmark speech")
    repeats = max(1, int(np.ceil(seconds / 15.0)))
    raw = out_dir / f"raw_{seconds:g}s.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(raw), SPEECH_TEXT * repeats],
                   check=True, capture_output=True)
    subprocess.run(["sox", str(raw), "-r", str(sample_rate), "-c", "1", "-b", "16", str(out),
                    "pad", "0", f"{seconds}", "trim", "0", f"{seconds}"], check=True, capture_output=True)
    raw.unlink()
    return out


def run_probe(module_args: list[str], timeout: float = 900.0, env_extra: dict | None = None) -> dict:
    """Run ``python -m thunder_train.bench.probes ARGS`` in a fresh process with its own Blender user dir.

    Returns the JSON object the probe printed (``PROBE_PREFIX`` line), plus ``process_wall_s``.
    """
    with tempfile.TemporaryDirectory(prefix="thunder-bench-user-") as user:
        env = {**os.environ, "BLENDER_USER_RESOURCES": user, "PYTHONDONTWRITEBYTECODE": "1", **(env_extra or {})}
        t0 = time.perf_counter()
        res = subprocess.run([sys.executable, "-m", "thunder_train.bench.probes", *module_args],
                             capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout)
        wall = time.perf_counter() - t0
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith(PROBE_PREFIX)]
    if res.returncode != 0 or not lines:
        tail = (res.stderr.strip().splitlines() or res.stdout.strip().splitlines() or ["no output"])[-1]
        return na(f"probe {module_args[0]} failed (exit {res.returncode}): {tail}")
    out = json.loads(lines[-1][len(PROBE_PREFIX):])
    out["process_wall_s"] = wall
    return out


def emit(result: dict) -> None:
    """Probe side: print the result line ``run_probe`` looks for."""
    print(PROBE_PREFIX + json.dumps(result), flush=True)


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (VmHWM), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def reset_peak_rss() -> bool:
    """Reset this process's VmHWM to its current RSS (Linux ``clear_refs`` 5). False if not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def machine_info() -> dict:
    info: dict = {
        "cpu_count": os.cpu_count(),
        "sched_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        models = [ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                  if ln.startswith("model name")]
        info["cpu_model"] = models[0] if models else platform.processor()
    except OSError:
        info["cpu_model"] = platform.processor()
    try:
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split()
        info["mem_total_gb"] = round(int(mem[1]) / 2**20, 1)
    except (OSError, IndexError, ValueError):
        pass
    try:
        import onnxruntime as ort

        info["onnxruntime"] = ort.__version__
        info["onnxruntime_providers"] = ort.get_available_providers()
    except ImportError as exc:
        info["onnxruntime"] = f"n/a: {exc}"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, cwd=ROOT)
        info["git_commit"] = commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except OSError:
        pass
    return info
