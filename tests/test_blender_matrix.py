"""tools/blender_matrix.py without Blender: entries, interpreter discovery, junit counts, exit statuses."""
from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from tests.conftest import ROOT

spec = importlib.util.spec_from_file_location("blender_matrix", ROOT / "tools" / "blender_matrix.py")
bm = importlib.util.module_from_spec(spec)
sys.modules.setdefault("blender_matrix", bm)  # dataclasses look their module up there
spec.loader.exec_module(bm)


def test_entries_name_their_venv_and_make_target():
    e = bm.Entry.parse("53:5.3.0:3.13")
    assert (e.tag, e.bpy, e.python) == ("53", "5.3.0", "3.13")
    assert e.venv == ROOT / ".venv-bpy53" and e.stamp == ".venv-bpy53/.installed-5.3.0"
    with pytest.raises(SystemExit, match="bad entry"):
        bm.Entry.parse("53:5.3.0")


def test_every_matrix_entry_has_a_make_rule_and_a_requirements_file():
    line = next(ln for ln in (ROOT / "Makefile").read_text().splitlines() if ln.startswith("BLENDER_MATRIX :="))
    entries = [bm.Entry.parse(a) for a in line.split(":=", 1)[1].split()]
    for e in entries:
        assert (ROOT / f"requirements-blender-py{e.python.replace('.', '')}.txt").is_file()
        res = subprocess.run(["make", "-n", "-B", e.stamp, f"PYTHON{e.python.replace('.', '_')}=/usr/bin/true"],
                             cwd=ROOT, capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        assert f"bpy=={e.bpy}" in res.stdout and f".venv-bpy{e.tag}" in res.stdout


def test_find_python_checks_the_version_line():
    here = "%d.%d" % sys.version_info[:2]
    found = bm.find_python(here)
    assert found is not None and bm._is_python(found, here)
    assert bm.find_python("2.1") is None


def test_junit_counts_and_summary(tmp_path):
    junit = tmp_path / "j.xml"
    junit.write_text('<testsuites><testsuite name="pytest" tests="43" failures="1" errors="0" skipped="2">'
                     "</testsuite></testsuites>")
    counts = bm._counts(junit)
    assert counts == {"tests": 43, "failures": 1, "errors": 0, "skipped": 2, "passed": 40}
    ran = bm.Result(bm.Entry.parse("44:4.4.0:3.11"), "FAILED", "pytest exit code 1", counts, 30.0, 12.0)
    missing = bm.Result(bm.Entry.parse("53:5.3.0:3.13"), "skipped", "no Python 3.13 interpreter found")
    text = bm.summary([ran, missing])
    assert "Blender 4.4.0" in text and "40 passed, 2 skipped, 1 failed" in text
    assert "ran: 4.4.0; skipped (no interpreter): 5.3.0" in text


def test_run_fails_when_pytest_collects_nothing(tmp_path, monkeypatch):
    """Exit code 5 (no tests) is a failure, as is a run where nothing passed."""
    fake = tmp_path / "venv"
    (fake / "bin").mkdir(parents=True)
    py = fake / "bin" / "python"
    py.write_text("#!/bin/sh\nexit 5\n")
    py.chmod(0o755)
    monkeypatch.setattr(bm.Entry, "venv", property(lambda self: fake))
    monkeypatch.setattr(bm, "find_python", lambda line: sys.executable)
    result = bm.run_entry(bm.Entry.parse("44:4.4.0:3.11"), "true")  # `true` stands in for make
    assert result.status == "FAILED" and "exit code 5" in result.note
    py.write_text("#!/bin/sh\nexit 0\n")
    result = bm.run_entry(bm.Entry.parse("44:4.4.0:3.11"), "true")
    assert result.status == "FAILED" and result.note == "no test passed"


def test_run_exit_status(monkeypatch):
    outcomes = iter(["passed", "skipped"])
    monkeypatch.setattr(bm, "run_entry", lambda e, make: bm.Result(e, next(outcomes), "", {"passed": 1}))
    assert bm.main(["run", "44:4.4.0:3.11", "53:5.3.0:3.13"]) == 0
    monkeypatch.setattr(bm, "run_entry", lambda e, make: bm.Result(e, "FAILED", "pytest exit code 1"))
    assert bm.main(["run", "44:4.4.0:3.11"]) == 1


def test_a_hung_run_is_killed_and_counted_as_failed(tmp_path, monkeypatch):
    fake = tmp_path / "venv"
    (fake / "bin").mkdir(parents=True)
    py = fake / "bin" / "python"
    py.write_text("#!/bin/sh\nsleep 60\n")
    py.chmod(0o755)
    monkeypatch.setattr(bm.Entry, "venv", property(lambda self: fake))
    monkeypatch.setattr(bm, "find_python", lambda line: sys.executable)
    monkeypatch.setattr(bm, "TEST_TIMEOUT_S", 1)
    result = bm.run_entry(bm.Entry.parse("44:4.4.0:3.11"), "true")
    assert result.status == "FAILED" and "killed" in result.note
