"""A stand-in for ``bpy.types.UILayout`` that accepts only what the real one accepts.

``draw`` code can't be run on a real UILayout headless (there is no window), so panel tests draw into a
``RecordingLayout``. Unlike a MagicMock it checks every call against Blender's own RNA description of
UILayout: an unknown method, an unknown keyword (a misspelt ``txt=``), a missing required argument or an
unknown attribute fails the test the way it would fail in Blender. Calls are recorded in order.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import bpy

_RNA = bpy.types.UILayout.bl_rna
# layout methods that return a sub-layout
_CONTAINERS = {"row", "column", "box", "split", "column_flow", "grid_flow", "menu_pie", "panel", "panel_prop"}


@dataclass
class Call:
    method: str
    args: tuple
    kwargs: dict


@dataclass
class RecordingLayout:
    calls: list[Call] = field(default_factory=list)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        fn = _RNA.functions.get(name)
        if fn is None:
            raise AttributeError(f"UILayout has no method {name!r}")
        params = [p for p in fn.parameters if not p.is_output]
        names = [p.identifier for p in params]
        required = [p.identifier for p in params if p.is_required]

        def call(*args, **kwargs):
            if len(args) > len(names):
                raise TypeError(f"UILayout.{name}() takes at most {len(names)} positional arguments")
            unknown = set(kwargs) - set(names)
            if unknown:
                raise TypeError(f"UILayout.{name}() got unexpected keyword(s) {sorted(unknown)}")
            given = set(names[: len(args)]) | set(kwargs)
            missing = [r for r in required if r not in given]
            if missing:
                raise TypeError(f"UILayout.{name}() missing required {missing}")
            self.calls.append(Call(name, args, kwargs))
            if name in _CONTAINERS:
                sub = RecordingLayout(self.calls)
                return (sub, sub) if name == "panel" or name == "panel_prop" else sub
            return _Item() if name in ("operator", "prop") else None

        return call

    def __setattr__(self, name: str, value) -> None:
        if name != "calls" and name not in _RNA.properties:
            raise AttributeError(f"UILayout has no property {name!r}")
        object.__setattr__(self, name, value)

    # -------------------------------------------------------------- queries for the tests
    def texts(self) -> list[str]:
        """Every ``text=`` shown, in draw order."""
        return [str(c.kwargs["text"]) for c in self.calls if "text" in c.kwargs]

    def called(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]


class _Item:
    """What ``operator()`` returns: operator properties may be set on it."""

    def __setattr__(self, name: str, value) -> None:
        object.__setattr__(self, name, value)
