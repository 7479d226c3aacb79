"""Blender tests fail when they (or the add-on code they run) use a Blender API that Blender has deprecated
for removal: Blender 5.x warns "'X.y' is expected to be removed in Blender 6.0" (a DeprecationWarning, which
the suite otherwise ignores). `make test` runs these tests on every Blender of its version matrix."""
from __future__ import annotations

import warnings

import pytest

DEPRECATED_FOR_REMOVAL = "expected to be removed in Blender"


@pytest.fixture(autouse=True)
def no_blender_api_deprecated_for_removal():
    # Recorded, not turned into errors: Blender's C code ignores a warning that raises and carries on with
    # the exception set, which surfaces later as an unrelated SystemError.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    used = sorted({f"{w.filename}:{w.lineno}: {w.message}" for w in caught
                   if DEPRECATED_FOR_REMOVAL in str(w.message)})
    for w in caught:  # everything else goes back to pytest's own warning handling
        if DEPRECATED_FOR_REMOVAL not in str(w.message):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    assert not used, "deprecated Blender API used:\n" + "\n".join(used)
