"""The whole benchmark: every part in order, each reported as numbers or "n/a: reason"."""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .common import (
    ROOT,
    TimingConfig,
    guarded,
    is_na,
    machine_info,
    model_dir_override,
    na,
    run_probe,
    speech_clip,
)
from .reference import ReferenceConfig, bench_reference
from .runtime_bench import RuntimeBenchConfig, bench_denoiser_batching, bench_generation
from .transcript_bench import bench_transcript


@dataclass(frozen=True)
class SuiteConfig:
    runtime: RuntimeBenchConfig = field(default_factory=RuntimeBenchConfig)
    reference: ReferenceConfig = field(default_factory=ReferenceConfig)
    enable_runs: int = 5
    keyframe_takes: int = 8
    keyframe_seconds: float = 10.0
    only: tuple[str, ...] = ()  # empty: all parts
    # (seconds, formats): the default formats for 10 minutes and for an hour (the longest audio accepted)
    long_audio: tuple[tuple[float, str], ...] = ((600.0, "glb,csv,json,png"), (3600.0, "glb,csv,json,png"))


def quick_config() -> SuiteConfig:
    """A fast pass for development: fewer repetitions, short clips, few reference steps."""
    t = TimingConfig(warmup=1, min_runs=2, max_runs=3, budget_s=1.0)
    return SuiteConfig(runtime=RuntimeBenchConfig(durations_s=(10.0,), n_takes=(1, 4), timing=t),
                       reference=ReferenceConfig(ddpm_steps=(50,)), enable_runs=2, keyframe_takes=2,
                       keyframe_seconds=3.0, long_audio=((120.0, "glb,csv,json,png"),))


def bench_enable(runs: int) -> dict:
    results = [run_probe(["enable"]) for _ in range(runs)]
    bad = [r for r in results if is_na(r)]
    if bad:
        return bad[0]
    enable = [r["enable_s"] for r in results]
    return {"enable_median_s": statistics.median(enable), "enable_min_s": min(enable), "runs": runs,
            "bpy_import_median_s": statistics.median(r["bpy_import_s"] for r in results),
            "onnxruntime_imported_by_enable": any(r["onnxruntime_imported_by_enable"] for r in results)}


def bench_model_size() -> dict:
    models = Path(model_dir_override() or ROOT / "models")
    onnx = sorted(models.glob("*.onnx"))
    if not onnx:
        return na(f"no .onnx in {models} yet")
    shipped = onnx + sorted(models.glob("*.json"))
    out = {"onnx_files": {p.name: p.stat().st_size / 1e6 for p in onnx},
           "onnx_total_mb": sum(p.stat().st_size for p in onnx) / 1e6,
           "shipped_model_files_mb": sum(p.stat().st_size for p in shipped) / 1e6}
    zips = sorted((ROOT / "dist").glob("thunder_lipsync-*.zip"))
    if zips:
        out["dist_zips_mb"] = {z.name: z.stat().st_size / 1e6 for z in zips}
    return out


def _thunder_cmd() -> list[str] | None:
    """The command line of this checkout (run from ROOT, so its own code is imported, not whatever the
    venv's ``thunder`` script points at), else the installed ``thunder``."""
    if (ROOT / "thunder_cli" / "cli.py").exists():
        return [sys.executable, "-m", "thunder_cli"]
    exe = Path(sys.executable).parent / "thunder"
    return [str(exe)] if exe.exists() else None


def bench_cli(wav: Path, runs: int = 2) -> dict:
    """``thunder generate`` end to end on a 10 s clip: 4 takes, glb + fbx + csv, fresh process each run."""
    cmd = _thunder_cmd()
    if cmd is None:
        return na("thunder CLI not built yet (thunder_cli/cli.py missing)")
    times = []
    files: list[str] = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="thunder-bench-cli-") as tmp:
            out_dir = Path(tmp) / "out"
            args = [*cmd, "generate", str(wav), "--takes", "4", "--target", "demo", "--format", "glb,fbx,csv",
                    "--out", str(out_dir), "--name", "bench"]
            if model_dir_override():
                args += ["--model", model_dir_override()]
            with tempfile.TemporaryDirectory(prefix="thunder-bench-user-") as user:
                env = {**os.environ, "BLENDER_USER_RESOURCES": user}
                t0 = time.perf_counter()
                res = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)
                times.append(time.perf_counter() - t0)
            if res.returncode != 0:
                tail = (res.stderr.strip().splitlines() or ["no message"])[-1]
                return na(f"thunder generate exited {res.returncode}: {tail}")
            files = sorted(p.name for p in out_dir.rglob("*") if p.is_file())
    return {"median_s": statistics.median(times), "runs": runs, "times_s": times, "files_written": files,
            "command": "thunder generate <10 s wav> --takes 4 --target demo --format glb,fbx,csv"}


# Runs a command and prints its exit code, the peak RSS of its largest process (getrusage, exact) and the
# peak summed RSS of its whole process tree (sampled from /proc every 50 ms; 0 where there is no /proc), in KB.
_PEAK_RSS = """
import os, resource, subprocess, sys, time

def tree_kb(root):
    kids = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as f:
                    kids.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]), []).append(int(p))
            except OSError:
                pass
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += kids.get(pid, [])
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
        except OSError:
            pass
    return total

proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
peak = 0
while proc.poll() is None:
    if os.path.isdir("/proc"):
        peak = max(peak, tree_kb(proc.pid))
    time.sleep(0.05)
err = proc.stderr.read()
print(proc.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, peak)
sys.stderr.write(err[-2000:])
"""


def bench_long_audio(work: Path, cases: tuple[tuple[float, str], ...]) -> dict:
    """``thunder generate`` on long speech (4 takes, demo head): wall time and peak RSS (``peak_rss_mb``: the
    larger of the biggest process's exact peak and the sampled peak of the whole process tree)."""
    cmd = _thunder_cmd()
    if cmd is None:
        return na("thunder CLI not built yet (thunder_cli/cli.py missing)")
    out: dict = {}
    for seconds, formats in cases:
        wav = speech_clip(seconds, work)
        with tempfile.TemporaryDirectory(prefix="thunder-bench-long-") as tmp:
            args = [*cmd, "generate", str(wav), "--takes", "4", "--target", "demo", "--format", formats,
                    "--out", str(Path(tmp) / "out")]
            t0 = time.perf_counter()
            res = subprocess.run([sys.executable, "-c", _PEAK_RSS, *args], capture_output=True, text=True,
                                 cwd=ROOT, timeout=3600)
            wall = time.perf_counter() - t0
        code, peak_kb, tree_kb = (int(v) for v in res.stdout.split()[-3:])
        key = f"{seconds / 60:g} min {formats}"
        if code != 0:
            out[key] = na(f"exited {code}: {(res.stderr.strip().splitlines() or ['no message'])[-1]}")
        else:
            out[key] = {"audio_s": seconds, "formats": formats, "wall_s": wall,
                        "peak_rss_mb": max(peak_kb, tree_kb) / 1024, "peak_rss_largest_process_mb": peak_kb / 1024,
                        "peak_rss_tree_sampled_mb": tree_kb / 1024}
    return out


def run_suite(cfg: SuiteConfig, log=print) -> dict:
    work = Path(tempfile.mkdtemp(prefix="thunder-bench-"))
    results: dict = {"created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     "machine": machine_info()}
    try:
        clip10 = speech_clip(10.0, work)
        parts = {
            "generation": lambda: bench_generation(cfg.runtime, work),
            "denoiser_batching": lambda: bench_denoiser_batching(cfg.runtime),
            "reference": lambda: bench_reference(cfg.reference, work),
            "keyframes": lambda: run_probe(["keyframes", str(cfg.keyframe_takes), str(cfg.keyframe_seconds),
                                             str(clip10)]),
            "enable": lambda: bench_enable(cfg.enable_runs),
            "first_generation": lambda: run_probe(["first_generation", str(clip10), "4"]),
            "runtime_rss": lambda: run_probe(["runtime_rss", str(clip10), "4"]),
            "model_size": bench_model_size,
            "head_load": lambda: run_probe(["head_load"]),
            "cli": lambda: bench_cli(clip10),
            "long_audio": lambda: bench_long_audio(work, cfg.long_audio),
            "transcript": lambda: bench_transcript(work, cfg.runtime.timing),
        }
        for name, fn in parts.items():
            if cfg.only and name not in cfg.only:
                continue
            log(f"bench: {name} ...", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            results[name] = guarded(fn, name)
            log(f"bench: {name} done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["machine"]["load_average_end_1_5_15"] = [round(x, 2) for x in os.getloadavg()]
    return results
