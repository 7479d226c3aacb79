"""Run generation on a worker thread: the worker only puts messages on a queue, the caller drains it.

No Blender object ever reaches the worker; the add-on snapshots its inputs into a ``GenerateRequest`` on
the main thread, starts a ``Job`` and drains ``poll()`` from a main-thread modal timer. ONNX Runtime releases
the GIL while it runs, so the UI stays responsive.

    job = Job(lambda progress, cancel: generate(request, model, progress, cancel))
    job.start()
    ...                          # every timer tick, on the main thread:
    for msg in job.poll():
        if msg.kind == "progress": show(msg.done, msg.total)
        elif msg.kind == "done":   use(msg.result)
        elif msg.kind == "error":  report(msg.error)
        elif msg.kind == "cancelled": ...
    job.cancel()                 # Esc: sets the event; the worker stops at its next check

``run_sync()`` runs the same work on the calling thread (background mode, scripts, tests) and returns the
same messages.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .generate import GenerationCancelled, InputError

Work = Callable[[Callable[[int, int], None], threading.Event], Any]


@dataclass(frozen=True)
class Message:
    """One event from the worker. kind: ``progress`` | ``done`` | ``error`` | ``cancelled``."""

    kind: str
    done: int = 0
    total: int = 0
    result: Any = None
    error: str = ""


class Job:
    """One unit of background work with progress, cancel and a final message (exactly one of
    ``done``/``error``/``cancelled``)."""

    def __init__(self, work: Work) -> None:
        self._work = work
        self._queue: queue.Queue[Message] = queue.Queue()
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self.finished = False
        self.progress = (0, 0)

    # -- worker side ------------------------------------------------------------------------------
    def _progress(self, done: int, total: int) -> None:
        self._queue.put(Message("progress", done=int(done), total=int(total)))

    def _run(self) -> None:
        try:
            result = self._work(self._progress, self._cancel)
        except GenerationCancelled:
            self._queue.put(Message("cancelled"))
        except InputError as exc:
            self._queue.put(Message("error", error=str(exc)))
        except Exception as exc:  # noqa: BLE001 - reported to the user, never raised into Blender
            self._queue.put(Message("error", error=f"{type(exc).__name__}: {exc}"))
        else:
            if self._cancel.is_set():
                self._queue.put(Message("cancelled"))
            else:
                self._queue.put(Message("done", result=result))

    # -- caller side ------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("job already started")
        self._thread = threading.Thread(target=self._run, name="thunder-generate", daemon=True)
        self._thread.start()

    def run_sync(self) -> list[Message]:
        """Run on the calling thread and return every message (last one is final)."""
        self._run()
        return self.poll()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def poll(self) -> list[Message]:
        """Drain pending messages without blocking. Marks the job finished on its final message."""
        out = []
        while True:
            try:
                msg = self._queue.get_nowait()
            except queue.Empty:
                break
            if msg.kind == "progress":
                self.progress = (msg.done, msg.total)
            else:
                self.finished = True
            out.append(msg)
        return out

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
