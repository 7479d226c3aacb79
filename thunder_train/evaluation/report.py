"""Render metrics.json as Markdown tables for MODEL_CARD.md."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from .run import CLOSURE_METRICS, METRICS


def _cell(v: dict | None, digits: int) -> str:
    if not v or v.get("mean") is None:
        return "n/a"
    if not v.get("std") or v["std"] < 0.5 * 10 ** -digits:
        return f"{v['mean']:.{digits}f}"
    return f"{v['mean']:.{digits}f} ± {v['std']:.{digits}f}"


def _splits(block: dict) -> list[str]:
    seen: list[str] = []
    for per_split in block.values():
        for s in per_split:
            if s not in seen:
                seen.append(s)
    return seen


def to_markdown(result: dict, digits: int = 3) -> str:
    """Markdown: one table per split (rows = variants), the closure/shape table, then the definitions."""
    lines: list[str] = []
    abl = result.get("ablation", {})
    counts = result.get("counts", {})
    for split in _splits(abl):
        c = counts.get(split, {})
        lines.append(f"### {split}" + (f" ({c['utterances']} utterances, {c['seeds']} seeds)" if c else ""))
        lines.append("")
        head = ["variant"] + [f"{label} {'↓' if d == 'lower' else '↑'}" for _, label, d in METRICS]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        for variant, per_split in abl.items():
            if split in per_split:
                row = [variant] + [_cell(per_split[split].get(k), digits) for k, _, _ in METRICS]
                lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    clo = result.get("closure", {})
    for split in _splits(clo):
        lines.append(f"### Closures and mouth shapes, {split} (fraction, ↑)")
        lines.append("")
        head = ["variant"] + [label for _, label in CLOSURE_METRICS]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        for variant, per_split in clo.items():
            if split in per_split:
                row = [variant] + [_cell(per_split[split].get(k), digits) for k, _ in CLOSURE_METRICS]
                lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    defs = result.get("definitions", {})
    if defs:
        lines.append("Definitions:")
        lines.append("")
        lines += [f"- `{k}`: {v}" for k, v in defs.items()]
        lines.append("")
    return "\n".join(lines)


def write_result(result: dict, out: str | Path, markdown: str | Path | None, render: Callable[[dict], str]) -> str:
    """Write ``result`` as JSON to ``out`` and its Markdown table (``render``) to ``markdown`` if given;
    print the table and where the JSON went. Returns the Markdown."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    md = render(result)
    if markdown:
        Path(markdown).write_text(md)
    print(md)
    print(f"wrote {out}")
    return md
