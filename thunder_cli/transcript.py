"""Transcripts for ``thunder generate``: ``--text``, ``--transcript FILE`` and, in batches, ``<stem>.txt`` beside
each audio file. Every problem is one line (``TranscriptError``)."""
from __future__ import annotations

from pathlib import Path

from thunder_blender.runtime.generate import MAX_TRANSCRIPT_CHARS

MAX_FILE_BYTES = 4 * MAX_TRANSCRIPT_CHARS  # UTF-8 is at most 4 bytes a character


class TranscriptError(ValueError):
    """A user-facing one-line error about a transcript."""


def read_transcript(path: str | Path) -> str:
    """The text of a UTF-8 transcript file (a UTF-8 byte-order mark is dropped)."""
    p = Path(path)
    if not p.is_file():
        raise TranscriptError(f"transcript not found: {p}")
    size = p.stat().st_size
    if size > MAX_FILE_BYTES:
        raise TranscriptError(f"transcript {p.name} is {size / 1e6:.1f} MB; a transcript is the text of one clip "
                              f"(at most {MAX_TRANSCRIPT_CHARS} characters)")
    try:
        data = p.read_bytes()
    except OSError as err:
        raise TranscriptError(f"cannot read transcript {p}: {err.strerror or err}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise TranscriptError(f"transcript {p.name} is not UTF-8 text (byte {err.start}); save it as UTF-8") from None
    if "\0" in text:
        raise TranscriptError(f"transcript {p.name} is not a text file")
    if not text.strip():
        raise TranscriptError(f"transcript {p.name} is empty")
    if len(text) > MAX_TRANSCRIPT_CHARS:
        raise TranscriptError(f"transcript {p.name} has {len(text)} characters; at most {MAX_TRANSCRIPT_CHARS}")
    return text


def sidecar(audio: str | Path) -> Path | None:
    """``<stem>.txt`` beside ``audio`` (or ``.TXT``), if there is one."""
    a = Path(audio)
    for ext in (".txt", ".TXT"):
        p = a.with_suffix(ext)
        if p.is_file():
            return p
    return None


def transcripts(audio: list[str], text: str | None, transcript: str | None) -> list[tuple[str | None, str]]:
    """Per audio file: (transcript or None, where it came from: ``--text``, the file name, or "")."""
    if text is not None and transcript is not None:
        raise TranscriptError("give either --text or --transcript, not both")
    if (text is not None or transcript is not None) and len(audio) > 1:
        raise TranscriptError("--text and --transcript apply to one audio file; for several, put a .txt with "
                              "the same name beside each audio file")
    if text is not None:
        if not text.strip():
            raise TranscriptError("--text is empty")
        return [(text, "--text")]
    if transcript is not None:
        return [(read_transcript(transcript), Path(transcript).name)]
    out: list[tuple[str | None, str]] = []
    for a in audio:
        p = sidecar(a)
        out.append((read_transcript(p), p.name) if p is not None else (None, ""))
    return out
