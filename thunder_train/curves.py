"""Training curves from the runs' metrics logs: a PNG (matplotlib) and a Markdown table for the model card.

Input: ``<runs>/<run>.ckpt/metrics.jsonl`` as written by ``train.train`` (``checkpoint.RunDir``), rows
``{"step", "split", <metric>: value}``: split "train" holds the training losses (mean over the last
``log_every`` steps) and the learning rate, the development split ("real_val" or "val") the metrics of
``train_cli.closure_validation`` and, when the development set was present, ``train_cli.devset_validation``
(``dev_*``: ARKit-definition rates on a style-stratified subset of recorded voices never trained on).
"""
from __future__ import annotations

from pathlib import Path

from thunder_train.checkpoint import METRICS_FILE, read_metrics

DEV_METRICS = ("closure_acc", "mouth_mae", "dev_sealed", "dev_rounded", "dev_silent", "dev_round_peak")
TRAIN_METRICS = ("x0",)
LABELS = {"closure_acc": "closure accuracy (val) ↑", "mouth_mae": "mouth MAE (val) ↓",
          "dev_sealed": "p b m sealed (dev set) ↑", "dev_rounded": "uw ow w rounded (dev set) ↑",
          "dev_silent": "silence closed (dev set) ↑", "dev_round_peak": "rounding peak ratio (dev set) → 1",
          "x0": "x0 loss (train) ↓"}


def load_logs(runs_dir: str | Path, order: list[str] | None = None) -> dict[str, list[dict]]:
    """{run name: metric rows sorted by step} for every ``<run>.ckpt/metrics.jsonl`` under ``runs_dir``;
    runs named in ``order`` (e.g. the training order) first, the others by name."""
    out = {}
    for path in sorted(Path(runs_dir).glob(f"*.ckpt/{METRICS_FILE}")):
        rows = sorted(read_metrics(path), key=lambda r: r["step"])
        if rows:
            out[path.parent.name.removesuffix(".ckpt")] = rows
    rank = {name: i for i, name in enumerate(order or [])}
    return dict(sorted(out.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))


def series(rows: list[dict], metric: str, dev: bool) -> tuple[list[int], list[float]]:
    """(steps, values) of ``metric`` from the development rows (``dev``) or the training rows."""
    pts = [(r["step"], r[metric]) for r in rows if r.get(metric) is not None and (r["split"] != "train") == dev]
    return [p[0] for p in pts], [p[1] for p in pts]


def render_png(logs: dict[str, list[dict]], path: str | Path) -> Path:
    """One panel per metric (development metrics, then the training loss), one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(m, True) for m in DEV_METRICS] + [(m, False) for m in TRAIN_METRICS]
    cols = min(4, len(panels))
    rows_n = -(-len(panels) // cols)
    fig, grid = plt.subplots(rows_n, cols, figsize=(5 * cols, 3.6 * rows_n), constrained_layout=True, squeeze=False)
    axes = list(grid.ravel())
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    for ax, (metric, dev) in zip(axes, panels, strict=False):
        for run, rows in logs.items():
            x, y = series(rows, metric, dev)
            if x:
                ax.plot(x, y, marker="o" if dev else None, markersize=3, label=run)
        ax.set_title(LABELS[metric])
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def markdown_table(logs: dict[str, list[dict]]) -> str:
    """Development metrics against step, one row per evaluation of each run."""
    lines = ["| run | step | split | " + " | ".join(DEV_METRICS) + " | x0 loss (train, same step) |",
             "|---|---|---|" + "---|" * (len(DEV_METRICS) + 1)]
    for run, rows in logs.items():
        train_x0 = {r["step"]: r.get("x0") for r in rows if r["split"] == "train"}
        for r in rows:
            if r["split"] == "train":
                continue
            vals = [f"{r[m]:.4f}" if r.get(m) is not None else "n/a" for m in DEV_METRICS]
            x0 = train_x0.get(r["step"])
            lines.append(f"| {run} | {r['step']} | {r['split']} | " + " | ".join(vals)
                         + f" | {'n/a' if x0 is None else f'{x0:.4f}'} |")
    return "\n".join(lines)


def curves_section(runs_dir: str | Path, out_dir: str | Path, png_name: str = "training_curves.png",
                   order: list[str] | None = None) -> list[str]:
    """Model-card lines (and the PNG written next to the card); [] when no run logged any metrics."""
    logs = load_logs(runs_dir, order)
    if not logs:
        return []
    render_png(logs, Path(out_dir) / png_name)
    return ["## Training curves", "",
            "Development metrics against optimiser step, from each run's `metrics.jsonl` (closure accuracy and "
            "mouth MAE of one take per development utterance; the training x0 loss is the mean over the last "
            "`log_every` steps). Continuation runs count their own steps from 0.", "",
            f"![training curves]({png_name})", "", markdown_table(logs), ""]


def main(argv: list[str] | None = None) -> int:
    """``python -m thunder_train.curves [RUNS_DIR] [--out DIR]``: the table (stdout) and the PNG of a
    training in progress, e.g. to see whether the development metrics still improve."""
    import argparse

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("runs", nargs="?", type=Path, default=Path("data/pipeline/runs"))
    p.add_argument("--out", type=Path, default=Path("out"), help="where training_curves.png goes")
    a = p.parse_args(argv)
    logs = load_logs(a.runs)
    if not logs:
        print(f"no metrics.jsonl under {a.runs}/*.ckpt/")
        return 1
    print(markdown_table(logs))
    print(f"wrote {render_png(logs, a.out / 'training_curves.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
