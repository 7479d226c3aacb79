"""Entry of the ``thunder`` console script and of ``python -m thunder_cli``.

Ctrl-C is caught from here on, before the heavy imports (numpy, onnxruntime, Blender): a Ctrl-C during
start-up only marks the run as interrupted, and the command then stops cleanly at its first interrupt point.
"""
import signal

from . import INTERRUPT

signal.signal(signal.SIGINT, lambda signum, frame: INTERRUPT.set())


def run() -> None:
    from .cli import entry

    entry()
