"""An animator's controls, applied when takes are written (numpy only): what to store and how to apply it.

``Shaping`` gathers them: strength per region (``core.regions``), mouth-only mode, smoothing per region
(``core.smoothing``), a lead/lag offset in milliseconds and key reduction (``core.keyreduce``). It is stored
with each take (``to_dict``/``from_dict``, plain JSON types) so a re-roll writes the new take the same way.

Order at write time, on the take already resampled to the scene rate: strength, then smoothing (which keeps
the closures that the scaled take has), then the keys are moved by the offset and reduced.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .keyreduce import DEFAULT_TOLERANCE
from .regions import REGIONS, apply_strength, check_strengths
from .smoothing import check_cutoffs, smooth

MAX_OFFSET_MS = 1000.0
MAX_TOLERANCE = 0.5


@dataclass(frozen=True)
class Shaping:
    """Write-time controls. Defaults change nothing (every key written, no offset).

    strength: region -> 0..2 (missing regions: 1). mouth_only: every region but the mouth at 0.
    smooth_hz: region -> cut-off in Hz (0 or missing: no smoothing).
    offset_ms: keys move by this many milliseconds (negative: earlier, i.e. the face leads the audio).
    reduce_keys / key_tolerance: bake each curve to the fewest keys within ``key_tolerance``.
    """

    strength: dict[str, float] = field(default_factory=dict)
    mouth_only: bool = False
    smooth_hz: dict[str, float] = field(default_factory=dict)
    offset_ms: float = 0.0
    reduce_keys: bool = False
    key_tolerance: float = DEFAULT_TOLERANCE

    def __post_init__(self) -> None:
        check_strengths(self.strength)
        check_cutoffs(self.smooth_hz)
        if not -MAX_OFFSET_MS <= float(self.offset_ms) <= MAX_OFFSET_MS:
            raise ValueError(f"offset must be between -{MAX_OFFSET_MS:g} and {MAX_OFFSET_MS:g} ms, "
                             f"got {self.offset_ms}")
        if not 0.0 < float(self.key_tolerance) <= MAX_TOLERANCE:
            raise ValueError(f"key tolerance must be above 0 and at most {MAX_TOLERANCE:g}, got {self.key_tolerance}")

    def effective_strength(self) -> dict[str, float]:
        """Region -> strength actually applied (mouth-only zeroes every other region)."""
        s = {r: float(self.strength.get(r, 1.0)) for r in REGIONS}
        if self.mouth_only:
            s.update({r: 0.0 for r in REGIONS if r != "mouth"})
        return s

    def shape(self, perf: np.ndarray, fps: float) -> np.ndarray:
        """Strength and smoothing. perf: (T, 55) at ``fps`` -> new (T, 55) float32."""
        out = apply_strength(perf, self.effective_strength())
        if any(float(v) > 0 for v in self.smooth_hz.values()):
            out = smooth(out, fps, self.smooth_hz)
        return out

    def offset_frames(self, fps: float) -> float:
        """The offset in frames at ``fps`` (fractional: keys move by exactly ``offset_ms``)."""
        return float(self.offset_ms) * float(fps) / 1000.0

    def tolerance(self) -> float:
        """Key-reduction tolerance, or 0 when every frame is keyed."""
        return float(self.key_tolerance) if self.reduce_keys else 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["strength"] = {r: float(v) for r, v in self.strength.items()}
        d["smooth_hz"] = {r: float(v) for r, v in self.smooth_hz.items()}
        return d

    @staticmethod
    def from_dict(d: dict | None) -> Shaping:
        """From ``to_dict`` output (unknown keys ignored; None or {} gives the defaults)."""
        d = dict(d or {})
        return Shaping(strength=dict(d.get("strength", {})), mouth_only=bool(d.get("mouth_only", False)),
                       smooth_hz=dict(d.get("smooth_hz", {})), offset_ms=float(d.get("offset_ms", 0.0)),
                       reduce_keys=bool(d.get("reduce_keys", False)),
                       key_tolerance=float(d.get("key_tolerance", DEFAULT_TOLERANCE)))


def parse_region_values(text: str, what: str) -> dict[str, float]:
    """``"mouth=1.2,brows=0"`` -> {"mouth": 1.2, "brows": 0.0} (command line). Raises ValueError."""
    out: dict[str, float] = {}
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in REGIONS:
            raise ValueError(f"{what}: expected REGION=VALUE with REGION one of {', '.join(REGIONS)}, got {item!r}")
        try:
            out[name] = float(value)
        except ValueError:
            raise ValueError(f"{what}: {value.strip()!r} is not a number") from None
    return out
