"""The Generate operator: snapshot inputs on the main thread, generate on a worker, write once at the end.

``thunder.generate`` (bl_options REGISTER, UNDO):

* invoke with a window: a modal operator. A ``GenerationSession`` snapshots the audio (decoded with ``aud``),
  the target and the settings into a ``GenerateRequest``; a ``runtime.job.Job`` runs model loading and
  generation on a worker thread that only puts messages on a queue; a 0.1 s window timer drains the queue
  on the main thread and redraws the progress bar. Esc cancels: the job's event is set and nothing in the
  file has been touched. When the takes arrive they are written in a single step (one undo step).
* execute, or invoke without a window (``blender -b``, the ``bpy`` module): the same session runs
  synchronously, so scripts and tests get the same behaviour.

Bad input (no strip, silent audio, no shape keys, linked object, unreadable mapping) is reported as one
line and the operator is cancelled before any data changes.
"""
from __future__ import annotations

import json
import threading

import bpy
from bpy.props import IntProperty

# Shown by the panel while a job runs (main thread only).
STATUS: dict = {"running": False, "done": 0, "total": 0, "text": ""}
_MODEL_CACHE: dict = {}
_ACTIVE_JOBS: list = []
# Generation settings recorded on each take and passed to GenerateRequest (a re-roll reuses them).
REQUEST_KEYS = ("emotion", "intensity", "guidance", "head_motion", "mouth_temperature", "transcript",
                "transcript_language")


class UserError(ValueError):
    """A one-line, user-facing problem with the inputs."""


def _load_model(providers):
    """Model for ``providers`` (cached; loaded on the worker thread on first use)."""
    from ..runtime.model import load_model

    key = json.dumps(providers)
    if key not in _MODEL_CACHE:
        _MODEL_CACHE[key] = load_model(providers=providers)
    return _MODEL_CACHE[key]


def reroll_seed(old_seed: int, count: int) -> int:
    """Deterministic fresh seed for the ``count``-th re-roll of a take seeded ``old_seed``."""
    return (int(old_seed) * 1_000_003 + 7_919 * (int(count) + 1)) % (2**31 - 1)


def to_scene_rate(takes, scene_fps: float, n_frames: int):
    """Resample takes to the scene's frame rate (numpy only, so it runs on the worker thread)."""
    import dataclasses

    import numpy as np

    from ..core.channels import N_CHANNELS
    from ..core.resample import resample

    w = np.stack([resample(t[:, :N_CHANNELS], takes.fps, scene_fps, n_frames) for t in takes.weights])
    settings = {**(takes.settings or {}), "model_fps": float(takes.fps)}
    cues = getattr(takes, "cues", None)
    if cues is not None:  # the audio's cues follow the same frames
        cues = cues.resampled(takes.fps, scene_fps, n_frames)
    return dataclasses.replace(takes, weights=w, fps=float(scene_fps), settings=settings, cues=cues)


class GenerationSession:
    """One generation (or re-roll) from snapshot to write. Create, ``start()`` or ``run_sync()``, ``poll()``,
    then ``apply()``; ``cancel()`` at any time before ``apply`` leaves the file untouched."""

    def __init__(self, context, reroll_take: int = -1) -> None:
        from ..runtime.generate import GenerateRequest, InputError
        from ..runtime.job import Job
        from . import strips
        from .prefs import providers
        from .props import mapping_paths, shaping_from_scene, target_of
        from .rig import RigError, detect_rig
        from .takes import PROP_SETTINGS, find_takes

        scene = context.scene
        settings = scene.thunder
        self.scene_name = scene.name
        self.paths = mapping_paths(context)
        target = target_of(context)
        try:
            rig = detect_rig(target, **self.paths)
        except RigError as exc:
            raise UserError(str(exc)) from None
        self.obj_name = rig.obj.name
        self.collection_name = target.name if isinstance(target, bpy.types.Collection) else None
        self.reroll_take = reroll_take
        self.old_action_name = None
        try:
            if reroll_take >= 0:
                takes = find_takes(rig)
                if reroll_take >= len(takes):
                    raise UserError(f"'{rig.obj.name}' has no take {reroll_take + 1} to re-roll")
                old = takes[reroll_take]
                info = json.loads(old.get(PROP_SETTINGS, "{}"))
                self.old_action_name = old.name
                source = str(info.get("audio_source", ""))
                if source.startswith("strip:"):
                    strip = strips.find_strip(scene, source[len("strip:"):])
                    if strip is None:
                        raise UserError(f"the sound strip of this take ({source[6:]!r}) no longer exists")
                    clip = strips.strip_audio(scene, strip)
                elif source.startswith("file:"):
                    clip = strips.file_audio(scene, source[5:], int(info.get("start_frame", 1)))
                else:
                    raise UserError("this take has no recorded audio source; generate again instead")
                count = int(info.get("rerolls", 0)) + 1
                seed = reroll_seed(int(old["thunder_seed"]), count)
                self.settings = {k: info[k] for k in REQUEST_KEYS if k in info}
                self.settings.update(rerolls=count, audio_source=clip.source)
                request = GenerateRequest(pcm=clip.pcm, sample_rate=clip.sample_rate, n_takes=1, seed=seed,
                                          take_seeds=(seed,), **{k: self.settings[k] for k in REQUEST_KEYS
                                                                 if k in self.settings})
                self.seed = seed
            else:
                if settings.audio_source == "FILE":
                    clip = strips.file_audio(scene, settings.audio_file, settings.file_start_frame)
                else:
                    clip = strips.strip_audio(scene, strips.active_sound_strip(scene))
                from .transcript import holder, text_of

                group = holder(scene, clip.source)
                self.settings = {"emotion": settings.emotion, "intensity": float(settings.intensity),
                                 "guidance": float(settings.guidance), "head_motion": bool(settings.head_motion),
                                 "mouth_temperature": float(settings.mouth_variation),
                                 "transcript": text_of(group),
                                 "transcript_language": group.language if group is not None else "en",
                                 "n_takes": int(settings.n_takes), "audio_source": clip.source,
                                 "shaping": shaping_from_scene(settings)}
                request = GenerateRequest(pcm=clip.pcm, sample_rate=clip.sample_rate,
                                          n_takes=int(settings.n_takes), seed=int(settings.seed),
                                          **{k: self.settings[k] for k in REQUEST_KEYS})
        except (strips.AudioError, InputError) as exc:
            raise UserError(str(exc)) from None
        self.clip = clip
        self.request = request
        prov = providers(context)

        def work(progress, cancel: threading.Event):
            from ..runtime.generate import GenerationCancelled, generate

            model = _load_model(prov)
            if cancel.is_set():
                raise GenerationCancelled()
            takes = generate(request, model, progress=progress, cancel=cancel)
            return to_scene_rate(takes, clip.scene_fps, clip.n_frames)

        self.job = Job(work)
        self.result = None
        self.error = ""
        self.cancelled = False

    # -- running ------------------------------------------------------------------------------------------
    def start(self) -> None:
        STATUS.update(running=True, done=0, total=0, text=f"Generating for {self.obj_name}")
        _ACTIVE_JOBS.append(self.job)
        self.job.start()

    def run_sync(self) -> None:
        self._consume(self.job.run_sync())

    def cancel(self) -> None:
        self.job.cancel()

    def _consume(self, messages) -> None:
        for m in messages:
            if m.kind == "progress":
                STATUS.update(done=m.done, total=m.total)
            elif m.kind == "done":
                self.result = m.result
            elif m.kind == "error":
                self.error = m.error
            elif m.kind == "cancelled":
                self.cancelled = True

    def poll(self) -> bool:
        """Drain messages; True once the job has finished (done, error or cancelled)."""
        self._consume(self.job.poll())
        return self.job.finished

    def close(self) -> None:
        STATUS.update(running=False, done=0, total=0, text="")
        if self.job in _ACTIVE_JOBS:
            _ACTIVE_JOBS.remove(self.job)

    # -- writing (main thread, one data change) -----------------------------------------------------------
    def apply(self, context) -> str:
        """Write the result. Returns a report line; raises UserError if the target went away."""
        from .rig import RigError, detect_rig
        from .takes import find_takes

        if self.result is None:
            raise UserError(self.error or "generation was cancelled")
        scene = bpy.data.scenes.get(self.scene_name)
        obj = (bpy.data.collections.get(self.collection_name) if self.collection_name
               else bpy.data.objects.get(self.obj_name))
        if scene is None or obj is None:
            raise UserError("the target or scene was removed during generation; nothing was written")
        try:
            rig = detect_rig(obj, **self.paths)
        except RigError as exc:
            raise UserError(str(exc)) from None
        takes = self.result
        clip = self.clip
        from . import grid

        regrid = grid.remove_grid() > 0  # copies would play removed actions; rebuilt below
        try:
            return self._write(context, rig, takes, clip)
        finally:
            if regrid and grid.find_grid() is None and find_takes(rig):
                grid.build_grid(context, rig)

    def _write(self, context, rig, takes, clip) -> str:
        from . import transcript
        from .keyframes import replace_take, write_takes
        from .takes import find_takes

        group = transcript.holder(context.scene, clip.source)
        if takes.alignment is not None and group is not None:
            transcript.store_words(group, takes.alignment, clip.start_frame, clip.scene_fps, context.scene)
        elif self.reroll_take < 0 and group is not None:  # without a transcript the old words no longer apply
            transcript.remove_markers(context.scene, group)
            transcript.clear_words(group)

        if self.reroll_take >= 0:
            old = next((a for a in find_takes(rig) if a.name == self.old_action_name), None)
            if old is None:
                raise UserError("the take being re-rolled was removed; nothing was written")
            act = replace_take(rig, old, takes.weights[0], takes.fps, self.seed, self.settings,
                               start_frame=clip.start_frame, n_frames=clip.n_frames, scene_fps=clip.scene_fps,
                               cues=takes.cues)
            return (f"Re-rolled {act.name} (seed {self.seed}), frames {clip.start_frame}-"
                    f"{clip.start_frame + clip.n_frames - 1}" + _notes_text([act], self._input_notes(takes, clip)))
        actions = write_takes(rig.obj, takes, clip.start_frame, clip.scene_fps, mapping=rig,
                              n_frames=clip.n_frames, settings=self.settings,
                              head_motion=bool(self.settings.get("head_motion", True)))
        meshes = ", ".join(p.mesh.name for p in rig.parts)
        return (f"{len(actions)} takes on {meshes}, frames {clip.start_frame}-"
                f"{clip.start_frame + clip.n_frames - 1}" + _notes_text(actions, self._input_notes(takes, clip)))

    @staticmethod
    def _input_notes(takes, clip) -> list[str]:
        """What the user should know about the input: a muted strip, audio that does not look like speech."""
        return list(getattr(clip, "notes", ())) + list((takes.settings or {}).get("warnings", []))


def take_notes(action) -> list[str]:
    """Notes recorded on a take when it was written (skipped rotation, overridden mesh data...)."""
    from .takes import PROP_SETTINGS

    try:
        return list(json.loads(action.get(PROP_SETTINGS, "{}")).get("notes", []))
    except (TypeError, ValueError):
        return []


def _notes_text(actions, extra: list[str] = ()) -> str:
    notes = list(dict.fromkeys([*extra, *(n for a in actions for n in take_notes(a))]))
    return ("; notes: " + "; ".join(notes)) if notes else ""


def _redraw(context) -> None:
    wm = context.window_manager
    for win in wm.windows:
        for area in win.screen.areas:
            if area.type in {"VIEW_3D", "SEQUENCE_EDITOR"}:
                area.tag_redraw()


class THUNDER_OT_generate(bpy.types.Operator):
    """Generate takes of facial animation from speech for the active object"""

    bl_idname = "thunder.generate"
    bl_label = "Generate Takes"
    bl_options = {"REGISTER", "UNDO"}

    reroll_take: IntProperty(name="Re-roll Take", default=-1, min=-1, options={"SKIP_SAVE", "HIDDEN"},
                             description="Index of a take to re-roll with a fresh seed (-1: generate all)")

    _session: GenerationSession | None = None
    _timer = None

    @classmethod
    def poll(cls, context):
        if STATUS["running"]:
            cls.poll_message_set("a generation is already running (Esc cancels it)")
            return False
        return context.scene is not None

    def _make_session(self, context) -> GenerationSession | None:
        try:
            return GenerationSession(context, self.reroll_take)
        except UserError as exc:
            self.report({"ERROR"}, str(exc))
            return None

    def _finish(self, context, session: GenerationSession) -> set[str]:
        session.close()
        if session.cancelled:
            self.report({"INFO"}, "Generation cancelled; nothing changed")
            return {"CANCELLED"}
        try:
            msg = session.apply(context)
        except (UserError, ValueError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"WARNING"} if "; notes: " in msg else {"INFO"}, msg)
        return {"FINISHED"}

    def execute(self, context):
        session = self._make_session(context)
        if session is None:
            return {"CANCELLED"}
        session.run_sync()
        return self._finish(context, session)

    def invoke(self, context, event):
        if bpy.app.background or context.window is None:
            return self.execute(context)
        session = self._make_session(context)
        if session is None:
            return {"CANCELLED"}
        self._session = session
        session.start()
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def _stop_timer(self, context) -> None:
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None

    def modal(self, context, event):
        session = self._session
        try:
            if event.type == "ESC" and event.value == "PRESS":
                session.cancel()
                STATUS["text"] = "Cancelling..."
                return {"RUNNING_MODAL"}
            if event.type == "TIMER":
                finished = session.poll()
                _redraw(context)
                if finished:
                    self._stop_timer(context)
                    return self._finish(context, session)
        except Exception as exc:  # never leave a dangling timer or a 'running' status behind
            session.cancel()
            session.close()
            self._stop_timer(context)
            self.report({"ERROR"}, f"THUNDER: {type(exc).__name__}: {exc}")
            return {"CANCELLED"}
        return {"PASS_THROUGH"}

    def cancel(self, context):
        if self._session is not None:
            self._session.cancel()
            self._session.close()
        self._stop_timer(context)


def register() -> None:
    bpy.utils.register_class(THUNDER_OT_generate)


def unregister() -> None:
    for job in list(_ACTIVE_JOBS):
        job.cancel()
    STATUS.update(running=False)
    _MODEL_CACHE.clear()
    bpy.utils.unregister_class(THUNDER_OT_generate)
