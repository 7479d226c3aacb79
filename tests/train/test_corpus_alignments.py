"""Committed alignments (``corpus.alignments``): a build without caches decodes instead of aligning, gets the
same cache and records, and aligns afresh any clip whose decoded audio is not the audio it was aligned on."""
from __future__ import annotations

import numpy as np
import pytest

from tests.train.test_corpus_recorded import _fillets_package
from thunder_train.corpus import alignments, real, recorded


def _arrays(path):
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _tamper(store_file, index: int) -> None:
    """Change one stored row's audio hash, as if the recording decoded differently on this machine."""
    z = _arrays(store_file)
    sha = z["audio_sha"].astype(object)
    sha[index] = "0" * 64
    z["audio_sha"] = sha.astype(str)
    np.savez_compressed(store_file, **z)


def test_recorded_source_is_rebuilt_from_committed_alignments(tmp_path):
    _fillets_package(tmp_path / "cache" / "src" / "x")
    cache, store = tmp_path / "cache", tmp_path / "alignments"
    quiet = lambda *_: None  # noqa: E731
    recs, _ = recorded.recorded_records(("fillets-cs",), cache, seed=3, workers=2, log=quiet)
    cached = cache / "recorded_fillets-cs.npz"
    original = _arrays(cached)
    assert alignments.export(cache, store, quiet) == {"recorded_fillets-cs.npz": 4}
    exported = store / "recorded_fillets-cs.npz"
    assert "audio" not in _arrays(exported)
    stamp = exported.stat().st_mtime_ns
    alignments.export(cache, store, quiet)  # unchanged content: the committed file is left alone
    assert exported.stat().st_mtime_ns == stamp

    cached.unlink()
    log: list[str] = []
    again, _ = recorded.recorded_records(("fillets-cs",), cache, seed=3, workers=2, log=log.append,
                                         alignments=store)
    assert any("4 of 4 clips taken from the committed alignments" in m and "0 to align" in m for m in log), log
    assert not any("aligned" in m for m in log), log
    rebuilt = _arrays(cached)
    assert set(rebuilt) == set(original)
    for k in original:
        if k != "align_wall_s":
            np.testing.assert_array_equal(rebuilt[k], original[k], err_msg=k)
    for split in recs:
        for a, b in zip(recs[split], again[split], strict=True):
            np.testing.assert_array_equal(a.audio, b.audio)
            np.testing.assert_array_equal(a.perf, b.perf)
            assert a.segments == b.segments

    # one clip whose audio no longer matches its stored hash is aligned again, the others are not
    z = _arrays(exported)
    decoded = int(np.flatnonzero(z["decoded"])[0])
    _tamper(exported, decoded)
    cached.unlink()
    log.clear()
    fresh, _ = recorded.recorded_records(("fillets-cs",), cache, seed=3, workers=1, log=log.append,
                                         alignments=store)
    assert any("3 of 4 clips taken" in m and "1 to align" in m for m in log), log
    assert any("aligned 1/1 clips" in m for m in log), log
    np.testing.assert_array_equal(_arrays(cached)["ph_time"], original["ph_time"])  # alignment is deterministic


def test_asterisk_prompts_take_stored_phones_when_the_audio_matches(tmp_path, monkeypatch):
    if not (real.SOUNDS / real.SETS["en"]).exists():
        pytest.skip("asterisk-core-sounds-en-g722 is not installed")
    everything = real.transcripts("en")
    tr = {n: everything[n] for n in sorted(everything)[:24] + ["agent-pass"]}  # a small prompt set
    monkeypatch.setattr(real, "transcripts", lambda lang: tr)
    names = sorted(n for n in tr if (real.SOUNDS / real.SETS["en"] / f"{n}.g722").exists())
    audio = [real.decode(real.SOUNDS / real.SETS["en"] / f"{n}.g722") for n in names]
    # a cache whose "alignments" are marks no aligner would produce: one phone per prompt, named after it
    marks = [(f"mark{i}", 0.01 * i, 0.01 * i + 0.5) for i in range(len(names))]
    cache, store = tmp_path / "cache", tmp_path / "alignments"
    cache.mkdir()
    np.savez_compressed(
        cache / "real_en.npz", names=np.array(names), kinds=np.array(["cmu"] * len(names)),
        audio=np.concatenate(audio), audio_offsets=np.concatenate([[0], np.cumsum([len(a) for a in audio])]),
        ph_name=np.array([m[0] for m in marks]), ph_time=np.array([m[1:] for m in marks]),
        ph_offsets=np.arange(len(names) + 1))
    alignments.export(cache, store, lambda *_: None)
    target = names.index("agent-pass")
    _tamper(store / "real_en.npz", target)
    (cache / "real_en.npz").unlink()
    log: list[str] = []
    prompts = real.load_or_align("en", cache, workers=2, log=log.append, alignments=store)
    assert any(f"{len(names) - 1} of {len(names)} prompts taken from the committed alignments" in m for m in log), log
    for i, p in enumerate(prompts):
        np.testing.assert_array_equal(p["audio"], audio[i])
        if i == target:  # aligned by pocketsphinx: real CMU phones
            assert p["kind"] == "cmu" and len(p["phones"]) > 5 and not p["phones"][0][0].startswith("mark")
        else:
            assert p["phones"] == [marks[i]] and p["kind"] == "cmu"
    # the rebuilt cache is what the next build reads, without decoding or aligning
    assert [p["phones"] for p in real.load_or_align("en", cache, log=log.append)] == [p["phones"] for p in prompts]


def test_without_committed_alignments_the_store_is_empty(tmp_path):
    assert len(alignments.Store(None, "real_en.npz")) == 0
    assert len(alignments.Store(tmp_path, "real_en.npz")) == 0
    pcm = np.array([0, 1, -1, 32767, -32768], np.int16)
    assert alignments.audio_sha(pcm) == alignments.audio_sha(pcm.astype(np.float32) / 32768.0)
    assert alignments.audio_sha(None) == ""
