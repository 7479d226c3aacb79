"""``thunder``: generate facial-animation takes from speech without Blender's UI.

    thunder generate speech.wav [more.wav ...] --takes 4 --target demo --out out --format glb,fbx,csv,json,png
    thunder convert take1.csv take2.csv --target rig.blend --format glb,fbx   # Live Link Face CSVs
    thunder info                  # model card, onnxruntime providers, GPU
    thunder mapping rig.blend     # which model channel drives each shape key

See docs/CLI.md for the output formats and their timing conventions.

Uses the same runtime as the add-on. Blender formats (blend, glb, fbx) and targets run headless Blender
through the bpy module, imported only when needed. Outputs are written into a hidden staging directory next
to the destination and moved in place at the end: a failure or Ctrl-C leaves nothing partial.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from thunder_blender import __version__
from thunder_blender.core.channels import EMOTIONS
from thunder_blender.core.pronounce import LANGUAGES

from . import INTERRUPT as _INTERRUPT

FORMATS = ("glb", "fbx", "blend", "csv", "json", "png")
BLENDER_FORMATS = {"glb", "fbx", "blend"}
DEFAULT_FORMATS = "glb,csv,json,png"
# .blend and FBX need Blender to key every frame of every take (a .blend holds all takes at once, and the FBX
# exporter samples frame by frame); past this its memory passes 2 GB. glb and the numpy formats (csv, json,
# png) take up to runtime.generate.MAX_SECONDS: longer glTF takes are written one at a time
# (headless.STREAM_SECONDS).
BLENDER_MAX_SECONDS = 600.0
LONG_LIMITED_FORMATS = {"fbx", "blend"}


MAX_NAME_BYTES = 200  # output stems; file systems allow 255 bytes per name, suffixes need the rest



class CliError(Exception):
    """A user-facing one-line error."""


def _on_sigint(signum, frame) -> None:  # noqa: ARG001 (signal handler signature)
    _INTERRUPT.set()


def _interrupt_point() -> None:
    """Stop here (KeyboardInterrupt) if Ctrl-C was pressed since the command started."""
    if _INTERRUPT.is_set():
        raise KeyboardInterrupt


class ProgressBar:
    """``generating [########------------] 3/8`` on stderr, redrawn in place on a terminal; when stderr is
    a file or pipe (``live=False``) only the finished bar is written, so logs stay one line per step."""

    def __init__(self, label: str, stream=None, width: int = 28, live: bool | None = None) -> None:
        self.label, self.stream, self.width, self.shown = label, stream or sys.stderr, width, False
        self.live = self.stream.isatty() if live is None else live

    def __call__(self, done: int, total: int) -> None:
        total = max(total, 1)
        if not self.live and done < total:
            return
        fill = int(self.width * min(done, total) / total)
        self.stream.write(f"\r{self.label} [{'#' * fill}{'-' * (self.width - fill)}] {done}/{total}")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


def _formats(text: str) -> list[str]:
    items = [f.strip().lower() for f in text.split(",") if f.strip()]
    bad = [f for f in items if f not in FORMATS]
    if bad or not items:
        raise CliError(f"unknown format {', '.join(bad) or text!r}; choose from {','.join(FORMATS)}")
    return list(dict.fromkeys(items))


def _check_args(args: argparse.Namespace) -> list[str]:
    formats = _formats(args.format)
    if args.emotion not in EMOTIONS:
        raise CliError(f"unknown emotion {args.emotion!r}; choose one of {', '.join(EMOTIONS)}")
    if args.fps is not None and not 1.0 <= args.fps <= 240.0:
        raise CliError(f"--fps must be between 1 and 240, got {args.fps}")
    if not args.name or any(c in args.name for c in "/\\:\0") or args.name.startswith("."):
        raise CliError(f"--name must be a plain file name stem, got {args.name!r}")
    if len(args.name.encode()) > MAX_NAME_BYTES:
        raise CliError(f"--name is too long ({len(args.name.encode())} bytes; at most {MAX_NAME_BYTES})")
    if getattr(args, "seed", 0) < 0:
        raise CliError(f"--seed must be 0 or more, got {args.seed}")
    n_takes = args.takes if hasattr(args, "takes") else len(args.csv)
    for f in _planned_outputs(formats, args.name, n_takes):
        dest = Path(args.out) / f
        if dest.is_dir() or (dest.exists() and not dest.is_file()):
            raise CliError(f"cannot write {dest}: a directory or special file of that name is in the way")
    if BLENDER_FORMATS & set(formats):
        from .headless import TargetError, check_target

        try:
            check_target(args.target)
        except TargetError as err:
            raise CliError(str(err)) from None
        if "blend" in formats and args.target != "demo":
            dest = Path(args.out, f"{args.name}.blend").resolve()
            if dest == Path(args.target).resolve():
                raise CliError(f"refusing to overwrite the target {args.target}; choose another --name or --out")
    return formats


def _planned_outputs(formats: list[str], name: str, n_takes: int) -> list[str]:
    """File names a run writes for ``formats`` (docs/CLI.md, "Outputs")."""
    per_take = [f"{name}_take_{k + 1}.{ext}" for ext in ("csv", "fbx") if ext in formats for k in range(n_takes)]
    return [f"{name}.{ext}" for ext in ("json", "png", "glb", "blend") if ext in formats] + per_take


def _make_staging(out: Path) -> tuple[Path, list[Path]]:
    """Create ``out`` (and missing parents) if needed and a hidden staging dir inside it.

    Returns (staging, the directories created here, deepest last)."""
    if out.exists() and not out.is_dir():
        raise CliError(f"output path exists and is not a directory: {out}")
    created = [d for d in (out, *out.parents) if not d.exists()][::-1]
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CliError(f"cannot create output directory {out}: {err.strerror or err}") from None
    try:
        staging = Path(tempfile.mkdtemp(prefix=".thunder-partial-", dir=out))
    except OSError as err:
        _remove_if_empty(created)
        raise CliError(f"output directory is not writable: {out} ({err.strerror or err})") from None
    return staging, created


def _remove_if_empty(dirs: list[Path]) -> None:
    """Remove directories this run created, deepest first, only while they are empty (another run, or the
    user, may have put files there meanwhile)."""
    for d in reversed(dirs):
        try:
            d.rmdir()
        except OSError:
            return


def _model_meta(model) -> dict:
    """Scalar fields of the model card (name, version, fps, ...), for the JSON output."""
    return {k: v for k, v in model.card.to_dict().items() if isinstance(v, (str, int, float, bool))}


def _write_numpy_formats(staging: Path, formats: list[str], name: str, takes, audio: tuple | None,
                         audio_label: str, meta: dict, csv_fps: float | None) -> list[Path]:
    """json / csv / png outputs of ``takes`` into ``staging``.

    audio: (pcm, rate) or None; audio_label: the audio's file name (titles, JSON); meta: the JSON's
    ``model`` entry; the JSON's settings are ``takes.settings``.
    """
    from thunder_blender.core import livelink, takes_json
    from thunder_blender.core.resample import resample

    pcm, rate = audio if audio is not None else (None, 0)
    out: list[Path] = []
    if "json" in formats:
        out.append(staging / f"{name}.json")
        takes_json.write(out[-1], takes.weights, takes.fps, takes.seeds, model=meta,
                         audio={} if pcm is None else {"file": audio_label, "sample_rate": rate,
                                                        "duration": round(len(pcm) / rate, 4)},
                         settings=_with_words(takes))
    if "csv" in formats:
        fps = csv_fps or 30.0
        for k, w in enumerate(takes.weights):
            out.append(staging / f"{name}_take_{k + 1}.csv")
            livelink.write_csv(out[-1], resample(w, takes.fps, fps), fps)
    if "png" in formats:
        from . import preview

        out.append(staging / f"{name}.png")
        emotion = takes.settings.get("emotion")
        preview.render(out[-1], takes.weights, takes.fps, takes.seeds, pcm, rate or 16000,
                       title=f"{audio_label}: {len(takes.seeds)} takes"
                             + (f" (emotion {emotion}, seed {takes.settings.get('seed')})" if emotion else ""),
                       words=None if takes.alignment is None else takes.alignment.to_dict()["words"])
    return out


def _staged_write(out_dir: Path, produce) -> list[Path]:
    """Run ``produce(staging) -> [files]`` in a hidden staging dir inside ``out_dir``, then move the files
    into ``out_dir`` as one step.

    Destinations are checked before anything moves (an existing directory of the same name is an error).
    Files of earlier runs that get replaced are kept aside until every new file is in place; on any
    failure (or Ctrl-C) they are put back, the new files removed, and only the staging dir and the
    directories this run created (when empty) are deleted: nothing partial is left, no other file is lost.
    """
    staging, created = _make_staging(out_dir)
    placed: list[tuple[Path, Path | None]] = []   # (destination, previous version kept aside)
    try:
        files = produce(staging)
        _interrupt_point()
        for f in files:
            dest = out_dir / f.name
            if dest.is_dir() or (dest.exists() and not dest.is_file()):
                raise CliError(f"cannot write {dest}: a directory or special file of that name is in the way")
        aside = staging / ".previous"
        aside.mkdir()
        for f in files:
            dest = out_dir / f.name
            old = aside / f.name if dest.exists() else None
            placed.append((dest, old))
            if old is not None:
                os.replace(dest, old)
            os.replace(f, dest)
    except BaseException:
        for dest, old in reversed(placed):
            _restore(dest, old)
        shutil.rmtree(staging, ignore_errors=True)
        _remove_if_empty(created)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return [d for d, _ in placed]


def _restore(dest: Path, old: Path | None) -> None:
    """Undo one placement: the new file goes, the previous version (if any) comes back."""
    if old is not None and old.exists():
        os.replace(old, dest)
    elif old is None:
        dest.unlink(missing_ok=True)


def _blender_job(args, formats: list[str], audio):
    """Open the target now (a bad target fails before generation). None when no Blender format is wanted."""
    if not BLENDER_FORMATS & set(formats):
        return None
    from .headless import BlenderJob, RigError, TargetError, prepare

    print("opening the target in Blender ...", file=sys.stderr)
    # The speech goes on the sequencer of the .blend only (glTF and FBX carry no sound).
    audio = audio if "blend" in formats else None
    job = BlenderJob(args.target, args.name, BLENDER_FORMATS & set(formats), args.fps, audio,
                     audio_name=Path(args.audio).name if audio is not None and args.audio else None,
                     shaping=getattr(args, "shaping", None))
    try:
        prepare(job)
    except (TargetError, RigError) as err:
        raise CliError(str(err)) from None
    return job


def _blender_outputs(staging: Path, job, takes) -> list[Path]:
    if job is None:
        return []
    from .headless import TargetError, write_outputs

    print("writing Blender formats ...", file=sys.stderr)
    try:
        return write_outputs(job, takes, staging)
    except TargetError as err:
        raise CliError(str(err)) from None


def _summary(what: str, t0: float, out_dir: Path, written: list[Path]) -> None:
    print(f"{what}; total {time.perf_counter() - t0:.1f} s. Wrote {len(written)} files to {out_dir}:")
    for f in written:
        print(f"  {f}  ({f.stat().st_size / 1024:.0f} KB)")


def _names(args: argparse.Namespace) -> list[str]:
    """Output stems: --name for one audio file; for several, each file's stem (prefixed by an explicit
    --name)."""
    if len(args.audio) == 1:
        return [args.name or "takes"]
    names = [f"{args.name}_{Path(a).stem}" if args.name else Path(a).stem for a in args.audio]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise CliError(f"several audio files would write the same outputs ({', '.join(dupes)}); rename them")
    return names


def _shaping(args: argparse.Namespace):
    """The write-time controls from the command line (``core.shaping.Shaping``). Raises CliError."""
    from thunder_blender.core.shaping import Shaping, parse_region_values

    try:
        return Shaping(strength=parse_region_values(args.strength, "--strength"), mouth_only=args.mouth_only,
                       smooth_hz=parse_region_values(args.smooth, "--smooth"), offset_ms=args.offset_ms,
                       reduce_keys=args.reduce_keys, key_tolerance=args.key_tolerance)
    except ValueError as err:
        raise CliError(str(err)) from None


def _shaped(takes, shaping):
    """Takes with strength and smoothing applied at the model rate (for the CSV, JSON and PNG outputs)."""
    import dataclasses

    import numpy as np

    w = np.stack([shaping.shape(t, takes.fps) for t in takes.weights])
    return dataclasses.replace(takes, weights=w, settings={**takes.settings, "shaping": shaping.to_dict()})


def _alignment_summary(takes) -> str:
    """``; transcript: 17/18 words aligned in 0.02 s`` (empty without a transcript)."""
    al = takes.settings.get("alignment")
    if not al:
        return ""
    return f"; transcript: {al['n_used']}/{al['n_words']} words aligned in {al['seconds']:.2f} s"


def _with_words(takes) -> dict:
    """The JSON's settings: the takes' settings, with the aligned words when there was a transcript."""
    if takes.alignment is None:
        return takes.settings
    return {**takes.settings, "alignment": {**takes.settings.get("alignment", {}), **takes.alignment.to_dict()}}


def cmd_generate(args: argparse.Namespace) -> int:
    """One or more speech files -> takes. Every input is read and checked before anything is generated;
    all outputs of the run appear together at the end, or none."""
    from thunder_blender.runtime.generate import (
        MAX_SECONDS,
        GenerateRequest,
        InputError,
        format_duration,
        generate,
        prepare_audio,
    )
    from thunder_blender.runtime.model import load_model

    from .audio_file import read_audio
    from .transcript import TranscriptError, transcripts

    names = _names(args)
    args.shaping = _shaping(args)
    try:
        texts = [(None, "")] * len(args.audio) if args.no_transcript else \
            transcripts(args.audio, args.text, args.transcript)
    except TranscriptError as err:
        raise CliError(str(err)) from None
    jobs = []
    for audio, name, (text, text_from) in zip(args.audio, names, texts, strict=True):
        one = argparse.Namespace(**{**vars(args), "audio": audio, "name": name})
        formats = _check_args(one)
        pcm, rate = read_audio(audio, max_seconds=MAX_SECONDS)
        _interrupt_point()
        if LONG_LIMITED_FORMATS & set(formats) and len(pcm) / rate > BLENDER_MAX_SECONDS:
            raise CliError(f"{Path(audio).name}: {format_duration(len(pcm) / rate)} is too long for fbx and "
                           f"blend (at most {format_duration(BLENDER_MAX_SECONDS)}); "
                           "use --format glb,csv,json,png or split the audio")
        try:
            prepare_audio(pcm, rate)  # silence, length, invalid samples: refused before anything runs
            request = GenerateRequest(pcm=pcm, sample_rate=rate, n_takes=args.takes, seed=args.seed,
                                      emotion=args.emotion, intensity=args.intensity, guidance=args.guidance,
                                      head_motion=not args.no_head, mouth_temperature=args.mouth_variation,
                                      transcript=text, transcript_language=args.language)
        except InputError as err:
            raise CliError(f"{Path(audio).name}: {err}") from None
        if text_from and text_from != "--text" and not args.transcript:
            print(f"{Path(audio).name}: using the transcript {text_from} beside it (--no-transcript to ignore it)",
                  file=sys.stderr)
        jobs.append((one, request, pcm, rate))
    pcm = request = None  # held by ``jobs`` only, which lets go of each once it is written
    out_dir = Path(args.out)
    t0 = time.perf_counter()
    report: list[str] = []

    def produce(staging: Path) -> list[Path]:
        model = load_model(args.model)
        files: list[Path] = []
        single = len(jobs) == 1
        while jobs:  # each job's audio and request are let go once written (an hour of audio is 230 MB)
            one, request, pcm, rate = jobs.pop(0)
            job = _blender_job(one, formats, (pcm, rate))
            _interrupt_point()
            label = "generating" if single else f"{Path(one.audio).name}"
            bar = ProgressBar(label)
            t_gen = time.perf_counter()
            try:
                takes = generate(request, model, progress=bar, cancel=_INTERRUPT)
            except InputError as err:
                raise CliError(f"{Path(one.audio).name}: {err}") from None
            finally:
                bar.close()
            del request
            for warning in takes.settings.get("warnings", []):
                print(f"thunder: warning: {Path(one.audio).name}: {warning}", file=sys.stderr)
            report.append(f"{Path(one.audio).name}: {len(takes.seeds)} takes of {takes.duration:.2f} s "
                          f"(seeds {', '.join(map(str, takes.seeds))}), generated in "
                          f"{time.perf_counter() - t_gen:.1f} s" + _alignment_summary(takes))
            takes.settings.update(seed=args.seed, audio=Path(one.audio).name)
            files += _write_numpy_formats(staging, formats, one.name, _shaped(takes, args.shaping), (pcm, rate),
                                          Path(one.audio).name, _model_meta(model), one.fps)
            del pcm
            _interrupt_point()
            files += _blender_outputs(staging, job, takes)
            _interrupt_point()
        return files

    written = _staged_write(out_dir, produce)
    for line in report[:-1]:
        print(line)
    _summary(report[-1], t0, out_dir, written)
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    """Live Link Face CSVs (one take each) -> the same outputs as ``generate``, on any target."""
    import numpy as np

    from thunder_blender.core.channels import N_CHANNELS
    from thunder_blender.core.livelink import LiveLinkFormatError, read_take
    from thunder_blender.runtime.generate import Takes

    from .audio_file import read_audio

    args.emotion, args.seed = "auto", 0
    formats = _check_args(args)
    if "csv" in formats:
        raise CliError("convert reads CSVs; choose output formats from glb,fbx,blend,json,png")
    if args.csv_fps is not None and not 1.0 <= args.csv_fps <= 240.0:  # also refuses nan
        raise CliError(f"--csv-fps must be between 1 and 240, got {args.csv_fps}")
    if args.timecode_base is not None and not 1 <= args.timecode_base <= 240:
        raise CliError(f"--timecode-base must be between 1 and 240, got {args.timecode_base}")
    perfs, fps = [], None
    for path in args.csv:
        if not Path(path).is_file():
            raise CliError(f"CSV file not found: {path}")
        try:
            take = read_take(path, fps=args.csv_fps, timecode_base=args.timecode_base)
        except LiveLinkFormatError as err:
            raise CliError(str(err)) from None
        if take.dropped:
            print(f"{Path(path).name}: filled {take.dropped} dropped-tracking frame"
                  f"{'s' if take.dropped > 1 else ''} by interpolation", file=sys.stderr)
        fps = fps or take.fps
        # Resample onto a uniform grid (recordings can skip frames); time 0 = first row.
        times = take.times
        grid = np.arange(int(np.floor(times[-1] * fps + 1e-6)) + 1) / fps
        perfs.append(np.stack([np.interp(grid, times, take.perf[:, c]) for c in range(N_CHANNELS)], 1))
    n = max(len(p) for p in perfs)
    weights = np.stack([np.pad(p, ((0, n - len(p)), (0, 0)), mode="edge") for p in perfs]).astype(np.float32)
    takes = Takes(weights=weights, fps=float(fps), seeds=tuple(0 for _ in perfs),
                  settings={"source": "Live Link Face CSV", "files": [Path(p).name for p in args.csv]})
    audio = read_audio(args.audio) if args.audio else None
    t0 = time.perf_counter()

    def produce(staging: Path) -> list[Path]:
        job = _blender_job(args, formats, audio)
        label = Path(args.audio or args.csv[0]).name
        return (_write_numpy_formats(staging, formats, args.name, takes, audio, label,
                                     {"name": "Live Link Face CSV"}, args.fps)
                + _blender_outputs(staging, job, takes))

    written = _staged_write(Path(args.out), produce)
    _summary(f"{len(perfs)} takes from CSV at {fps:g} fps", t0, Path(args.out), written)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from thunder_blender.runtime.model import import_onnxruntime, load_model

    ort = import_onnxruntime()

    print(f"thunder {__version__}")
    try:
        model = load_model(args.model)
        meta = {**_model_meta(model), "directory": str(getattr(model, "directory", "")),
                "providers in use": ", ".join(getattr(model, "providers", []))}
        print("model:")
        for k, v in meta.items():
            if not isinstance(v, (dict, list)):
                print(f"  {k}: {v}")
    except Exception as err:  # noqa: BLE001 - info must still report the rest
        print(f"model: not available ({str(err).splitlines()[0] if str(err) else type(err).__name__})")
    providers = ort.get_available_providers()
    print(f"onnxruntime {ort.__version__}; providers: {', '.join(providers)}")
    gpus = [p for p in providers if p not in ("CPUExecutionProvider", "AzureExecutionProvider")]
    smi = shutil.which("nvidia-smi")
    if smi:
        import subprocess

        res = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20)
        if res.returncode == 0 and res.stdout.strip():
            gpus.append(res.stdout.strip().splitlines()[0])
    print(f"GPU: {'; '.join(gpus)}" if gpus else "GPU: none detected (running on CPU)")
    return 0


def cmd_mapping(args: argparse.Namespace) -> int:
    """How the add-on would drive this rig: the same rig detection (``blender.rig.detect_rig``) and the same
    table as the panel's mapping list (``RigTarget.table``), edits saved on the mesh included."""
    from .headless import RigError, TargetError, check_target, detect_rig, load_target, stdout_to_stderr

    try:
        check_target(args.file)
        with stdout_to_stderr():
            rig = detect_rig(load_target(args.file, "Face"))
    except (TargetError, RigError) as err:
        raise CliError(str(err)) from None
    mapping = rig.mapping
    n_keys = len(rig.key.key_blocks) - 1
    print(f"{Path(args.file).name}: object {rig.mesh.name!r}, {n_keys} shape keys, rig type {rig.kind}")
    for line in rig.summary_lines():
        print(f"  {line}")
    print(f"  {'target':<28}    {'driven by (gain*channel)':<40} {'origin':<10} state")
    for target, driver, origin, state in rig.table():
        print(f"  {target:<28} <- {driver or '-':<40} {origin:<10} {state}")
    if mapping.unmatched:
        print(f"  not driven: {', '.join(mapping.unmatched)}")
    return 0


def cmd_flame_map(args: argparse.Namespace) -> int:
    """Fit an ARKit->FLAME map on the user's FLAME rig (``core.flame_fit``) and write it as JSON."""
    import json

    from thunder_blender.core.channels import ARKIT_52
    from thunder_blender.core.flame_fit import FitError, fit_flame_map, load_embedding
    from thunder_blender.core.head import load_demo_head

    from .headless import RigError, TargetError, check_target, detect_rig, load_target, stdout_to_stderr

    out = Path(args.out)
    if not out.parent.is_dir():
        raise CliError(f"output folder {out.parent} does not exist")
    try:
        emb = load_embedding(args.landmarks)
        check_target(args.rig)
        with stdout_to_stderr():
            from thunder_blender.blender.flame_rig import read_flame_rig

            rig = detect_rig(load_target(args.rig, "Face"))
            if rig.flame is None:
                raise CliError(f"{Path(args.rig).name}: no FLAME rig found (a mesh with Exp* shape keys under an "
                               "armature with a jaw bone)")
            data = read_flame_rig(rig)
        head = load_demo_head()
        fit = fit_flame_map(head.vertices, head.deltas, data.vertices, data.faces, data.exp_deltas, data.exp_names,
                            data.jaw_columns, emb, ridge=args.ridge)
    except (TargetError, RigError, FitError) as err:
        raise CliError(str(err)) from None
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(json.dumps(fit.to_json(), indent=1) + "\n", encoding="utf-8")
    tmp.replace(out)
    print(f"{Path(args.rig).name}: {len(data.exp_names)} Exp keys, jaw bone {rig.jaw_bone!r}, "
          f"{len(emb.face_idx)} landmarks, similarity scale {fit.scale:.4g}")
    print(f"jaw: open {fit.jaw_open:.4f} rad, lateral {fit.jaw_lateral:.4f} rad per unit channel")
    print("relative residual per ARKit shape (landmark displacement not explained by the fit):")
    for name, r in zip(ARKIT_52, fit.residual, strict=True):
        print(f"  {name:<22} {'no landmark motion' if r != r else f'{r:.3f}'}")
    if fit.clipped:
        print(f"note: {fit.clipped} weights clipped to +-10")
    print(f"wrote {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="thunder", description="Generate facial-animation takes (ARKit-52 shape "
                                 "keys + head rotation) from speech, without Blender's UI. See docs/CLI.md.")
    ap.add_argument("--version", action="version", version=f"thunder {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="speech file -> animation takes")
    g.add_argument("audio", nargs="+",
                   help="speech file(s) (WAV; other formats through ffmpeg or Blender). With several files, "
                        "each one's outputs are named after it")
    g.add_argument("--takes", type=int, default=4, help="number of takes (default 4)")
    g.add_argument("--seed", type=int, default=0, help="run seed; each take's seed derives from it (default 0)")
    g.add_argument("--emotion", default="auto", help=f"one of {', '.join(EMOTIONS)}")
    g.add_argument("--intensity", type=float, default=0.5, help="emotion intensity 0..1 (default 0.5)")
    g.add_argument("--guidance", type=float, default=1.0, help="emotion guidance scale (default 1.0)")
    g.add_argument("--no-head", action="store_true", help="no head rotation")
    g.add_argument("--mouth-variation", type=float, default=None,
                   help="0..1: how much the mouth may differ between takes (default: the model's, 0 for the "
                        "shipped model: the mouth follows the audio, the takes differ in the upper face)")
    g.add_argument("--strength", default="", metavar="REGION=S,...",
                   help="strength per region, 0..2 (0: at rest, 2: doubled), regions mouth, cheeks, brows, eyes, "
                        "head; e.g. brows=0.5,head=1.5 (default 1)")
    g.add_argument("--mouth-only", action="store_true", help="animate the jaw and mouth only (the rest at rest)")
    g.add_argument("--smooth", default="", metavar="REGION=HZ,...",
                   help="zero-phase smoothing per region, cut-off in Hz (lip closures are kept); e.g. head=2")
    g.add_argument("--offset-ms", type=float, default=0.0,
                   help="move every key by this many ms (negative: the face leads the audio); keyed formats "
                        "(blend, glb, fbx)")
    g.add_argument("--reduce-keys", action="store_true",
                   help="bake each curve to the fewest keys within --key-tolerance (blend, glb, fbx)")
    g.add_argument("--key-tolerance", type=float, default=0.01, help="max error of --reduce-keys (default 0.01)")
    g.add_argument("--fps", type=float, default=None,
                   help="frame rate of the CSV and Blender outputs (default 30; a .blend target keeps its own)")
    g.add_argument("--target", default="demo", help="demo | FILE.blend | FILE.glb | FILE.fbx (default demo)")
    g.add_argument("--out", default="out", help="output directory (default out)")
    g.add_argument("--name", default=None,
                   help="stem of the output file names (default takes; with several files, a prefix)")
    g.add_argument("--format", default=DEFAULT_FORMATS,
                   help=f"comma list from {','.join(FORMATS)} (default {DEFAULT_FORMATS})")
    g.add_argument("--model", default=None, help="model directory (model.json + ONNX files; default: shipped)")
    g.add_argument("--text", default=None, metavar="WORDS",
                   help="what is said: aligned to the audio for exact phone timing (language: --language)")
    g.add_argument("--transcript", default=None, metavar="FILE.txt",
                   help="what is said, from a UTF-8 text file. Without --text/--transcript, a .txt with "
                        "the audio file's name beside it is used")
    g.add_argument("--language", default="en", choices=list(LANGUAGES),
                   help="language of the transcript (default en): " + ", ".join(
                       f"{k} {v}" for k, v in LANGUAGES.items()))
    g.add_argument("--no-transcript", action="store_true", help="ignore .txt files beside the audio")
    g.set_defaults(func=cmd_generate)
    i = sub.add_parser("info", help="model card, providers, GPU")
    i.add_argument("--model", default=None, help="model directory (default: shipped)")
    i.set_defaults(func=cmd_info)
    c = sub.add_parser("convert", help="Live Link Face CSVs -> glb/fbx/blend on a target")
    c.add_argument("csv", nargs="+", help="one Live Link Face CSV per take")
    c.add_argument("--csv-fps", type=float, default=None,
                   help="frame rate of the CSV rows (default: from the timecode spacing)")
    c.add_argument("--timecode-base", type=int, default=None,
                   help="frame base of the timecodes' FF field (default: 60, the app's; 30 when the frame "
                        "numbers never reach 30 over more than a second). CSVs from thunder versions before "
                        "the 60 base counted FF at the file's own rate: pass that rate")
    c.add_argument("--audio", default=None, help="speech to put on the sequencer and in the preview")
    c.add_argument("--fps", type=float, default=None, help="scene frame rate of the Blender outputs")
    c.add_argument("--target", default="demo", help="demo | FILE.blend | FILE.glb | FILE.fbx")
    c.add_argument("--out", default="out")
    c.add_argument("--name", default="converted")
    c.add_argument("--format", default="glb", help="comma list from glb,fbx,blend,json,png")
    c.set_defaults(func=cmd_convert)
    m = sub.add_parser("mapping", help="what a rig's shape keys map to")
    m.add_argument("file", help="FILE.blend | FILE.glb | FILE.fbx")
    m.set_defaults(func=cmd_mapping)
    f = sub.add_parser("flame-map", help="fit an ARKit->FLAME map on your FLAME rig")
    f.add_argument("rig", help="FILE.blend with a FLAME rig (as the FLAME Blender add-on builds it)")
    f.add_argument("--landmarks", required=True,
                   help="the FLAME-MediaPipe landmark embedding (.npz: lmk_face_idx, lmk_b_coords, landmark_indices)")
    f.add_argument("--out", required=True, help="map JSON to write (load it in the add-on's preferences)")
    f.add_argument("--ridge", type=float, default=1e-4, help="ridge weight, relative to the basis energy (default 1e-4)")
    f.set_defaults(func=cmd_flame_map)
    return ap


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code (0, 2 for a user-facing error, 130 when interrupted)."""
    args = build_parser().parse_args(argv)
    from thunder_blender.runtime.generate import GenerationCancelled, InputError
    from thunder_blender.runtime.model import ModelError

    from .audio_file import AudioFileError

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, _on_sigint) if in_main_thread else None
    try:
        return args.func(args)
    except (KeyboardInterrupt, GenerationCancelled):
        print("\nthunder: interrupted; nothing was written", file=sys.stderr)
        return 130
    except (CliError, AudioFileError, InputError, ModelError) as err:
        if _INTERRUPT.is_set():  # e.g. ffmpeg was stopped by the same Ctrl-C
            print("\nthunder: interrupted; nothing was written", file=sys.stderr)
            return 130
        print(f"thunder: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader of our output went away (``thunder info | head -1``): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as err:  # disk full, permissions...: the outputs were rolled back by _staged_write
        where = f" ({err.filename})" if err.filename else ""
        print(f"thunder: error: {err.strerror or err}{where}; nothing was written", file=sys.stderr)
        return 2
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        _INTERRUPT.clear()  # a later command in this process starts uninterrupted


def entry() -> None:
    """The ``thunder`` console script: ``main`` then exit. Once Blender has been loaded the process ends
    with ``os._exit``: Blender's own shutdown can hang on scenes whose Python drivers failed, and there is
    nothing left to clean up (files are closed, outputs moved)."""
    code = main()
    if "bpy" in sys.modules:
        from . import preview
        from .headless import shutdown

        preview.cleanup()
        shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
