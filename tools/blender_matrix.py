"""The Blender version matrix: run the Blender tests (tests/blender, zip install test included) under
several bpy versions, each in its own venv made by the Makefile (``.venv-bpy<tag>``).

    python tools/blender_matrix.py run 44:4.4.0:3.11 53:5.3.0:3.13 ...   # what `make test-blender-matrix` runs
    python tools/blender_matrix.py find-python 3.13                       # path of a usable interpreter

Each entry is ``<venv tag>:<bpy version>:<Python line>``. An entry whose Python line has no interpreter on
this machine is skipped and reported as such; anything else that goes wrong (venv creation, a failing test,
pytest exit code 5 = no tests collected, no test passed) fails the run. Stdlib only.
"""
from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# tests/blender/conftest.py fails a test that uses a Blender API deprecated for removal.
TEST_ARGS = ["-m", "blender", "tests/blender", "-q", "-p", "no:cacheprovider"]
# One version's tests take well under a minute; a run still going after this is hung (bpy 4.x can hang in
# its exit handlers) and is killed and counted as failed rather than stalling CI.
TEST_TIMEOUT_S = 900


@dataclass(frozen=True)
class Entry:
    tag: str
    bpy: str
    python: str  # "3.11"

    @classmethod
    def parse(cls, text: str) -> "Entry":
        parts = text.split(":")
        if len(parts) != 3 or not all(parts):
            raise SystemExit(f"blender_matrix: bad entry {text!r} (want TAG:BPY_VERSION:PYTHON_LINE)")
        return cls(*parts)

    @property
    def venv(self) -> Path:
        return ROOT / f".venv-bpy{self.tag}"

    @property
    def stamp(self) -> str:
        """The Makefile target that makes this venv (its name carries the bpy version)."""
        return f".venv-bpy{self.tag}/.installed-{self.bpy}"


@dataclass
class Result:
    entry: Entry
    status: str  # "passed", "FAILED", "skipped"
    note: str = ""
    counts: dict = field(default_factory=dict)
    venv_s: float = 0.0
    test_s: float = 0.0


def _is_python(path: str, line: str) -> bool:
    """True if ``path`` runs, is Python ``line`` and can make venvs with pip."""
    try:
        res = subprocess.run([path, "-c", "import sys, venv, ensurepip; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return res.returncode == 0 and res.stdout.strip() == line


def find_python(line: str) -> str | None:
    """An interpreter for Python ``line`` ("3.13"): $PYTHON3_13, then pythonX.Y on PATH, then pyenv's
    versions, then the usual system places. None if there is none."""
    candidates = [os.environ.get("PYTHON" + line.replace(".", "_"), ""), shutil.which(f"python{line}") or ""]
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    pyenv = sorted(glob.glob(os.path.join(pyenv_root, "versions", f"{line}.*", "bin", f"python{line}")),
                   key=lambda p: [int(x) if x.isdigit() else -1 for x in Path(p).parents[1].name.split(".")],
                   reverse=True)
    candidates += pyenv + [f"/usr/local/bin/python{line}", f"/usr/bin/python{line}"]
    return next((c for c in candidates if c and os.path.exists(c) and _is_python(c, line)), None)


def _counts(junit: Path) -> dict:
    suite = ET.parse(junit).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    n = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    n["passed"] = n["tests"] - n["failures"] - n["errors"] - n["skipped"]
    return n


def _run_with_timeout(cmd: list[str], timeout_s: float) -> int | None:
    """Run ``cmd`` in ROOT in its own process group; its exit code, or None if it was killed on timeout."""
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True)
    try:
        return proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return None


def run_entry(entry: Entry, make: str) -> Result:
    python = find_python(entry.python)
    if python is None:
        return Result(entry, "skipped", f"no Python {entry.python} interpreter found")
    print(f"\n=== Blender {entry.bpy} (Python {entry.python}, {entry.venv.name})", flush=True)
    t0 = time.perf_counter()
    made = subprocess.run([make, "--no-print-directory", entry.stamp, f"PYTHON{entry.python.replace('.', '_')}={python}"],
                          cwd=ROOT)
    venv_s = time.perf_counter() - t0
    if made.returncode != 0:
        return Result(entry, "FAILED", f"could not make {entry.venv.name}", venv_s=venv_s)
    with tempfile.TemporaryDirectory(prefix="thunder-matrix-") as tmp:
        junit = Path(tmp) / "junit.xml"
        t0 = time.perf_counter()
        returncode = _run_with_timeout([str(entry.venv / "bin" / "python"), "-m", "pytest", *TEST_ARGS,
                                        f"--junitxml={junit}"], TEST_TIMEOUT_S)
        test_s = time.perf_counter() - t0
        counts = _counts(junit) if junit.is_file() else {}
    result = Result(entry, "passed", counts=counts, venv_s=venv_s, test_s=test_s)
    if returncode is None:
        result.status, result.note = "FAILED", f"pytest still running after {TEST_TIMEOUT_S} s: killed"
    elif returncode == 5:
        result.status, result.note = "FAILED", "pytest collected no tests (exit code 5)"
    elif returncode != 0:
        result.status, result.note = "FAILED", f"pytest exit code {returncode}"
    elif counts.get("passed", 0) == 0:
        result.status, result.note = "FAILED", "no test passed"
    return result


def summary(results: list[Result]) -> str:
    lines = ["", "Blender version matrix (tests/blender; bpy 4.5 LTS ran in the main suite, .venv):"]
    for r in results:
        e, c = r.entry, r.counts
        head = f"  Blender {e.bpy:<7} Python {e.python}  {r.status:<7}"
        if r.status == "skipped":
            lines.append(f"{head} {r.note}")
            continue
        tally = (f"{c.get('passed', 0)} passed, {c.get('skipped', 0)} skipped, "
                 f"{c.get('failures', 0)} failed, {c.get('errors', 0)} errors" if c else "no report")
        lines.append(f"{head} {tally}; venv {r.venv_s:.0f} s, tests {r.test_s:.0f} s"
                     + (f"  [{r.note}]" if r.note else ""))
    ran = [r.entry.bpy for r in results if r.status != "skipped"]
    skipped = [r.entry.bpy for r in results if r.status == "skipped"]
    lines.append(f"  ran: {', '.join(ran) or 'none'}; skipped (no interpreter): {', '.join(skipped) or 'none'}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "find-python":
        path = find_python(argv[1])
        if path is None:
            print(f"no Python {argv[1]} interpreter found", file=sys.stderr)
            return 1
        print(path)
        return 0
    if len(argv) >= 2 and argv[0] == "run":
        entries = [Entry.parse(a) for a in argv[1:]]
        make = os.environ.get("MAKE", "make")
        results = [run_entry(e, make) for e in entries]
        print(summary(results), flush=True)
        return 1 if any(r.status == "FAILED" for r in results) else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
