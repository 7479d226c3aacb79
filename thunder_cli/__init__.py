"""The ``thunder`` command line: audio files in, takes out as glTF, FBX, Live Link Face CSV, JSON, .blend
and a preview PNG. Not part of the Blender extension (``build.py`` ships only ``thunder_blender``).

Modules: ``cli`` (argument parsing and the commands), ``audio_file`` (reading audio files), ``preview``
(matplotlib plot), ``headless`` (Blender through the ``bpy`` module, isolated from the user's Blender
configuration), ``launch`` (the program's entry).
"""
import sys

# ``python -m thunder_cli``: Python imports this package before ``__main__``, with sys.argv[0] == "-m" while it
# does. Ctrl-C is caught from here on (``launch.catch_ctrl_c``); ``_signal`` is the interpreter's own module,
# loaded before any script runs, so this reads no file. Imported as a library, the package leaves SIGINT alone.
_EARLY: list[int] = []
if sys.argv[:1] == ["-m"]:
    import _signal

    _signal.signal(_signal.SIGINT, lambda signum, frame: _EARLY.append(signum))

import threading  # noqa: E402 (after the handler, on purpose)

# Ctrl-C sets this instead of raising inside whatever runs (bpy's C code, an exporter, an import): a command
# stops at its next interrupt point, cleans up and exits 130. Generation polls it as its cancel event.
INTERRUPT = threading.Event()
