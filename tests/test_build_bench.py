"""The benchmark's own logic (no timing assertions): the many-step reference sampler matches
core.schedule, repetition rules, n/a handling and target verdicts in the table."""
from __future__ import annotations

import numpy as np

from thunder_blender.core import schedule
from thunder_train.bench.common import TimingConfig, Unavailable, guarded, is_na, time_repeated
from thunder_train.bench.reference import ancestral_step, sample_ddpm_strided
from thunder_train.bench.report import Targets, markdown, table


def test_ancestral_step_keeps_the_forward_marginals():
    """With the true x0, x_t ~ q(x_t | x0) stepped to t' must be distributed as q(x_t' | x0):
    mean sqrt(abar_t') x0, variance 1 - abar_t' (checked over many noise draws, for 1- and 50-step jumps)."""
    cfg = schedule.ScheduleConfig()
    abar = schedule.alphas_cumprod(cfg)
    rng = np.random.default_rng(0)
    x0 = np.linspace(-1.5, 1.5, 55, dtype=np.float32)[None].repeat(20000, 0)
    for t, t_prev in ((10, 9), (500, 499), (600, 550), (999, 949)):
        x_t = schedule.q_sample(x0, t, rng.standard_normal(x0.shape), abar)
        y = ancestral_step(x_t, x0, t, t_prev, abar, rng.standard_normal(x0.shape).astype(np.float32))
        np.testing.assert_allclose(y.mean(0), np.sqrt(abar[t_prev]) * x0[0], atol=0.03)
        np.testing.assert_allclose(y.var(0), 1 - abar[t_prev], rtol=0.08, atol=2e-4)
    np.testing.assert_array_equal(ancestral_step(x_t, x0, 5, -1, abar, x_t), x0)


def test_strided_sampler_visits_its_steps_and_is_seeded():
    cfg = schedule.ScheduleConfig(n_train_steps=40)
    x_T = np.random.default_rng(1).standard_normal((6, 55)).astype(np.float32)
    target = np.linspace(-1, 1, 55, dtype=np.float32)[None].repeat(6, 0)
    calls: list[int] = []

    def denoise(x, t):
        calls.append(t)
        return 0.5 * x + 0.5 * target  # any deterministic function of (x, t)

    a = sample_ddpm_strided(denoise, x_T, 40, np.random.default_rng(2), cfg)
    assert calls == list(range(39, -1, -1))
    b = sample_ddpm_strided(denoise, x_T, 40, np.random.default_rng(2), cfg)
    c = sample_ddpm_strided(denoise, x_T, 40, np.random.default_rng(3), cfg)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3
    calls.clear()
    sample_ddpm_strided(denoise, x_T, 8, np.random.default_rng(2), cfg)
    assert calls[0] == 39 and calls[-1] == 0 and len(calls) == 8


def test_time_repeated_counts_runs():
    n = [0]

    def work():
        n[0] += 1

    r = time_repeated(work, TimingConfig(warmup=2, min_runs=3, max_runs=4, budget_s=0.0))
    assert r["runs"] == 3 and n[0] == 5
    assert r["min_s"] <= r["median_s"] <= r["max_s"]


def test_missing_dependency_becomes_na():
    def part():
        raise Unavailable("generate() not implemented yet")

    r = guarded(part, "generation")
    assert is_na(r) and r["reason"] == "generation: generate() not implemented yet"


def test_table_reports_verdicts_and_na():
    results = {
        "machine": {"cpu_model": "x", "cpu_count": 2, "onnxruntime": "1.31.1"},
        "generation": {"model_load_s": 0.05, "stage_source": "session wrappers", "stages": {},
                       "rows": [{"audio_s": 10.0, "takes": 4, "median_s": 0.7, "min_s": 0.6, "max_s": 0.8,
                                 "runs": 5, "rtf_per_take": 0.0175}]},
        "enable": {"enable_median_s": 0.01, "enable_min_s": 0.01, "runs": 5},
        "model_size": {"onnx_total_mb": 3.2},
        "cli": {"status": "n/a", "reason": "thunder CLI not built yet"},
    }
    text = table(results, Targets())
    lines = {ln.split("  ")[0]: ln for ln in text.splitlines()}
    assert "MISSES" in lines["generate 10 s audio x 4 take(s)"]
    assert "meets" in lines["add-on enable (fresh process)"]
    assert "meets" in lines["bundled model (.onnx)"]
    assert "n/a: thunder CLI not built yet" in lines["cli"]
    md = {ln.split(" | ")[0].lstrip("| "): ln for ln in markdown(results, Targets()).splitlines() if ln.startswith("| ")}
    assert "MISSES" in md["generate 10 s audio x 4 take(s)"] and "meets" in md["bundled model (.onnx)"]
    assert "n/a: thunder CLI not built yet" in md["cli"]
