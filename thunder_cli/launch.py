"""Entry of the ``thunder`` console script and of ``python -m thunder_cli``.

Ctrl-C is caught from here on (from the package's first statement on with ``python -m``), before the heavy
imports (numpy, onnxruntime, Blender): a Ctrl-C during start-up only marks the run as interrupted, and the
command then stops cleanly at its first interrupt point.
"""
import signal

from . import _EARLY, INTERRUPT


def catch_ctrl_c() -> None:
    """Ctrl-C sets ``INTERRUPT`` (and one pressed while the package was imported is kept)."""
    signal.signal(signal.SIGINT, lambda signum, frame: INTERRUPT.set())
    if _EARLY:
        INTERRUPT.set()


catch_ctrl_c()


def run() -> None:
    from .cli import entry

    entry()
