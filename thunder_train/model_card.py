"""MODEL_CARD.md and the metrics summary, written from metrics.json and the training records only."""
from __future__ import annotations

import json
from pathlib import Path

TARGET_DIV_RATIO = 0.95


def _mean(metrics: dict, block: str, variant: str, split: str, key: str) -> float | None:
    try:
        v = metrics[block][variant][split][key]["mean"]
    except (KeyError, TypeError):
        return None
    return None if v is None else float(v)


def summarise(metrics: dict, shipped: str) -> dict:
    """Headline numbers per split: the shipped variant's lip PCC / LSE / closure vs the deterministic
    baseline, and its upper-face diversity relative to plain diffusion (the targets of the project)."""
    out: dict = {"shipped": shipped, "splits": {}}
    splits = list(metrics.get("counts", {}))
    for split in splits:
        row: dict = {}
        for key in ("lip_pcc", "lve_mm", "lse_d", "lse_c", "sdiv_u_mm", "lipread_acc"):
            row[key] = _mean(metrics, "ablation", shipped, split, key)
            row[f"{key}_deterministic"] = _mean(metrics, "ablation", "deterministic", split, key)
        row["bilabial_sealed"] = _mean(metrics, "closure", shipped, split, "bilabial_sealed")
        row["bilabial_sealed_deterministic"] = _mean(metrics, "closure", "deterministic", split, "bilabial_sealed")
        div, div_ref = row["sdiv_u_mm"], _mean(metrics, "ablation", "diffusion", split, "sdiv_u_mm")
        row["sdiv_u_ratio_vs_diffusion"] = None if not div or not div_ref else round(div / div_ref, 4)
        # the same number of training steps without the judges (when the pipeline trained that control)
        div_long = _mean(metrics, "ablation", "diffusion_long", split, "sdiv_u_mm")
        if div_long:
            row["sdiv_u_ratio_vs_diffusion_long"] = None if not div else round(div / div_long, 4)
        for ref in ("diffusion", "diffusion_long"):
            for key in ("lip_pcc", "lve_mm"):
                v = _mean(metrics, "ablation", ref, split, key)
                if v is not None:
                    row[f"{key}_{ref}"] = v
        pcc, pcc_det = row["lip_pcc"], row["lip_pcc_deterministic"]
        row["target_lip_pcc_at_least_deterministic"] = None if pcc is None or pcc_det is None else pcc >= pcc_det
        r = row["sdiv_u_ratio_vs_diffusion"]
        row["target_diversity_95pct"] = None if r is None else r >= TARGET_DIV_RATIO
        out["splits"][split] = row
    return out


def _fmt(v, digits: int = 3) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "**no**"
    return f"{v:.{digits}f}"


def write_model_card(out: Path, card: dict, metrics: dict, work: Path | None = None,
                     corpus_card: Path | None = None, notes: list[str] | None = None) -> Path:
    from thunder_train.evaluation.report import to_markdown

    summ = metrics.get("summary", {})
    training = {}
    if work is not None and (work / "runs" / "training.json").is_file():
        training = json.loads((work / "runs" / "training.json").read_text())
    lines = [
        "# THUNDER for Blender: shipped generator",
        "",
        f"Status: **{card.get('status', 'release')}**. Variant: `{card.get('variant', card['training'].get('variant'))}`. "
        f"Training commit: `{card.get('training_commit')}`.",
        "",
        "## What it is",
        "",
        "Speech (any sample rate, resampled to 16 kHz) -> 80-band log-mel (100 fps, per-utterance normalised) -> "
        "convolutional audio encoder (stride 2, 50 fps) -> x0-predicting diffusion denoiser over (T, 55) "
        "performances (52 ARKit weights + head yaw/pitch/roll), conditioned on audio features, diffusion step, "
        f"emotion category and intensity (condition dropout, so `auto` works and classifier-free guidance scales "
        f"the emotion). Sampling: {card['schedule']['steps']} deterministic DDIM steps from per-take noise, "
        f"the noise on the mouth/jaw channels scaled by {card.get('mouth_temperature', 1.0):g} (rows `*_tau1`: "
        "unscaled), so that the mouth follows the audio and the seed varies mostly the upper face. "
        "Files: `encoder.onnx`, `denoiser.onnx` (opset "
        f"{card['opset']}, dynamic time axis), `model.json` (card read by the runtime), `metrics.json`.",
        "",
        f"Parameters: encoder {card['parameters']['encoder']:,}, denoiser {card['parameters']['denoiser']:,}. "
        f"ONNX size: {sum(card.get('size_bytes', {}).values()) / 1e6:.2f} MB. "
        f"Torch vs onnxruntime max abs difference: {card.get('onnx_parity_max_abs')}.",
        "",
        "## Training data and licences",
        "",
    ]
    corpus = card["training"].get("corpus")
    dc = corpus_card or (Path(corpus) / "DATA_CARD.md" if corpus else None)
    if dc is not None and Path(dc).is_file():
        lines += [f"From the corpus data card (`{dc}`):", ""]
        lines += ["> " + ln if ln else ">" for ln in Path(dc).read_text().splitlines()[:60]]
        lines.append("")
    else:
        lines += ["Corpus data card not found at export time; see docs/DATA_CARD.md.", ""]
    lines += ["The trained weights are released under the project's licence (GPL-3.0-or-later).", ""]
    lines += ["## Training runs", ""]
    if training:
        lines += ["| run | variant | steps | seconds (last session) | augmentation | closure acc (val) | mouth MAE (val) |",
                  "|---|---|---|---|---|---|---|"]
        for name, t in training.items():
            val = t.get("val") or {}
            lines.append(f"| {name} | {t.get('variant')} | {t.get('steps')} | {t.get('seconds')} | "
                         f"{t.get('augmentation')} | {val.get('closure_acc', 'n/a')} | {val.get('mouth_mae', 'n/a')} |")
        lines.append("")
    else:
        t = card["training"]
        lines += [f"Single run: variant {t.get('variant')}, {t.get('steps')} steps, {t.get('seconds')} s, corpus "
                  f"`{t.get('corpus')}`, augmentation {t.get('augmentation')}, validation {t.get('val')}.", ""]
    if work is not None:
        from thunder_train.curves import curves_section

        lines += curves_section(work / "runs", out, order=list(training))
    if card.get("recipe_hash"):
        lines += ["## Recipe", "",
                  f"Trained from the recipe with hash `{card['recipe_hash']}` (root seed {card['recipe']['seed']}"
                  + (", smoke settings" if card.get("recipe_smoke") else "")
                  + (f", overrides {card['recipe_overrides']}" if card.get("recipe_overrides") else "")
                  + "); the settings as used are in `model.json` (`recipe`). See docs/TRAINING.md.", ""]
    lines += ["## Targets", ""]
    for split, row in summ.get("splits", {}).items():
        lines.append(f"- {split}: lip PCC {_fmt(row['lip_pcc'])} vs deterministic {_fmt(row['lip_pcc_deterministic'])} "
                     f"(target >= deterministic: {_fmt(row['target_lip_pcc_at_least_deterministic'])}); "
                     f"upper-face diversity {_fmt(row['sdiv_u_mm'], 4)} mm = "
                     f"{_fmt(row['sdiv_u_ratio_vs_diffusion'])} x plain diffusion "
                     f"(target >= {TARGET_DIV_RATIO}: {_fmt(row['target_diversity_95pct'])}"
                     + (f"; {_fmt(row['sdiv_u_ratio_vs_diffusion_long'])} x its same-steps control "
                        "`diffusion_long`" if row.get("sdiv_u_ratio_vs_diffusion_long") is not None else "")
                     + "); "
                     f"p/b/m sealed {_fmt(row['bilabial_sealed'])} vs deterministic "
                     f"{_fmt(row['bilabial_sealed_deterministic'])}.")
    if not summ.get("splits"):
        lines.append("- No evaluation has been run for this model yet.")
    if metrics.get("devset"):
        lines += devset_section(metrics["devset"], metrics.get("shipped_variant", ""))
    lines += ["", "## Ablation (from metrics.json)", ""]
    lines += [to_markdown(metrics) if metrics.get("ablation") else "Not evaluated yet.", ""]
    if metrics.get("timings_s"):
        lines += ["## Retraining", "", "Wall-clock time per stage on the 2-core build machine (s): "
                  + ", ".join(f"{k} {v}" for k, v in metrics["timings_s"].items()) + ".", ""]
    lines += [
        "How to retrain everything from scratch (corpus, judges, 5 generator runs, evaluation, export):",
        "",
        "```",
        "make setup",
        "thunder-train all --out models          # or: make train (settings: thunder_train/recipe.toml)",
        "thunder-train all --out models --resume --max-hours 2.8   # one session of a long retraining",
        "thunder-train all --out /tmp/m --smoke  # minutes-long end-to-end check",
        "```",
        "",
        "## Known limits",
        "",
        "- Trained on synthetic speech (espeak-ng / flite / festival voices) and aligned recorded speech (the data "
        "card above); the target animation is produced by a rule-based articulation model from the phones, not "
        "captured from real faces, so the model reproduces that model's style, and recorded speech is only as "
        "well labelled as its forced alignment.",
        "- Emotion guidance only has an effect when an emotion other than `auto` is chosen.",
        "- Upper-face motion (brows, head) is not determined by the audio: it comes from the per-take noise. "
        "Blinks and gaze come from a seeded runtime layer (`core.blinks`, `core.gaze`), not from the network: "
        "the sampler loses sparse, brief events (measured with `python -m thunder_train.evaluation.blinks`; "
        "the layer and its measurements: docs/BLINKS_AND_GAZE.md).",
        "",
    ]
    if notes:
        lines += ["## Notes on this build", ""] + [f"- {n}" for n in notes] + [""]
    path = out / "MODEL_CARD.md"
    path.write_text("\n".join(lines))
    return path


DEV_RATES = (("bilabial_sealed", "p b m sealed", 0.95), ("rounded_lips", "uw ow w rounded", 0.90),
             ("open_jaw", "open vowels jaw open", 0.95), ("silent_closed", "silence closed", 0.97))


def _dev_cell(row: dict, key: str) -> str:
    v = row.get(key)
    if not v or v.get("mean") is None:
        return "-"
    return f"{v['mean']:.2f}" + (f" ± {v['std']:.2f}" if v.get("n", 1) > 1 and v.get("std") else "")


def devset_section(dev: dict, shipped: str) -> list[str]:
    """"On the real-speech development set": every variant overall, the shipped one per style group, and each
    target with its figure (ARKit-weight definitions; the mesh ones are in devset_metrics.md)."""
    groups = dev["groups"]
    counts = dev.get("counts", {})
    info = dev.get("devset", {})
    ship = shipped if shipped in groups else next((v for v in groups if v != "target"), None)
    seeds = dev.get("config", {}).get("seeds", [])
    lines = ["## On the real-speech development set", "",
             f"{counts.get('overall', {}).get('clips', '?')} clips, {counts.get('overall', {}).get('speakers', '?')} "
             f"speakers{', ' + str(len(info['languages'])) + ' languages' if info.get('languages') else ''}, "
             "none of them trained on (docs/DEVSET_CARD.md); "
             f"{len(seeds)} take seeds, mean ± std over seeds. ARKit-weight definitions "
             "(aperture = jawOpen - mouthClose: sealed < 0.12, open > 0.15; rounded: funnel or pucker > 0.2); "
             "peak ratio = generated / articulation-target peak at the phone's extremum (median); lip PCC against "
             "the articulation target. Both definitions and every group: `devset_metrics.md`.", "",
             "| variant | " + " | ".join(lbl for _, lbl, _ in DEV_RATES) + " | rounding peak | closure peak | "
             "jaw peak | lip PCC |", "|---" * (len(DEV_RATES) + 5) + "|"]
    for name, per in groups.items():
        row = per.get("overall", {})
        cells = [_dev_cell(row, f"arkit.{k}") for k, _, _ in DEV_RATES]
        cells += [_dev_cell(row, f"peak_ratio.{a}") for a in ("round", "close", "jaw")]
        cells.append(_dev_cell(row, "lip_pcc_vs_target"))
        lines.append(f"| {'**' + name + '**' if name == ship else name} | " + " | ".join(cells) + " |")
    if ship is None:
        return lines + [""]
    names = [g for g in counts if g != "overall"] + ["overall"]
    lines += ["", f"The shipped variant (`{ship}`) per style group:", "",
              "| measure | " + " | ".join(f"{g} ({counts[g]['clips']})" for g in names) + " | target |",
              "|---" * (len(names) + 2) + "|"]
    for k, lbl, tgt in DEV_RATES:
        lines.append(f"| {lbl} | " + " | ".join(_dev_cell(groups[ship].get(g, {}), f"arkit.{k}") for g in names)
                     + f" | >= {tgt} |")
    lines.append("| rounding peak ratio | " + " | ".join(_dev_cell(groups[ship].get(g, {}), "peak_ratio.round")
                                                        for g in names) + " | 0.85-1.15 |")
    lines += ["", "Targets not reached (shipped variant; a group is listed when its own figure misses):", ""]
    missed = []
    for k, lbl, tgt in DEV_RATES:
        for g in names:
            v = groups[ship].get(g, {}).get(f"arkit.{k}", {})
            if v.get("mean") is not None and v["mean"] < tgt:
                missed.append(f"{lbl} {g} {v['mean']:.2f} (target {tgt})")
    for a in ("round", "close", "jaw"):
        v = groups[ship].get("overall", {}).get(f"peak_ratio.{a}", {})
        if v.get("mean") is not None and not 0.85 <= v["mean"] <= 1.15:
            missed.append(f"{a} peak ratio overall {v['mean']:.2f} (target 0.85-1.15)")
    text = f"{ship}+text" if f"{ship}+text" in groups else None
    if text is not None:  # with the transcript: the stricter targets of transcript-assisted takes
        for k, lbl, tgt in (("bilabial_sealed", "p b m sealed", 0.98), ("rounded_lips", "uw ow w rounded", 0.95)):
            for g in names:
                v = groups[text].get(g, {}).get(f"arkit.{k}", {})
                if v.get("mean") is not None and v["mean"] < tgt:
                    missed.append(f"with the transcript ({text}): {lbl} {g} {v['mean']:.2f} (target {tgt})")
    det = groups.get("deterministic", {}).get("overall", {}).get("lip_pcc_vs_target", {}).get("mean")
    pcc = groups[ship].get("overall", {}).get("lip_pcc_vs_target", {}).get("mean")
    if det is not None and pcc is not None and pcc < det:
        missed.append(f"lip PCC {pcc:.3f} below the deterministic baseline's {det:.3f}")
    lines += [f"- {m}" for m in missed] if missed else ["- none"]
    return lines + [""]


README_GROUPS = ("read", "command", "acted", "processed", "telephone")


def readme_devset_table(dev: dict, shipped: str, previous: dict | None = None) -> str:
    """The README's development-set table: the shipped variant per style group and overall (means over seeds,
    ARKit-weight definitions), with ``previous`` (an older devset_metrics.json) in brackets when given."""
    groups = dev["groups"]
    ship = shipped if shipped in groups else next(v for v in groups if v != "target")
    names = [g for g in README_GROUPS if g in groups[ship]] + ["overall"]

    def cell(per: dict, g: str, key: str) -> str:
        v = per.get(g, {}).get(key, {})
        return "-" if v.get("mean") is None else f"{v['mean']:.2f}"

    old = None
    if previous is not None:
        pg = previous["groups"]
        old = pg.get(previous.get("shipped", ship)) or pg.get(ship) or next(v for k, v in pg.items() if k != "target")
    rows = [(f"arkit.{k}", lbl, f"≥ {t:.2f}") for k, lbl, t in DEV_RATES]
    rows += [("peak_ratio.round", "rounding peak / target peak (median)", "0.85–1.15"),
             ("lip_pcc_vs_target", "lip PCC against the target", "≥ baseline")]
    lines = ["| ARKit-weight measure | " + " | ".join(names) + " | target |", "|---" * (len(names) + 2) + "|"]
    for key, lbl, tgt in rows:
        cells = [cell(groups[ship], g, key) for g in names]
        cells[-1] = f"**{cells[-1]}**" + (f" ({cell(old, 'overall', key)})" if old is not None else "")
        lines.append(f"| {lbl} | " + " | ".join(cells) + f" | {tgt} |")
    return "\n".join(lines)


# Closure targets on recorded speech (fractions; the definitions are in metrics.json).
TARGET_CLOSURE = {"bilabial_sealed": 0.97, "open_jaw": 0.95, "rounded_lips": 0.95, "silent_closed": 0.99}


def headline_table(metrics: dict) -> str:
    """The README's model table: shipped model vs deterministic baseline vs plain diffusion, per split."""
    shipped = metrics.get("shipped_variant", "diffusion_m2s_sync")
    cols = [("ablation", "lip_pcc", "lip PCC ↑"), ("ablation", "lve_mm", "LVE mm ↓"),
            ("ablation", "sdiv_u_mm", "S-DIV-U mm ↑"), ("ablation", "lse_d", "LSE-D ↓"),
            ("closure", "bilabial_sealed", "p b m sealed ↑"), ("closure", "open_jaw", "open vowels: jaw open ↑"),
            ("closure", "rounded_lips", "uw ow w: rounded ↑"), ("closure", "silent_closed", "silence: closed ↑")]
    lines = ["| split | model | " + " | ".join(c[2] for c in cols) + " |", "|---|---|" + "---|" * len(cols)]
    for split in metrics.get("counts", {}):
        rows = ((shipped, f"shipped (`{shipped}`)"), ("deterministic", "deterministic baseline"),
                ("diffusion", "diffusion without M2S"), ("diffusion_long", "diffusion without M2S, same steps"))
        for variant, label in rows:
            if variant not in metrics.get("ablation", {}):
                continue
            vals = [_fmt(_mean(metrics, block, variant, split, key)) for block, key, _ in cols]
            lines.append(f"| {split} | {label} | " + " | ".join(vals) + " |")
        if split == "real_val":
            targets = [f"≥ {TARGET_CLOSURE[key]:.2f}" if key in TARGET_CLOSURE else "" for _, key, _ in cols]
            lines.append("| real_val | target | " + " | ".join(targets) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    # python -m thunder_train.model_card [metrics.json]: the README's ablation table;
    # python -m thunder_train.model_card --devset devset_metrics.json SHIPPED [previous devset_metrics.json]:
    # the README's development-set table.
    if len(sys.argv) > 2 and sys.argv[1] == "--devset":
        prev = json.loads(Path(sys.argv[4]).read_text()) if len(sys.argv) > 4 else None
        print(readme_devset_table(json.loads(Path(sys.argv[2]).read_text()), sys.argv[3], prev))
    else:
        print(headline_table(json.loads(Path(sys.argv[1] if len(sys.argv) > 1 else "models/metrics.json")
                                        .read_text())))
