"""bench.json -> a plain-text table, with the product targets and whether each is met."""
from __future__ import annotations

from dataclasses import dataclass

from .common import is_na


@dataclass(frozen=True)
class Targets:
    four_takes_10s_s: float = 0.5
    write_8_takes_s: float = 0.2
    enable_s: float = 0.3
    peak_rss_mb: float = 400.0
    model_mb: float = 15.0


# Published peer timings for one 10 s clip on a 2-core CPU (second-hand figures, not measured here).
PEERS_10S = (
    ("FaceFormer, 1 deterministic take", "2.8-8.8 s"),
    ("CodeTalker, 1 take", "100-150 s"),
    ("FaceDiffuser, 1 take at 500/1000 diffusion steps", "830-1280 s (83 s at 50 steps)"),
)


def _fmt_s(x: float) -> str:
    if x < 1e-3:
        return f"{x * 1e6:.0f} us"
    if x < 1.0:
        return f"{x * 1e3:.1f} ms"
    return f"{x:.2f} s"


def _verdict(value: float, limit: float) -> str:
    return "meets" if value <= limit else "MISSES"


def rows(results: dict, targets: Targets = Targets()) -> list[tuple[str, str, str]]:
    """(measurement, value, target verdict) rows."""
    out: list[tuple[str, str, str]] = []

    def section(name: str) -> dict | None:
        r = results.get(name)
        if r is None:
            return None
        if is_na(r):
            out.append((name, f"n/a: {r['reason']}", ""))
            return None
        return r

    if (g := section("generation")) is not None:
        out.append(("model load (runtime, CPU)", _fmt_s(g["model_load_s"]), ""))
        for r in g["rows"]:
            label = f"generate {r['audio_s']:g} s audio x {r['takes']} take(s)"
            tgt = ""
            if r["audio_s"] == 10.0 and r["takes"] == 4:
                tgt = f"<= {targets.four_takes_10s_s} s: {_verdict(r['median_s'], targets.four_takes_10s_s)}"
            cpu = f", CPU {_fmt_s(r['cpu_median_s'])}" if "cpu_median_s" in r else ""
            out.append((label, f"{_fmt_s(r['median_s'])} (min {_fmt_s(r['min_s'])}{cpu}; "
                        f"RTF/take {r['rtf_per_take']:.4f}, n={r['runs']})", tgt))
        for key, st in g["stages"].items():
            calls = st.get("onnx_calls_per_generation", {})
            for k, v in st.items():
                if isinstance(v, float):
                    n = calls.get(k.removeprefix("onnx "), 0) if k.startswith("onnx ") else 0
                    out.append((f"  {key}: {k}", _fmt_s(v) + (f" ({n} calls)" if n else ""), ""))
    if (db := section("denoiser_batching")) is not None:
        for b, r in db["calls"].items():
            out.append((f"one denoiser call, batch {b} x {db['frames']} frames",
                        f"{_fmt_s(r['median_s'])} ({_fmt_s(r['per_take_s'])} per take)", ""))
    if (ref := section("reference")) is not None:
        out.append((f"reference: generate() {ref['audio_s']:g} s x 1 take",
                    _fmt_s(ref["generate_one_take"]["median_s"]), ""))
        out.append((f"reference: shipped DDIM loop, {ref['shipped_steps']} steps",
                    _fmt_s(ref["shipped_few_step"]["median_s"]), ""))
        for k, v in ref["many_step"].items():
            out.append((f"reference: DDPM {k} steps, same network", f"{_fmt_s(v['wall_s'])} "
                        f"({v['x_shipped']:.0f}x shipped, {v['denoiser_calls']} denoiser calls)", ""))
    if (kf := section("keyframes")) is not None:
        lbl = f"write {kf['takes']} takes x {kf['channels_mapped']}+3 ch x {kf['seconds']:g} s @ 30 fps"
        out.append((lbl + " (bulk write_takes)", f"{_fmt_s(kf['bulk_s'])} (resampling {_fmt_s(kf['of_which_resample_s'])})",
                    f"<= {targets.write_8_takes_s} s: {_verdict(kf['bulk_s'], targets.write_8_takes_s)}"
                    if kf["takes"] == 8 else ""))
        out.append((lbl + " (keyframe_insert)", f"{_fmt_s(kf['keyframe_insert_s'])} "
                    f"(bulk is {kf['speedup']:.0f}x faster)", ""))
        out.append((lbl + " keys, every frame", f"{kf['bulk_keys']}", ""))
        if "reduced_s" in kf:
            out.append((lbl + f" (bulk, key reduction {kf['reduced_tolerance']:g})",
                        f"{_fmt_s(kf['reduced_s'])}, {kf['reduced_keys']} keys "
                        f"({kf['bulk_keys'] / max(kf['reduced_keys'], 1):.1f}x fewer)",
                        f"<= {targets.write_8_takes_s} s: {_verdict(kf['reduced_s'], targets.write_8_takes_s)}"
                        if kf["takes"] == 8 else ""))
    if (en := section("enable")) is not None:
        out.append(("add-on enable (fresh process)", f"{_fmt_s(en['enable_median_s'])} (n={en['runs']})",
                    f"<= {targets.enable_s} s: {_verdict(en['enable_median_s'], targets.enable_s)}"))
    if (fg := section("first_generation")) is not None:
        out.append(("first generation in fresh Blender (model load incl.)", _fmt_s(fg["first_generation_s"]),
                    fg.get("path", "")))
        if "peak_rss_during_generation_mb" in fg:
            peak = fg["peak_rss_during_generation_mb"]
            out.append(("  peak RSS of the Blender process during it",
                        f"{peak:.0f} MB (before: {fg['rss_before_mb']:.0f} MB)",
                        f"<= {targets.peak_rss_mb:.0f} MB: {_verdict(peak, targets.peak_rss_mb)}"))
    if (rs := section("runtime_rss")) is not None:
        out.append(("peak RSS, runtime alone (load + 4 x 10 s)", f"{rs['peak_rss_mb']:.0f} MB",
                    f"<= {targets.peak_rss_mb:.0f} MB: {_verdict(rs['peak_rss_mb'], targets.peak_rss_mb)}"))
    if (ms := section("model_size")) is not None:
        out.append(("bundled model (.onnx)", f"{ms['onnx_total_mb']:.2f} MB",
                    f"<= {targets.model_mb:.0f} MB: {_verdict(ms['onnx_total_mb'], targets.model_mb)}"))
    if (hl := section("head_load")) is not None:
        out.append(("demo head asset load (numpy, fresh)", _fmt_s(hl["load_demo_head_s"]), ""))
        if isinstance(hl.get("build_demo_head_s"), float):
            out.append(("demo head object build in Blender", _fmt_s(hl["build_demo_head_s"]), ""))
    if (cl := section("cli")) is not None:
        out.append(("CLI: thunder generate 10 s, 4 takes, glb+fbx+csv", f"{_fmt_s(cl['median_s'])} "
                    f"(n={cl['runs']}, {len(cl['files_written'])} files)", ""))
    if (la := section("long_audio")) is not None:
        for key, r in la.items():
            if key == "measured":  # when these rows were regenerated on their own
                continue
            if is_na(r):
                out.append((f"CLI: {key}", f"n/a: {r['reason']}", ""))
                continue
            out.append((f"CLI: {r['audio_s'] / 60:g} min audio, 4 takes, {r['formats']}",
                        f"{_fmt_s(r['wall_s'])}, peak RSS {r['peak_rss_mb']:.0f} MB",
                        f"<= 2048 MB: {_verdict(r['peak_rss_mb'], 2048.0)}"))
    if (tr := section("transcript")) is not None:
        t = tr["generate_4_takes_with_text_s"]
        out.append((f"{tr['audio_s']:g} s clip with its text ({tr['words']} words), 4 takes",
                    f"{_fmt_s(t)} (without text {_fmt_s(tr['generate_4_takes_without_text_s'])}; alignment "
                    f"{_fmt_s(tr['alignment_s'])}, n={tr['runs']})",
                    f"<= {targets.four_takes_10s_s} s: {_verdict(t, targets.four_takes_10s_s)}"))
        out.append(("  pronunciation table, first load in a process", _fmt_s(tr["lexicon_first_load_s"]), ""))
        lg = tr["long"]
        out.append((f"  alignment of {lg['audio_s'] / 60:g} min ({lg['words']} words)",
                    f"{_fmt_s(lg['align_s'])}, band {lg['band_max_states']} states, back-pointers "
                    f"{lg['pointer_mb']:.1f} MB", ""))
    return out


def table(results: dict, targets: Targets = Targets()) -> str:
    m = results.get("machine", {})
    head = (f"THUNDER bench  {results.get('created_utc', '')}  {m.get('cpu_model', '?')}, "
            f"{m.get('cpu_count', '?')} cores, onnxruntime {m.get('onnxruntime', '?')}, "
            f"load avg {m.get('load_average_1_5_15', '?')} -> {m.get('load_average_end_1_5_15', '?')}")
    body = rows(results, targets)
    w0 = max([len(r[0]) for r in body] + [10])
    w1 = max([len(r[1]) for r in body if not r[1].startswith("n/a")] + [10])
    lines = [head, "-" * len(head)]
    for a, b, c in body:
        lines.append(f"{a:<{w0}}  {b}" if b.startswith("n/a") else f"{a:<{w0}}  {b:<{w1}}  {c}".rstrip())
    lines.append("")
    lines.append("For context, published figures for a 10 s clip on 2 CPU cores (not measured here): "
                 + "; ".join(f"{name} {t}" for name, t in PEERS_10S) + ".")
    return "\n".join(lines)


def markdown(results: dict, targets: Targets = Targets()) -> str:
    """The user-facing rows as a Markdown table (the README's speed section): per-stage and batching
    details are left out; every row with a product target says whether it is met."""
    m = results.get("machine", {})
    lines = [f"Measured {results.get('created_utc', '?')} on {m.get('cpu_count', '?')} cores ({m.get('cpu_model', '?')}), "
             f"onnxruntime {m.get('onnxruntime', '?')}, load average {m.get('load_average_1_5_15', '?')}.", "",
             "| path | measured | target |", "|---|---|---|"]
    for a, b, c in rows(results, targets):
        if a.startswith("one denoiser call") or (a.startswith("  ") and not c):
            continue
        lines.append(f"| {a.strip()} | {b} | {c} |")
    return "\n".join(lines)


if __name__ == "__main__":
    import json
    import sys

    print(markdown(json.loads(open(sys.argv[1] if len(sys.argv) > 1 else "bench.json").read())))
