"""A compact fingerprint of a training corpus, to flag output that copies it verbatim.

The seeds checked generated text for plagiarism by hand with online tools; here it is built in.
`campfire-train export` writes the fingerprint of the training text into the checkpoint folder
(the manifest's `training_ngrams` names the file) and the server checks every candidate against
it. The fingerprint is the set of 64-bit hashes of the corpus's word n-grams (lower-cased,
punctuation-insensitive), so it reveals no text and costs 8 bytes per n-gram; a corpus too large
for `max_hashes` keeps an evenly sampled subset (hashes divisible by a power of two), and the
check samples the candidate's n-grams the same way.

File format (little-endian): magic b"CFNG", uint16 version, uint16 n, uint32 sample_mod,
uint64 count, then `count` sorted uint64 hashes.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
import sys
import tempfile
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from pathlib import Path

from core.errors import CheckpointError

FINGERPRINT_FILE = "training_ngrams.bin"
DEFAULT_N = 8
DEFAULT_MAX_HASHES = 2_000_000
_MAGIC = b"CFNG"
_VERSION = 1
_HEADER = struct.Struct("<4sHHIQ")
_WORD = re.compile(r"[\w']+")


def _little_endian(values: array[int]) -> array[int]:
    """The file is little-endian; swap on a big-endian machine (a copy, the input is untouched)."""
    if sys.byteorder == "little":
        return values
    swapped = array("Q", values)
    swapped.byteswap()
    return swapped


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _hash(gram: Iterable[str]) -> int:
    digest = hashlib.blake2b(" ".join(gram).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def ngram_hashes(text: str, n: int = DEFAULT_N) -> list[int]:
    """Hashes of every word n-gram of text, in order (empty when text has fewer than n words)."""
    tokens = words(text)
    return [_hash(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


class TrainingFingerprint:
    def __init__(self, hashes: Iterable[int], *, n: int = DEFAULT_N, sample_mod: int = 1) -> None:
        self.n = n
        self.sample_mod = sample_mod
        self._hashes = array("Q", sorted(set(hashes)))

    def __len__(self) -> int:
        return len(self._hashes)

    @classmethod
    def from_texts(
        cls, texts: Iterable[str], *, n: int = DEFAULT_N, max_hashes: int = DEFAULT_MAX_HASHES
    ) -> TrainingFingerprint:
        unique: set[int] = set()
        for text in texts:
            unique.update(ngram_hashes(text, n))
        sample_mod = 1
        while len(unique) > max_hashes:
            sample_mod *= 2
            unique = {h for h in unique if h % sample_mod == 0}
        return cls(unique, n=n, sample_mod=sample_mod)

    def union(
        self, other: TrainingFingerprint, max_hashes: int = DEFAULT_MAX_HASHES
    ) -> TrainingFingerprint:
        """Both corpora's n-grams (a checkpoint fine-tuned in stages checks against both)."""
        if other.n != self.n:
            raise ValueError(f"cannot join {self.n}-gram and {other.n}-gram fingerprints")
        sample_mod = max(self.sample_mod, other.sample_mod)  # powers of two: a common sampling
        unique = {h for h in (*self._hashes, *other._hashes) if h % sample_mod == 0}
        while len(unique) > max_hashes:
            sample_mod *= 2
            unique = {h for h in unique if h % sample_mod == 0}
        return TrainingFingerprint(unique, n=self.n, sample_mod=sample_mod)

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int):
            return False
        i = bisect_left(self._hashes, value)
        return i < len(self._hashes) and self._hashes[i] == value

    def longest_copied_run(self, text: str, given: str = "") -> int:
        """Words of text in its longest stretch that is a run of training n-grams.

        given: what came before text and is not the model's (a user's prefix): its words give
        the run context but never count, so a user quoting the training data is not flagged,
        while a model that carries such a quote on is. With sampling, the run's ends are the
        first and last sampled n-grams, so the figure is an estimate; without (most user
        corpora), it is exact up to hash collisions.
        """
        tokens = words(given + text)
        skip = len(words(given))
        best = 0
        first = last = -1
        for i in range(max(0, skip - self.n + 1), len(tokens) - self.n + 1):
            h = _hash(tokens[i : i + self.n])
            if self.sample_mod > 1 and h % self.sample_mod:
                continue
            if h not in self:
                first = -1
                continue
            first = i if first < 0 else first
            last = i
            best = max(best, last + self.n - max(first, skip))
        return best

    def copies(self, text: str, min_words: int = 12, given: str = "") -> bool:
        """True when text repeats at least min_words consecutive words of the training data."""
        return self.longest_copied_run(text, given) >= min_words

    def save(self, path: str | os.PathLike[str]) -> Path:
        target = Path(path)
        header = _HEADER.pack(_MAGIC, _VERSION, self.n, self.sample_mod, len(self._hashes))
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".ngrams-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(header)
                handle.write(_little_endian(self._hashes).tobytes())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TrainingFingerprint:
        source = Path(path)
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise CheckpointError(
                f"training fingerprint {source}: cannot read it ({exc.strerror})"
            ) from None
        if len(data) < _HEADER.size:
            raise CheckpointError(f"training fingerprint {source}: file is truncated; re-export")
        magic, version, n, sample_mod, count = _HEADER.unpack_from(data)
        body = data[_HEADER.size :]
        if magic != _MAGIC or version != _VERSION or len(body) != count * 8 or sample_mod < 1:
            raise CheckpointError(
                f"training fingerprint {source}: not a version-{_VERSION} Campfire fingerprint; "
                "re-export the checkpoint"
            )
        hashes = array("Q")
        hashes.frombytes(body)
        hashes = _little_endian(hashes)
        fingerprint = cls((), n=n, sample_mod=sample_mod)
        fingerprint._hashes = hashes
        return fingerprint
