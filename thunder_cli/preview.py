"""Preview picture of a run: the main channels of every take over time, under the audio waveform (and the
transcript's aligned words over it, when there was a transcript).

CLI only (matplotlib is imported when called; Blender does not ship it and the add-on never uses this).
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from thunder_blender.core.channels import INDEX

# (row title, y label, channel names averaged into one curve, scale)
ROWS: tuple[tuple[str, str, tuple[str, ...], float], ...] = (
    ("jawOpen", "weight", ("jawOpen",), 1.0),
    ("mouthClose", "weight", ("mouthClose",), 1.0),
    ("mouthFunnel", "weight", ("mouthFunnel",), 1.0),
    ("mouthSmile (L+R)/2", "weight", ("mouthSmileLeft", "mouthSmileRight"), 1.0),
    ("eyeBlink (L+R)/2", "weight", ("eyeBlinkLeft", "eyeBlinkRight"), 1.0),
    ("browInnerUp", "weight", ("browInnerUp",), 1.0),
    ("browDown (L+R)/2", "weight", ("browDownLeft", "browDownRight"), 1.0),
    ("head yaw", "degrees", ("headYaw",), 180.0 / np.pi),
    ("head pitch", "degrees", ("headPitch",), 180.0 / np.pi),
    ("head roll", "degrees", ("headRoll",), 180.0 / np.pi),
)


_MPL_DIR: str | None = None


def cleanup() -> None:
    """Remove matplotlib's temp config dir (registered with atexit; ``cli.entry`` calls it before os._exit)."""
    if _MPL_DIR is not None:
        shutil.rmtree(_MPL_DIR, ignore_errors=True)


def curves(weights: np.ndarray) -> np.ndarray:
    """weights: (N, T, 55) -> (len(ROWS), N, T) plotted values."""
    return np.stack([weights[:, :, [INDEX[n] for n in names]].mean(axis=2) * scale
                     for _, _, names, scale in ROWS])


MAX_WORD_LABELS = 400  # beyond this the words are drawn as spans only (labels would overlap into a smear)


def draw_words(ax, words: list[dict]) -> int:
    """Aligned words (``Alignment.to_dict()["words"]``) as spans over the waveform axis: used words in blue,
    low-confidence ones (audio only there) in orange; words not found in the audio are not drawn. Returns the
    number of words drawn."""
    placed = [w for w in words if w.get("start") is not None]
    label = len(placed) <= MAX_WORD_LABELS
    for i, w in enumerate(placed):
        color = "tab:blue" if w.get("used") else "tab:orange"
        ax.axvspan(w["start"], w["end"], ymin=0.0, ymax=1.0, color=color, alpha=0.13 if i % 2 else 0.22, lw=0)
        if label:
            ax.text((w["start"] + w["end"]) / 2, 0.93 if i % 2 == 0 else 0.72, w["text"], ha="center", va="top",
                    fontsize=7, color="0.05" if w.get("used") else "tab:orange", clip_on=True)
    return len(placed)


def render(path: str | os.PathLike, weights: np.ndarray, fps: float, seeds: tuple[int, ...],
           pcm: np.ndarray | None = None, sample_rate: int = 16000, title: str = "",
           words: list[dict] | None = None) -> None:
    """Write a PNG to ``path``.

    weights: (N, T, 55) takes at ``fps``; pcm: (S,) mono audio at ``sample_rate`` (optional); words: the
    transcript's aligned words (``core.alignment.Alignment.to_dict()["words"]``, optional), drawn over the audio.
    """
    # matplotlib's font cache goes to a temp dir (removed at exit): nothing is written outside --out
    global _MPL_DIR
    if "MPLCONFIGDIR" not in os.environ:
        _MPL_DIR = tempfile.mkdtemp(prefix="thunder-mpl-")
        os.environ["MPLCONFIGDIR"] = _MPL_DIR
        atexit.register(cleanup)
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    n, t = weights.shape[:2]
    time = np.arange(t) / fps
    vals = curves(weights)
    colors = plt.get_cmap("tab10").colors
    fig, axes = plt.subplots(len(ROWS) + 1, 1, figsize=(12, 1.35 * (len(ROWS) + 1) + 0.8), sharex=True,
                             gridspec_kw={"hspace": 0.12})
    ax = axes[0]
    if pcm is not None and len(pcm):
        # Min/max envelope per pixel column keeps the PNG readable for long clips.
        cols = 1500
        edges = np.linspace(0, len(pcm), cols + 1).astype(int)
        lo = np.array([pcm[a:b].min() if b > a else 0 for a, b in zip(edges[:-1], edges[1:], strict=True)])
        hi = np.array([pcm[a:b].max() if b > a else 0 for a, b in zip(edges[:-1], edges[1:], strict=True)])
        tx = edges[:-1] / sample_rate
        ax.fill_between(tx, lo, hi, color="0.35", linewidth=0)
        ax.set_ylim(-1, 1)
    if words:
        draw_words(ax, words)
        ax.set_ylim(-1, 1)
    ax.set_ylabel("audio + words" if words else "audio", rotation=0, ha="right", va="center")
    ax.set_yticks([])
    for r, (label, unit, _, _) in enumerate(ROWS):
        ax = axes[r + 1]
        for k in range(n):
            ax.plot(time, vals[r, k], color=colors[k % len(colors)], lw=1.0, alpha=0.9,
                    label=f"take {k + 1} (seed {seeds[k]})")
        if unit == "weight":
            ax.set_ylim(-0.02, min(1.02, max(0.2, float(vals[r].max()) * 1.1)))
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.25)
        if unit == "degrees":
            ax.text(1.002, 0.5, "deg", transform=ax.transAxes, fontsize=8, va="center")
    axes[-1].set_xlabel("time (s) from the start of the audio")
    axes[-1].set_xlim(0, max(t / fps, len(pcm) / sample_rate if pcm is not None else 0))
    handles, labels = axes[1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.565, 0.975), ncol=min(n, 5),
               fontsize=9, frameon=False)
    fig.suptitle(title or f"{n} takes, {t / fps:.2f} s at {fps:g} fps", y=0.995)
    fig.subplots_adjust(left=0.16, right=0.97, top=0.95, bottom=0.05)
    fig.savefig(Path(path), dpi=90, format="png")
    plt.close(fig)
