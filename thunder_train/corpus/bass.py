"""Beneath a Steel Sky (CD "talkie", v0.0372): acted English dialogue paired with its subtitle text.

Source: Debian package ``beneath-a-steel-sky`` (``apt-get download``), files ``sky.dsk`` (the data) and
``sky.dnr`` (its directory) in ``usr/share/scummvm/beneath-a-steel-sky/``. Licence (debian/copyright,
"Beneath-a-Steel-Sky-License", game content (C) Revolution Software Ltd): free distribution with the readme and
copyright notices intact (1), also inside larger, possibly commercial distributions with proper attribution (2),
no fee for the game itself (3), modification allowed with a prominent notice that the work is modified (4).

The subtitle text is Huffman-coded with a tree that is not in the game's data files (the original executable held
it). ``find_text_tree`` reads it at run time from the ``scummvm`` Debian package's binary, which carries the trees
of every game version: it tries each table there that has the shape of such a tree and keeps the one that decodes
every English message of the game to its exact coded length. Nothing of that package is copied into this project.

Everything below was read from the bytes of the two files; the engine rules (which text a speech file says, how
files are packed) follow the public description of the game's engine (ScummVM ``sky``), re-implemented here.

Directory (``sky.dnr``, little-endian; ``read_directory``)
    uint32 entry count (5097 in v0.0372), then 8 bytes per file: uint16 file number, 24-bit offset, 24-bit
    size-and-flags. Offset bit 23 set: the offset counts 16-byte units (``(off & 0x7FFFFF) << 4``), else bytes.
    Size: the low 22 bits. Flag bit 23: the file is stored as is; clear: it may be packed. Flag bit 22: a packed
    file's 22-byte header is not part of its content.

Data file header (22 bytes, 11 little-endian uint16): ``flag`` first, ``s_tot_size`` at byte 12. A file that may
    be packed is packed when ``flag`` bit 7 is set: the header is followed by an RNC stream and the unpacked size
    is ``(flag & 0xFF00) << 8 | s_tot_size``. Unless flag bit 22 says otherwise, the file's first 22 bytes are
    kept as the header of the unpacked content (``Archive.load``).

RNC ProPack method 1 (``rnc_unpack``; big-endian header)
    ``RNC\\x01``, uint32 unpacked size, uint32 packed size, uint16 CRC of the unpacked data, uint16 CRC of the
    packed data (CRC-16, reflected polynomial 0xA001, initial 0), a leeway byte and a block count; the stream from
    byte 18. Bits are read least significant first from little-endian 16-bit words; the first two bits are flags.
    Each block: three code tables (literal-run length, match distance, match length), each a 5-bit count ``n`` and
    ``n`` 4-bit code lengths (canonical codes, bit-reversed), then a 16-bit count of steps. A step: a coded
    literal-run length, then that many bytes copied straight from the byte stream at the next unread 16-bit word
    (bit reading resumes after them); every step but a block's last then copies ``length + 2`` bytes from
    ``distance + 1`` back. A coded value ``v >= 2`` is ``2 ** (v - 1)`` plus ``v - 1`` further bits.

Speech (files 50000 +): packed; the unpacked content after its 22-byte header is unsigned 8-bit mono PCM at
    11025 Hz (``NATIVE_SR``). Speech file ``50000 + SECTION_BASE[s] + i`` says text ``s << 12 | i``.
    Files 59494 and up lie outside every section (the engine plays them in the CD introduction); no text is paired.

Text (files ``60600 + 8 * language + section``, English = language 0, 8 sections; ``section_texts``)
    Stored as is. uint16 at 0: offset of the skip table (one byte per message), uint16 at 2: offset of the coded
    text, then uint16 lengths of the 32-message blocks but the last. Positions count 2-bit units from the coded
    text's start: block ``b`` starts at the sum of the lengths before it, message ``k`` of a block after the skip
    bytes of the messages before it (a skip byte with bit 7 set counts ``(byte & 0x7F) * 8`` units: the coded
    message was padded to that). Characters are Huffman-coded, most significant bit first, with a tree of 3-byte
    nodes (left child, right child, value; a leaf has both children 0; a 1 bit goes right), a message ends with
    character 0.

Compacts (``sky.cpt``, little-endian; ``compact_names``): the game objects with their names. uint16 version (0),
    uint16 list count, a uint16 length per list, uint32 words of object data, uint32 words of the object table,
    the table (per list entry: uint16 size, and when not 0 a uint16 type and ``size`` data words), uint32 bytes of
    NUL-terminated names, one per present object in table order. Object id = list << 12 | entry (3 = ``foster``,
    1 = ``joey``).

Speakers (``script_speakers``): the scripts (packed files 60400-60406, little-endian uint16 words) call engine
    functions as ``11, argument count, 4 * function``, the arguments pushed just before as ``2, number`` (constant)
    or ``0, 4 * variable``. Functions 35-38 (speak, speak in the facing direction, speak while the player waits,
    the same in the direction) take (speaker object, text number, animation); function 36 is only used for the
    player. Function 70 adds a text to the player's choice list (the player says the chosen line). Read with three
    rules: a constant speaker object gives its name, function 36 gives ``foster``, a choice gives ``foster``; a
    speaker held in another variable (the person the player talks to) is not followed, and a text given two
    different speakers gets none. ``Line.speaker`` is the object name without its room prefix (``sc31_guard`` ->
    ``guard``), "" when the rules say nothing.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

SR = 16000
NATIVE_SR = 11025
PACKAGE = "beneath-a-steel-sky"
DATA_DIR = "usr/share/scummvm/beneath-a-steel-sky"
ENGINE_PACKAGE = "scummvm"
ENGINE_BINARY = "usr/games/scummvm"
LICENCE = ("Beneath a Steel Sky licence (debian/copyright): free distribution with the readme and copyright notices "
           "intact, modification allowed with a prominent 'modified' notice, no fee for the game itself; game "
           "content (C) Revolution Software Ltd")
HEADER = 22                  # data file header (11 uint16)
SPEECH_BASE = 50000          # first speech file number
INTRO_SPEECH = 59494         # speech files from here on are the CD introduction (no subtitles)
TEXT_BASE = 60600            # first text file number
PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,!?'\"-:;()%&`/")
SECTIONS = 8                 # text sections per language
ENGLISH = 0
# First speech file (after SPEECH_BASE) of each text section: the engine's numbering of speech files. Checked by
# the tests: every speech file of a section falls inside [base, base + messages of that section).
SECTION_BASE = (0, 600, 1100, 2430, 3380, 4530, 5080, 5230)


class FormatError(ValueError):
    """``sky.dnr`` / ``sky.dsk`` (or a file inside them) does not have the layout this module reads."""


@dataclass(frozen=True)
class Entry:
    """One file of ``sky.dsk``: its number, byte ``offset``, stored ``size`` and flags."""

    number: int
    offset: int
    size: int
    stored: bool        # flag bit 23: stored as is, never packed
    drop_header: bool   # flag bit 22: the 22-byte header is not part of the unpacked content


@dataclass(frozen=True)
class Line:
    """One voiced message: speech file ``speech`` (number in the archive), text number ``text_id``, its English
    subtitle ``text`` and ``speaker`` (a character name, "" when the scripts do not say; module docstring)."""

    speech: int
    text_id: int
    text: str
    speaker: str = ""

    @property
    def section(self) -> int:
        return self.text_id >> 12


@dataclass(frozen=True)
class BassConfig:
    """Which paired lines ``catalogue`` returns."""

    min_letters: int = 1  # messages with fewer letters are not lines


# ----------------------------------------------------------------------------------------------------- locating

def find_data(cache: Path = Path("data/cache")) -> Path | None:
    """Directory holding ``sky.dsk`` and ``sky.dnr``: ``$THUNDER_BASS``, the package unpacked by ``fetch_data``
    under ``cache``, or the installed package."""
    env = os.environ.get("THUNDER_BASS")
    for p in ([Path(env)] if env else []) + [Path(cache) / "src/x" / PACKAGE / DATA_DIR, Path("/") / DATA_DIR]:
        if (p / "sky.dsk").is_file() and (p / "sky.dnr").is_file():
            return p
    return None


def find_engine(cache: Path = Path("data/cache")) -> Path | None:
    """The ``scummvm`` binary (for the text tree): ``$THUNDER_SCUMMVM``, unpacked under ``cache``, or installed."""
    env = os.environ.get("THUNDER_SCUMMVM")
    for p in ([Path(env)] if env else []) + [Path(cache) / "src/x" / ENGINE_PACKAGE / ENGINE_BINARY,
                                             Path("/") / ENGINE_BINARY]:
        if p.is_file():
            return p
    return None


def fetch_data(cache: Path = Path("data/cache"), log=print) -> Path:
    """Fetch the game package with ``apt-get download`` and unpack it under ``<cache>/src`` (``devset.fetch``)."""
    from thunder_train.corpus.recorded import SOURCE_BY_KEY
    from thunder_train.devset.fetch import fetch

    return fetch(SOURCE_BY_KEY["bass"], Path(cache) / "src", log) / DATA_DIR


def fetch_engine(cache: Path = Path("data/cache"), log=print) -> Path:
    """Fetch the ``scummvm`` package (GPL-2+; only read for the text tree) and unpack it under ``<cache>/src``."""
    from thunder_train.corpus.recorded import SOURCE_BY_KEY
    from thunder_train.devset.fetch import fetch

    return fetch(SOURCE_BY_KEY["scummvm"], Path(cache) / "src", log) / ENGINE_BINARY


# ------------------------------------------------------------------------------------------------- directory

def read_directory(path: Path) -> dict[int, Entry]:
    """``{file number: Entry}`` of a ``sky.dnr`` (raises ``FormatError`` on another file)."""
    raw = Path(path).read_bytes()
    if len(raw) < 4:
        raise FormatError(f"{path} is too short for a sky.dnr directory")
    (count,) = struct.unpack_from("<I", raw, 0)
    if count == 0 or len(raw) != 4 + 8 * count:
        raise FormatError(f"{path} is not a sky.dnr directory ({len(raw)} bytes for {count} entries)")
    out: dict[int, Entry] = {}
    for i in range(count):
        rec = raw[4 + 8 * i:12 + 8 * i]
        number = rec[0] | rec[1] << 8
        off = int.from_bytes(rec[2:5], "little")
        flags = int.from_bytes(rec[5:8], "little")
        offset = (off & 0x7FFFFF) << 4 if off >> 23 else off
        out[number] = Entry(number, offset, flags & 0x3FFFFF, bool(flags >> 23 & 1), bool(flags >> 22 & 1))
    return out


# ----------------------------------------------------------------------------------------------------- RNC

@lru_cache(maxsize=1)
def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        c = byte
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


def crc16(data: bytes) -> int:
    """CRC-16 (reflected polynomial 0xA001, initial 0) as RNC headers store it."""
    t = _crc_table()
    crc = 0
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


class _Bits:
    """LSB-first bit reader over little-endian 16-bit words, with literal bytes taken from the word boundary."""

    def __init__(self, data: bytes, pos: int) -> None:
        self.data = data + b"\0\0\0\0"
        self.pos = pos      # byte offset of the next word not yet loaded
        self.acc = 0        # loaded, unread bits
        self.n = 0

    def _word(self, p: int) -> int:
        return self.data[p] | self.data[p + 1] << 8

    def peek16(self) -> int:
        return (self.acc | self._word(self.pos) << self.n) & 0xFFFF

    def take(self, k: int) -> int:
        if self.n < k:
            self.acc |= self._word(self.pos) << self.n
            self.pos += 2
            self.n += 16
        v = self.acc & ((1 << k) - 1)
        self.acc >>= k
        self.n -= k
        return v

    def bytes(self, count: int) -> bytes:
        out = self.data[self.pos:self.pos + count]
        self.pos += count
        return out


def _read_table(bits: _Bits) -> list[tuple[int, int, int]]:
    """``[(mask, code, symbol)]`` of one RNC code table, codes bit-reversed for LSB-first matching."""
    n = bits.take(5)
    lengths = [bits.take(4) for _ in range(n)]
    table, code = [], 0
    for length in range(1, 17):
        for sym, ln in enumerate(lengths):
            if ln == length:
                top = code >> (16 - length)
                rev = int(f"{top:0{length}b}"[::-1], 2)
                table.append(((1 << length) - 1, rev, sym | length << 8))
                code += 1 << (16 - length)
    return table


def _read_value(bits: _Bits, table: list[tuple[int, int, int]]) -> int:
    peek = bits.peek16()
    for mask, code, packed in table:
        if peek & mask == code:
            bits.take(packed >> 8)
            v = packed & 0xFF
            if v >= 2:
                v = (1 << (v - 1)) | bits.take(v - 1)
            return v
    raise FormatError("RNC stream: no code matches")


def rnc_unpack(data: bytes) -> bytes:
    """Unpack one RNC method-1 stream (raises ``FormatError`` on a bad signature or either CRC failing)."""
    if data[:4] != b"RNC\x01":
        raise FormatError("not an RNC method-1 stream")
    size, packed, crc_out, crc_in = struct.unpack_from(">IIHH", data, 4)
    blocks = data[17]
    body = data[18:18 + packed]
    if len(body) != packed or crc16(body) != crc_in:
        raise FormatError("RNC stream: packed data CRC mismatch")
    bits = _Bits(data, 18)
    bits.take(2)
    out = bytearray()
    for _ in range(blocks):
        raw_t, dist_t, len_t = _read_table(bits), _read_table(bits), _read_table(bits)
        steps = bits.take(16)
        for step in range(steps, 0, -1):
            run = _read_value(bits, raw_t)
            if run:
                # the run starts at the next unread word; bit reading then resumes right after it
                out += bits.bytes(run)
            if step > 1:
                dist = _read_value(bits, dist_t) + 1
                length = _read_value(bits, len_t) + 2
                start = len(out) - dist
                if dist >= length:
                    out += out[start:start + length]
                else:
                    for k in range(length):
                        out.append(out[start + k])
    if len(out) != size or crc16(bytes(out)) != crc_out:
        raise FormatError("RNC stream: unpacked data size or CRC mismatch")
    return bytes(out)


# --------------------------------------------------------------------------------------------------- archive

class Archive:
    """Random access to the files of ``sky.dsk`` through ``sky.dnr``."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.entries = read_directory(self.folder / "sky.dnr")
        self.dsk = self.folder / "sky.dsk"
        size = self.dsk.stat().st_size
        if any(e.offset + e.size > size for e in self.entries.values()):
            raise FormatError(f"{self.dsk} is shorter than its directory says")

    def read(self, number: int) -> bytes:
        """File ``number`` as stored."""
        e = self.entries[number]
        with open(self.dsk, "rb") as f:
            f.seek(e.offset)
            return f.read(e.size)

    def is_packed(self, number: int) -> bool:
        e = self.entries[number]
        if e.stored:
            return False
        head = self.read(number)[:2]
        return len(head) == 2 and bool(head[0] & 0x80)

    def load(self, number: int) -> bytes:
        """File ``number`` unpacked (its 22-byte header kept in front unless the directory says otherwise)."""
        e = self.entries[number]
        raw = self.read(number)
        if e.stored or not raw[0] & 0x80:
            return raw
        flag, total = struct.unpack_from("<H", raw, 0)[0], struct.unpack_from("<H", raw, 12)[0]
        body = rnc_unpack(raw[HEADER:])
        out = body if e.drop_header else raw[:HEADER] + body
        if not e.drop_header and len(out) != ((flag & 0xFF00) << 8 | total):
            raise FormatError(f"file {number}: unpacked to {len(out)} bytes, its header says "
                              f"{(flag & 0xFF00) << 8 | total}")
        return out

    def speech_numbers(self) -> list[int]:
        """Numbers of every speech file (subtitled dialogue and the spoken introduction)."""
        return sorted(n for n in self.entries if SPEECH_BASE <= n < TEXT_BASE - 600)

    def speech_samples(self, number: int) -> int:
        """Native sample count of speech file ``number``, from its header (no unpacking)."""
        raw = self.read(number)[:HEADER]
        flag, total = struct.unpack_from("<H", raw, 0)[0], struct.unpack_from("<H", raw, 12)[0]
        return ((flag & 0xFF00) << 8 | total) - HEADER

    def pcm(self, number: int) -> np.ndarray:
        """Speech file ``number`` as its native unsigned 8-bit samples ``(S,)`` at ``NATIVE_SR``."""
        return np.frombuffer(self.load(number)[HEADER:], dtype=np.uint8)

    def decode(self, number: int, sr: int = SR) -> np.ndarray:
        """Speech file ``number`` as mono float32 ``(S,)`` in [-1, 1) at ``sr`` Hz (8-bit PCM, resampled)."""
        from scipy.signal import resample_poly

        x = (self.pcm(number).astype(np.float32) - 128.0) / 128.0
        if sr != NATIVE_SR:
            g = np.gcd(NATIVE_SR, int(sr))
            x = resample_poly(x, int(sr) // g, NATIVE_SR // g)
        return np.clip(x, -1.0, 1.0).astype(np.float32)


# ------------------------------------------------------------------------------------------------------ text

Tree = bytes  # 3-byte nodes: left child, right child, value


def tree_shape(buf: bytes, start: int) -> tuple[int, int] | None:
    """``(nodes, leaves)`` when ``buf[start:]`` begins with a full binary tree of 3-byte nodes rooted at node 0
    that uses every node up to its last exactly once, else None."""
    seen: set[int] = set()
    stack, leaves = [0], 0
    while stack:
        k = stack.pop()
        p = start + 3 * k
        if k in seen or p + 3 > len(buf):
            return None
        seen.add(k)
        left, right = buf[p], buf[p + 1]
        if left == 0 and right == 0:
            leaves += 1
        elif left == 0 or right == 0:
            return None
        else:
            stack += [left, right]
    if len(seen) != max(seen) + 1:
        return None
    return len(seen), leaves


def tree_candidates(binary: bytes, min_leaves: int = 40) -> list[Tree]:
    """Every table in ``binary`` shaped like a text tree: ``min_leaves`` or more leaves with a printable value
    close together on one 3-byte grid, then checked with ``tree_shape``."""
    b = np.frombuffer(binary, dtype=np.uint8)
    leaf = np.zeros(len(b), bool)
    leaf[:-2] = (b[:-2] == 0) & (b[1:-1] == 0) & (b[2:] >= 32) & (b[2:] < 127)
    window = 150  # nodes: a tree of up to 256 nodes has its leaves within about that many
    starts: set[int] = set()
    for r in range(3):
        hits = leaf[r::3].astype(np.int32)
        cs = np.concatenate([[0], np.cumsum(hits)])
        for h in np.flatnonzero(cs[window:] - cs[:-window] >= min_leaves):
            starts.add(r + 3 * int(h))
    found: dict[int, Tree] = {}
    for s in sorted(starts):
        for p in range(max(0, s - 3 * 256), s + 1):
            if p in found:
                continue
            shape = tree_shape(binary, p)
            if shape and shape[1] >= min_leaves:
                found[p] = binary[p:p + 3 * shape[0]]
    out: list[Tree] = []
    for p in sorted(found):  # a tree's tail can itself look like a smaller tree: keep the outermost
        if not any(q < p < q + len(t) for q, t in found.items()):
            out.append(found[p])
    return out


def decode_message(tree: Tree, data: bytes, bit: int) -> tuple[bytes, int]:
    """The message coded from bit ``bit`` (MSB-first) of ``data`` and the bit after its end character."""
    out = bytearray()
    while True:
        k = 0
        while True:
            byte = bit >> 3
            if byte >= len(data):
                raise FormatError("text runs past the end of its file")
            k = tree[3 * k + 1] if data[byte] >> (7 - (bit & 7)) & 1 else tree[3 * k]
            bit += 1
            if tree[3 * k] == 0 and tree[3 * k + 1] == 0:
                break
        c = tree[3 * k + 2]
        if c == 0:
            return bytes(out), bit
        out.append(c)


def message_positions(data: bytes) -> tuple[list[int], list[int], int]:
    """``(start, room, text_bit)`` of a text file: each message's start in 2-bit units from the coded text, the
    units its skip byte gives it, and the coded text's first bit."""
    skip_off, text_off = struct.unpack_from("<HH", data, 0)
    count = text_off - skip_off
    if skip_off < 4 or count <= 0 or (skip_off - 4) // 2 < (count - 1) // 32:
        raise FormatError("not a text file (bad skip table)")
    starts, rooms = [], []
    block = 0
    for i in range(count):
        if i and i % 32 == 0:
            block += struct.unpack_from("<H", data, 4 + 2 * (i // 32 - 1))[0]
            pos = block
        elif i == 0:
            pos = 0
        sb = data[skip_off + i]
        room = (sb & 0x7F) << 3 if sb & 0x80 else sb
        starts.append(pos)
        rooms.append(room)
        pos += room
    return starts, rooms, 8 * text_off


def section_messages(tree: Tree, data: bytes) -> list[tuple[str, bool]]:
    """``[(text, fits)]`` of one text file: each message and whether its coded length agrees with its room
    (exact to the 2-bit unit, or within the padding of a skip byte with bit 7 set)."""
    starts, rooms, base = message_positions(data)
    out = []
    for s, room in zip(starts, rooms, strict=True):
        try:
            raw, end = decode_message(tree, data, base + 2 * s)
        except FormatError:
            out.append(("", False))
            continue
        used = (end - base - 2 * s + 1) // 2
        fits = used == room if room < 128 else room - 8 < used <= room
        out.append((raw.decode("latin-1"), fits))
    return out


def plain_share(texts: list[str]) -> float:
    """Share of the characters of ``texts`` that are letters, digits, space or common punctuation."""
    joined = "".join(texts)
    return sum(c in PLAIN for c in joined) / max(1, len(joined))


def find_text_tree(archive: Archive, binary: bytes) -> Tree:
    """The tree among ``tree_candidates(binary)`` under which every English message's coded length agrees with
    its room; of several such trees (the trees of neighbouring game versions differ in a few rare characters),
    the one whose texts have the most plain characters (``plain_share``). Raises ``FormatError`` when no tree
    fits every message."""
    files = [archive.read(TEXT_BASE + ENGLISH * SECTIONS + s) for s in range(SECTIONS)]
    fitting: list[tuple[float, int, Tree]] = []
    for i, tree in enumerate(tree_candidates(binary)):
        texts = []
        for data in files:
            msgs = section_messages(tree, data)
            if not all(fits for _, fits in msgs):
                break
            texts += [t for t, _ in msgs]
        else:
            fitting.append((plain_share(texts), -i, tree))
    if not fitting:
        raise FormatError("no tree in the engine binary decodes every English message to its coded length")
    return max(fitting)[2]


def section_texts(archive: Archive, tree: Tree, language: int = ENGLISH) -> dict[int, str]:
    """``{text number: text}`` of every message of ``language`` (text number = section << 12 | index)."""
    out: dict[int, str] = {}
    for s in range(SECTIONS):
        for i, (text, _) in enumerate(section_messages(tree, archive.read(TEXT_BASE + language * SECTIONS + s))):
            out[s << 12 | i] = text
    return out


def text_number(speech: int) -> int | None:
    """The text number speech file ``speech`` says (None for the introduction and numbers outside a section)."""
    k = speech - SPEECH_BASE
    if k < 0 or speech >= INTRO_SPEECH:
        return None
    s = max(i for i, b in enumerate(SECTION_BASE) if b <= k)
    return s << 12 | (k - SECTION_BASE[s])


def speech_number(text_id: int) -> int:
    return SPEECH_BASE + SECTION_BASE[text_id >> 12] + (text_id & 0xFFF)


# -------------------------------------------------------------------------------------------------- speakers

MODULES = range(60400, 60407)
SPEAK_FUNCTIONS = (35, 36, 37, 38)
PLAYER_SPEAK = 36
ASK_THIS = 70
PLAYER = "foster"


def compact_names(path: Path) -> dict[int, str]:
    """``{object id: name}`` of a ``sky.cpt`` (layout in the module docstring)."""
    d = Path(path).read_bytes()
    version, lists = struct.unpack_from("<HH", d, 0)
    if version != 0 or not 0 < lists < 16:
        raise FormatError(f"{path} is not a sky.cpt compact file")
    p = 4
    lengths = struct.unpack_from(f"<{lists}H", d, p)
    p += 2 * lists
    _, table_words = struct.unpack_from("<II", d, p)
    p += 8
    table = struct.unpack_from(f"<{table_words}H", d, p)
    p += 2 * table_words
    (name_bytes,) = struct.unpack_from("<I", d, p)
    names = d[p + 4:p + 4 + name_bytes].split(b"\0")
    out: dict[int, str] = {}
    q = k = 0
    for lst, n in enumerate(lengths):
        for e in range(n):
            size = table[q]
            q += 1
            if size:
                out[lst << 12 | e] = names[k].decode("latin-1")
                k += 1
                q += 1 + size
    if q != table_words:
        raise FormatError(f"{path}: object table does not add up")
    return out


def character(name: str) -> str:
    """Character of an object name: the room prefix dropped (``sc36_gallagher`` -> ``gallagher``)."""
    import re

    return re.sub(r"^sc\d+_", "", name.lower())


def script_speakers(archive: Archive, names: dict[int, str]) -> dict[int, str]:
    """``{text number: character}`` for the texts the scripts give one speaker (rules in the module docstring)."""
    found: dict[int, set[str]] = {}
    for module in MODULES:
        if module not in archive.entries:
            continue
        data = archive.load(module)
        w = struct.unpack_from(f"<{len(data) // 2}H", data, 0)
        for i in range(6, len(w) - 2):
            if w[i] != 11 or w[i + 2] % 4:
                continue
            argc, fn = w[i + 1], w[i + 2] // 4
            if fn in SPEAK_FUNCTIONS and argc == 3 and w[i - 4] == 2:
                text = w[i - 3]
                if w[i - 6] == 2 and w[i - 5] in names:
                    who = character(names[w[i - 5]])
                elif w[i - 6] == 0 and fn == PLAYER_SPEAK:
                    who = PLAYER
                else:
                    continue
            elif fn == ASK_THIS and argc == 2 and w[i - 4] == 2 and w[i - 2] == 2:
                text, who = w[i - 3], PLAYER
            else:
                continue
            found.setdefault(text, set()).add(who)
    return {t: next(iter(s)) for t, s in found.items() if len(s) == 1}


def catalogue(folder: Path, engine: Path, cfg: BassConfig | None = None) -> list[Line]:
    """Paired speech lines: one ``Line`` per subtitled speech file whose English text has letters, by number,
    with the speaker the scripts give (``script_speakers``; "" when they do not say)."""
    import re

    cfg = cfg or BassConfig()
    archive = Archive(folder)
    texts = section_texts(archive, find_text_tree(archive, Path(engine).read_bytes()))
    cpt = Path(folder) / "sky.cpt"
    speakers = script_speakers(archive, compact_names(cpt)) if cpt.is_file() else {}
    out = []
    for n in archive.speech_numbers():
        t = text_number(n)
        if t is None or t not in texts:
            continue
        text = " ".join(texts[t].split())
        if len(re.findall(r"[A-Za-z]", text)) >= cfg.min_letters:
            out.append(Line(n, t, text, speakers.get(t, "")))
    return out
