"""Fixtures shared by the training-side tests."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess | None]:
    """``thunder-train all --smoke`` built once per test session: (its --out directory, the finished process).

    THUNDER_SMOKE_MODEL names an --out directory built earlier to reuse (the process is then None)."""
    given = os.environ.get("THUNDER_SMOKE_MODEL")
    if given and (Path(given) / "model.json").is_file():
        return Path(given), None
    out = tmp_path_factory.mktemp("smoke") / "models"
    res = subprocess.run([sys.executable, "-m", "thunder_train.cli", "all", "--out", str(out), "--smoke"],
                         cwd=ROOT, capture_output=True, text=True, timeout=1800)
    return out, res
