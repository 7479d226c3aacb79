"""The ``thunder`` command line: audio files in, takes out as glTF, FBX, Live Link Face CSV, JSON, .blend
and a preview PNG. Not part of the Blender extension (``build.py`` ships only ``thunder_blender``).

Modules: ``cli`` (argument parsing and the commands), ``audio_file`` (reading audio files), ``preview``
(matplotlib plot), ``headless`` (Blender through the ``bpy`` module, isolated from the user's Blender
configuration).
"""

import threading

# Ctrl-C sets this instead of raising inside whatever runs (bpy's C code, an exporter, an import): a command
# stops at its next interrupt point, cleans up and exits 130. Generation polls it as its cancel event.
INTERRUPT = threading.Event()
