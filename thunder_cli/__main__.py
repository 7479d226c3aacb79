"""``python -m thunder_cli`` is the ``thunder`` command."""
from .launch import run

run()
