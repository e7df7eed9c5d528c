import pytest

from core.errors import CheckpointError
from core.fingerprint import TrainingFingerprint, ngram_hashes

CORPUS = [
    "The lighthouse keeper counted the ships every night until the fog swallowed the last one.",
    "A dragon moved into the apartment upstairs and complained about the noise.",
]


def test_flags_a_verbatim_copy_but_not_shared_phrases():
    fingerprint = TrainingFingerprint.from_texts(CORPUS)
    copied = "Then: the lighthouse keeper counted the ships every night until the fog swallowed it."
    assert fingerprint.copies(copied)
    assert fingerprint.longest_copied_run(copied) == 12
    # Case and punctuation do not hide a copy.
    assert fingerprint.copies(CORPUS[1].upper().replace(" ", "  "))
    original = "The keeper counted ships at night, and a dragon complained about noise upstairs."
    assert not fingerprint.copies(original)
    assert fingerprint.longest_copied_run(original) == 0
    assert fingerprint.longest_copied_run("too short") == 0


def test_save_and_load_round_trip(tmp_path):
    fingerprint = TrainingFingerprint.from_texts(CORPUS)
    path = fingerprint.save(tmp_path / "ngrams.bin")
    loaded = TrainingFingerprint.load(path)
    assert len(loaded) == len(fingerprint) > 0
    assert loaded.copies(CORPUS[0])
    assert path.stat().st_size == 20 + 8 * len(fingerprint)


def test_sampling_keeps_large_corpora_compact_and_still_catches_long_copies():
    texts = [f"story number {i} " + " ".join(f"w{i}x{j}" for j in range(40)) for i in range(200)]
    full = TrainingFingerprint.from_texts(texts)
    small = TrainingFingerprint.from_texts(texts, max_hashes=len(full) // 5)
    assert len(small) <= len(full) // 5
    assert small.sample_mod > 1
    assert small.copies(texts[7])
    assert not small.copies(" ".join(f"other{j}" for j in range(60)))


@pytest.mark.parametrize(
    "content", [b"", b"CFNG", b"XXXX" + bytes(16), b"CFNG\x01\x00\x08\x00" + bytes(12) + b"1"]
)
def test_refuses_a_damaged_file(tmp_path, content):
    path = tmp_path / "ngrams.bin"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="re-export"):
        TrainingFingerprint.load(path)


def test_ngram_hashing_ignores_case_and_punctuation():
    assert ngram_hashes("one two three four five six seven eight") == [
        ngram_hashes("ONE two, three four five six seven eight!")[0]
    ]


def test_words_the_caller_gave_never_count_as_copying():
    fingerprint = TrainingFingerprint.from_texts(CORPUS)
    quote = "The lighthouse keeper counted the ships every night until the fog"
    assert not fingerprint.copies(" and then it rained all day long.", given=quote)
    # The model carrying the quote on does count, but only its own words.
    carried = " swallowed the last one."
    assert fingerprint.longest_copied_run(carried, given=quote) == 4
    assert fingerprint.longest_copied_run(quote + carried) == 15
