"""``thunder generate`` with a transcript: --text, --transcript FILE, a .txt beside each audio file in a batch,
--no-transcript, one-line errors for bad transcripts, the aligned words in the JSON and over the preview, and
outputs without a transcript unchanged (shipped model, real onnxruntime sessions)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from thunder_cli import cli

ROOT = Path(__file__).resolve().parents[1]
DEMO_WAV = ROOT / "thunder_blender" / "assets" / "demo_speech.wav"
DEMO_TEXT = "Watch the lips press shut on every b, p and m, then open wide for a bright hello."


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "thunder_cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture
def wav(tmp_path) -> Path:
    return Path(shutil.copy(DEMO_WAV, tmp_path / "line.wav"))


def _json(out: Path, name: str = "takes") -> dict:
    return json.loads((out / f"{name}.json").read_text())


def test_text_aligns_and_lands_in_json_and_preview(wav, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["generate", str(wav), "--takes", "2", "--out", str(out), "--format", "json,png",
                     "--text", DEMO_TEXT]) == 0
    printed = capsys.readouterr()
    assert "transcript:" in printed.out and "words aligned" in printed.out
    assert "without phone input" not in printed.err  # the shipped model takes the aligned phones
    al = _json(out)["settings"]["alignment"]
    words = al["words"]
    assert [w["text"] for w in words][:4] == ["Watch", "the", "lips", "press"]
    assert al["n_words"] == len(words) == 18 and al["phone_input"] is True
    placed = [w for w in words if w["start"] is not None]
    assert all(0 <= w["start"] < w["end"] <= 5.8 for w in placed)
    assert all(p[0] in ("sil", "bilabial", "labiodental", "rounded", "open", "mid", "dental", "alveolar",
                        "postalveolar", "dorsal") for w in placed for p in w["phones"])
    # the preview draws the words: it is a different picture from one without them
    plain = tmp_path / "plain"
    assert cli.main(["generate", str(wav), "--takes", "2", "--out", str(plain), "--format", "png",
                     "--no-transcript"]) == 0
    assert (out / "takes.png").read_bytes() != (plain / "takes.png").read_bytes()



def test_language_picks_the_pronunciations(wav, tmp_path):
    """--language is recorded with the alignment; the same words read as Spanish get other phone classes."""
    runs = {}
    for lang in ("en", "es"):
        out = tmp_path / lang
        assert cli.main(["generate", str(wav), "--takes", "1", "--out", str(out), "--format", "json",
                         "--language", lang, "--text", "hola amigo como estas"]) == 0
        runs[lang] = _json(out)["settings"]["alignment"]
        assert runs[lang]["language"] == lang
    phones = {lang: [p[0] for w in al["words"] for p in w["phones"]] for lang, al in runs.items()}
    assert phones["en"] != phones["es"] and "rounded" in phones["es"]
    res = run_cli("generate", str(wav), "--text", "hola", "--language", "xx", "--out", str(tmp_path / "bad"))
    assert res.returncode != 0 and "invalid choice: 'xx'" in res.stderr and not (tmp_path / "bad").exists()


def test_draw_words_labels_every_placed_word():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from thunder_cli.preview import draw_words

    fig, ax = plt.subplots()
    words = [{"text": "one", "start": 0.1, "end": 0.4, "used": True},
             {"text": "lost", "start": None, "end": None, "used": False},
             {"text": "two", "start": 0.5, "end": 0.9, "used": False}]
    assert draw_words(ax, words) == 2
    assert [t.get_text() for t in ax.texts] == ["one", "two"]
    plt.close(fig)


def test_batch_uses_the_txt_beside_each_audio_file(tmp_path):
    a = Path(shutil.copy(DEMO_WAV, tmp_path / "first.wav"))
    b = Path(shutil.copy(DEMO_WAV, tmp_path / "second.wav"))
    (tmp_path / "first.txt").write_text(DEMO_TEXT, encoding="utf-8")
    out = tmp_path / "out"
    res = run_cli("generate", str(a), str(b), "--takes", "1", "--out", str(out), "--format", "json")
    assert res.returncode == 0, res.stderr
    assert "first.wav: using the transcript first.txt beside it" in res.stderr
    assert "second.wav: using" not in res.stderr
    assert "alignment" in _json(out, "first")["settings"]
    assert "alignment" not in _json(out, "second")["settings"]
    # --no-transcript ignores it
    res = run_cli("generate", str(a), "--takes", "1", "--out", str(tmp_path / "no"), "--format", "json",
                  "--no-transcript")
    assert res.returncode == 0 and "using the transcript" not in res.stderr
    assert "alignment" not in _json(tmp_path / "no")["settings"]


def test_without_transcript_outputs_are_unchanged(wav, tmp_path):
    """No transcript: byte-identical outputs whether or not a .txt was there and ignored; the .txt beside the
    .wav is used when it is not refused, and then (the shipped model takes the aligned phones) the takes change."""
    base = ["--takes", "2", "--seed", "4", "--format", "json,csv,png"]
    assert cli.main(["generate", str(wav), *base, "--out", str(tmp_path / "a")]) == 0
    wav.with_suffix(".txt").write_text(DEMO_TEXT, encoding="utf-8")
    assert cli.main(["generate", str(wav), *base, "--out", str(tmp_path / "b"), "--no-transcript"]) == 0
    for f in sorted((tmp_path / "a").iterdir()):
        assert f.read_bytes() == (tmp_path / "b" / f.name).read_bytes(), f.name
    assert cli.main(["generate", str(wav), *base, "--out", str(tmp_path / "c")]) == 0
    a, c = _json(tmp_path / "a"), _json(tmp_path / "c")
    assert "alignment" not in a["settings"] and "alignment" in c["settings"]
    assert (tmp_path / "a" / "takes_take_1.csv").read_bytes() != (tmp_path / "c" / "takes_take_1.csv").read_bytes()


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (b"   \n\t", "is empty"),
    (b"caf\xe9 au lait", "is not UTF-8 text"),
    (b"abc\x00def", "is not a text file"),
])
def test_bad_transcript_files_get_one_line(wav, tmp_path, content, message):
    txt = tmp_path / "t.txt"
    txt.write_bytes(content)
    out = tmp_path / "out"
    res = run_cli("generate", str(wav), "--transcript", str(txt), "--out", str(out), "--format", "json")
    assert res.returncode != 0
    lines = [ln for ln in res.stderr.strip().splitlines() if ln]
    assert len(lines) == 1 and message in lines[0], res.stderr
    assert not out.exists()


def test_other_transcript_errors(wav, tmp_path):
    huge = tmp_path / "huge.txt"
    huge.write_bytes(b"word " * 400_000)
    cases = [
        (["--transcript", str(huge)], "a transcript is the text of one clip"),
        (["--transcript", str(tmp_path / "missing.txt")], "transcript not found"),
        (["--text", "a", "--transcript", str(huge)], "either --text or --transcript"),
        (["--text", "   "], "--text is empty"),
        (["--text", "日本語のテキスト"], "no words that can be pronounced"),
        (["--text", "word " * 300], "not the text of this clip"),
    ]
    for extra, message in cases:
        res = run_cli("generate", str(wav), *extra, "--out", str(tmp_path / "out"), "--format", "json")
        lines = [ln for ln in res.stderr.strip().splitlines() if ln and not ln.startswith("generating")]
        assert res.returncode != 0 and message in lines[-1], (extra[:1], res.stderr)
        assert not (tmp_path / "out").exists()
    other = Path(shutil.copy(wav, tmp_path / "other.wav"))
    res = run_cli("generate", str(wav), str(other), "--text", "hello", "--out", str(tmp_path / "out"))
    assert res.returncode != 0 and "apply to one audio file" in res.stderr
