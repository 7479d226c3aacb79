"""Forced alignment of a transcript's phone classes to per-frame phone-class posteriors (Viterbi, numpy only).

    words = pronounce("the quick brown fox")                       # core.pronounce
    al = align(log_probs, words)                                   # log_probs (T, 10): log posteriors, 50 fps
    al.frames        # (T,) class id per frame, core.phones.UNKNOWN where the audio is left to itself
    al.words         # AlignedWord(text, start, end, confidence, phones) per transcript token

The graph is a left-to-right chain: an optional *gap* before, between and after the words, then each word's
classes (runs of one class merged; each class a chain of ``min_frames`` states, so it lasts at least that
long). A gap frame is either a pause (the silence class) or *unmatched speech* (any class, at a per-frame
penalty: a word the transcript does not have). A word can be left out at a penalty (a transcript word that is
not in the audio). Per word, confidence is the mean over its frames of the aligned class's posterior;
words under ``min_confidence``, left-out words and unmatched speech become ``UNKNOWN`` frames (audio only) and
a note. The search is a beam over a band of the chain: time and memory grow with the clip's length times the
band width, not with the transcript's length (``make bench``; 10 minutes of speech align within a few
seconds and a few MB of back-pointers).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .phones import N_PHONES, PHONE_CLASSES, UNKNOWN

SIL = 0
_GAP = N_PHONES        # emission column of a gap state: max(pause, unmatched speech)
NEG = -1e30


@dataclass(frozen=True)
class AlignConfig:
    """Scores are in nats of log posterior. ``min_frames``: the shortest a class run can be (frames).
    ``skip_penalty``: cost of leaving a transcript word out. ``garbage_penalty``: per-frame cost of speech the
    transcript does not have. ``prior_weight``: the emissions are log posteriors minus this times the log of
    the clip's mean posterior (a class the encoder favours everywhere counts for less; values from the
    development-set sweep in docs/TRANSCRIPTS.md). ``beam``: pruning width behind the best path. ``max_band``: most chain states kept
    per frame (memory bound). ``floor``: posterior floor before the log."""

    min_frames: int = 2
    skip_penalty: float = 12.0
    garbage_penalty: float = 1.25
    prior_weight: float = 0.5
    min_confidence: float = 0.2
    run_seconds: float = 0.08    # typical length of one class run (12.5 a second), for the stretch check
    max_stretch: float = 3.0     # a word longer than this many times its typical length (and 0.5 s) is suspect
    squeeze_runs: int = 3        # a word of this many runs or more held at its minimum length is suspect
    beam: float = 40.0
    max_band: int = 4000
    floor: float = 1e-4
    fps: float = 50.0


@dataclass
class AlignedWord:
    """One transcript word. start/end in seconds (None when the word was not found in the audio); phones:
    ``[(class name, start_s, end_s)]``; confidence in [0, 1] (0 when not found); ``used``: its classes drive the
    take (False when not found, without a pronunciation, or under the confidence threshold)."""

    text: str
    start: float | None
    end: float | None
    confidence: float
    phones: list[tuple[str, float, float]] = field(default_factory=list)
    used: bool = False

    def to_dict(self) -> dict:
        return {"text": self.text, "start": None if self.start is None else round(self.start, 3),
                "end": None if self.end is None else round(self.end, 3), "confidence": round(self.confidence, 3),
                "used": self.used, "phones": [[p, round(s, 3), round(e, 3)] for p, s, e in self.phones]}


@dataclass
class Alignment:
    """frames: (T,) int8 class per frame (``UNKNOWN`` = audio only); words; unmatched: ``[(start_s, end_s)]``
    stretches of speech the transcript does not have; notes: user-facing sentences; seconds: time taken."""

    frames: np.ndarray
    words: list[AlignedWord]
    unmatched: list[tuple[float, float]]
    notes: list[str]
    seconds: float
    fps: float
    band_max: int = 0        # most chain states searched in one frame
    pointer_bytes: int = 0   # back-pointer memory of the search

    @property
    def coverage(self) -> float:
        """Share of frames with a known class."""
        return float(np.mean(self.frames >= 0)) if self.frames.size else 0.0

    def summary(self) -> dict:
        """Small enough to record on every take: counts, coverage, time taken."""
        return {"n_words": len(self.words), "n_used": sum(w.used for w in self.words),
                "n_not_found": sum(w.start is None for w in self.words), "unmatched_s": round(
                    sum(e - s for s, e in self.unmatched), 3), "coverage": round(self.coverage, 3),
                "seconds": round(self.seconds, 4)}

    def to_dict(self) -> dict:
        return {"words": [w.to_dict() for w in self.words],
                "unmatched": [[round(s, 3), round(e, 3)] for s, e in self.unmatched],
                "coverage": round(self.coverage, 3), "notes": list(self.notes), "seconds": round(self.seconds, 4)}


@dataclass
class _Chain:
    cls: np.ndarray        # (S,) emission column per state (0..9 class, _GAP for gaps)
    self_cost: np.ndarray  # (S,) cost of staying (NEG: not allowed)
    step_cost: np.ndarray  # (S,) cost of coming from s - 1 (NEG: not allowed)
    jump: np.ndarray       # (S,) distance of the extra predecessor (0: none)
    jump_cost: np.ndarray  # (S,)
    word: np.ndarray       # (S,) word index of a phone state, -1 for gaps
    run: np.ndarray        # (S,) index of the class run within its word (-1 for gaps)
    start_ok: np.ndarray   # (S,) bool
    end_ok: np.ndarray     # (S,) bool


def _runs(classes: tuple[int, ...]) -> list[int]:
    return [c for i, c in enumerate(classes) if i == 0 or c != classes[i - 1]]


def build_chain(words: list[tuple[int, ...]], cfg: AlignConfig) -> _Chain:
    """States: gap_0 w_0 gap_1 w_1 ... w_{n-1} gap_n (words with no classes are not in the chain)."""
    cls, self_c, step_c, jump, jump_c, word, run = [], [], [], [], [], [], []
    gap_idx: list[int] = []
    last_of: list[int] = []
    m = max(1, int(cfg.min_frames))

    def add(c: int, sc: float, st: float, j: int, jc: float, w: int, r: int) -> None:
        cls.append(c)
        self_c.append(sc)
        step_c.append(st)
        jump.append(j)
        jump_c.append(jc)
        word.append(w)
        run.append(r)

    def add_gap(k: int) -> None:
        s = len(cls)
        if k == 0:
            add(_GAP, 0.0, NEG, 0, NEG, -1, -1)
        else:  # from the end of the previous word, or from the previous gap by leaving that word out
            add(_GAP, 0.0, 0.0, s - gap_idx[k - 1], -cfg.skip_penalty, -1, -1)
        gap_idx.append(s)

    add_gap(0)
    for k, classes in enumerate(words):
        for r, c in enumerate(_runs(classes)):
            for i in range(m):
                first_of_word = r == 0 and i == 0
                # first state: from the gap before (s - 1) or straight from the previous word's end (s - 2)
                j = 2 if first_of_word and k > 0 else 0
                add(c, 0.0 if i == m - 1 else NEG, 0.0, j, 0.0 if j else NEG, k, r)
        last_of.append(len(cls) - 1)
        add_gap(k + 1)
    n = len(cls)
    start_ok = np.zeros(n, bool)
    end_ok = np.zeros(n, bool)
    start_ok[0] = True
    if words:
        start_ok[1] = True
        end_ok[last_of[-1]] = True
    end_ok[n - 1] = True
    f = np.float64
    return _Chain(np.array(cls, np.int64), np.array(self_c, f), np.array(step_c, f), np.array(jump, np.int64),
                  np.array(jump_c, f), np.array(word, np.int64), np.array(run, np.int64), start_ok, end_ok)


def emissions(log_probs: np.ndarray, cfg: AlignConfig) -> tuple[np.ndarray, np.ndarray]:
    """(T, 10) log posteriors -> (T, 11) emission table (classes, then the gap column) and (T,) bool: the gap
    column is unmatched speech rather than a pause."""
    lp = np.maximum(np.asarray(log_probs, np.float64), np.log(cfg.floor))
    if cfg.prior_weight and len(lp):
        lp = lp - cfg.prior_weight * np.log(np.exp(lp).mean(axis=0))
    garbage = lp.max(axis=1) - cfg.garbage_penalty
    table = np.concatenate([lp, np.maximum(lp[:, SIL], garbage)[:, None]], axis=1)
    return table, garbage > lp[:, SIL]


def viterbi(table: np.ndarray, ch: _Chain, cfg: AlignConfig) -> tuple[np.ndarray, int, int]:
    """Best state path (T,) through the chain, beam-pruned over a moving band of states; also the widest band
    and the back-pointer bytes."""
    t_len, n = table.shape[0], len(ch.cls)
    jmax = int(max(1, ch.jump.max(initial=0)))
    v = np.full(n, NEG)
    v[ch.start_ok] = table[0, ch.cls[ch.start_ok]]
    offs: list[int] = [0]
    ptrs: list[np.ndarray] = [np.zeros(0, np.int8)]
    lo, hi = 0, min(n, 2)
    states = np.arange(n)
    for t in range(1, t_len):
        hi = min(n, hi + jmax)
        if hi - lo > cfg.max_band:
            lo = hi - cfg.max_band
            v[: lo] = NEG
        s = states[lo:hi]
        stay = v[lo:hi] + ch.self_cost[lo:hi]
        prev = np.where(s > 0, v[np.maximum(s - 1, 0)], NEG) + ch.step_cost[lo:hi]
        jp = s - ch.jump[lo:hi]
        jump = np.where(ch.jump[lo:hi] > 0, v[np.maximum(jp, 0)], NEG) + ch.jump_cost[lo:hi]
        cand = np.stack([stay, prev, jump])
        arg = cand.argmax(axis=0).astype(np.int8)
        best = np.take_along_axis(cand, arg[None].astype(np.int64), axis=0)[0] + table[t, ch.cls[lo:hi]]
        v[lo:hi] = best
        offs.append(lo)
        ptrs.append(arg)
        top = best.max()
        live = np.flatnonzero(best > max(top - cfg.beam, NEG / 2))
        new_lo, new_hi = lo + int(live[0]), lo + int(live[-1]) + 1
        v[lo:new_lo] = NEG
        v[new_hi:hi] = NEG   # pruned states must not come back with an old (higher) score
        lo, hi = new_lo, new_hi
    # the end: an allowed final state if one survived, else the best state (later words are then not found)
    end = np.where(ch.end_ok, v, NEG)
    s = int(end.argmax()) if end.max() > NEG / 2 else int(v.argmax())
    path = np.empty(t_len, np.int64)
    for t in range(t_len - 1, 0, -1):
        path[t] = s
        a = int(ptrs[t][s - offs[t]])
        s = s if a == 0 else (s - 1 if a == 1 else s - int(ch.jump[s]))
    path[0] = s
    return path, max(len(p) for p in ptrs), sum(p.nbytes + 8 for p in ptrs)


def _stretches(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) runs of True in a (T,) bool mask."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))


def align(log_probs: np.ndarray, words: list, cfg: AlignConfig | None = None) -> Alignment:
    """Align ``words`` (``core.pronounce.Word``: ``text`` and ``classes``) to ``log_probs`` (T, 10) log
    posteriors at ``cfg.fps``. Always returns an alignment; what could not be aligned is in its notes."""
    cfg = cfg or AlignConfig()
    t0 = time.perf_counter()
    lp = np.asarray(log_probs, np.float64)
    if lp.ndim != 2 or lp.shape[1] != N_PHONES:
        raise ValueError(f"log_probs must be (T, {N_PHONES}), got {lp.shape}")
    t_len = lp.shape[0]
    placed = [k for k, w in enumerate(words) if w.classes]
    chain = build_chain([tuple(words[k].classes) for k in placed], cfg)
    table, unmatched_col = emissions(lp, cfg)
    path, band, nbytes = viterbi(table, chain, cfg) if t_len else (np.zeros(0, np.int64), 0, 0)
    frames = np.full(t_len, UNKNOWN, np.int8)
    state_word = chain.word[path]
    gap = state_word < 0
    garbage = gap & unmatched_col
    frames[gap & ~garbage] = SIL
    out: list[AlignedWord] = [AlignedWord(w.text, None, None, 0.0) for w in words]
    notes: list[str] = []
    fps = cfg.fps
    low: list[str] = []
    for i, k in enumerate(placed):
        idx = np.flatnonzero(state_word == i)
        w = out[k]
        if idx.size == 0:
            continue
        c = chain.cls[path[idx]]
        conf = float(np.mean(np.exp(lp[idx, c])))
        w.start, w.end, w.confidence = idx[0] / fps, (idx[-1] + 1) / fps, conf
        runs = chain.run[path[idx]]
        cuts = np.flatnonzero(np.diff(runs)) + 1
        for seg in np.split(np.arange(idx.size), cuts):
            w.phones.append((PHONE_CLASSES[int(c[seg[0]])], idx[seg[0]] / fps, (idx[seg[-1]] + 1) / fps))
        n_runs = int(runs.max()) + 1
        seconds = idx.size / fps
        if conf < cfg.min_confidence:
            low.append(f"'{w.text}' ({w.start:.2f}-{w.end:.2f} s, confidence {conf:.2f})")
        elif seconds > max(0.5, cfg.max_stretch * n_runs * cfg.run_seconds):
            low.append(f"'{w.text}' ({w.start:.2f}-{w.end:.2f} s, far longer than the word: speech the transcript "
                       "lacks?)")
        elif n_runs >= cfg.squeeze_runs and idx.size <= n_runs * cfg.min_frames:
            low.append(f"'{w.text}' ({w.start:.2f}-{w.end:.2f} s, squeezed to its shortest: not said?)")
        else:
            frames[idx] = c
            w.used = True
    missing = [f"'{words[k].text}'" for k in placed if out[k].start is None]
    unpronounced = [f"'{w.text}'" for w in words if not w.classes]
    unmatched = [(a / fps, b / fps) for a, b in _stretches(garbage) if b - a >= 2]
    if missing:
        notes.append(f"transcript word{'s' if len(missing) > 1 else ''} not found in the audio: {', '.join(missing)}")
    if unmatched:
        spans = ", ".join(f"{a:.2f}-{b:.2f} s" for a, b in unmatched)
        notes.append(f"speech not in the transcript at {spans}: audio only there")
    if low:
        notes.append(f"uncertain alignment, audio only for: {', '.join(low)}")
    if unpronounced:
        notes.append(f"no pronunciation for {', '.join(unpronounced)}: audio only there")
    return Alignment(frames=frames, words=out, unmatched=unmatched, notes=notes,
                     seconds=time.perf_counter() - t0, fps=fps, band_max=band, pointer_bytes=nbytes)
