"""``python -m thunder_cli`` is the ``thunder`` command."""
import sys

from .cli import main

sys.exit(main())
