"""Term keys: what the indexer makes of a batch of texts, as integer keys in NumPy arrays.

The analyzers (``indexer.analysis``) are the specification of a text's terms; this is the
indexer's fast path to the same terms (tests check both agree): syllables found once per text,
then keys, folded keys, bigram keys and opening flags as array arithmetic over a whole batch.
"""

from __future__ import annotations

import hashlib
import threading
import zlib
from array import array
from typing import NamedTuple, Sequence

import numpy as np

from indexer.codec import BREAK_STEP
from indexer.phonology import fold_diacritics, normalize_term
from indexer.tokenizer import JOINING_GAPS, clean_token, codes_in, gaps_and_syllables

class TermKeys:
    """Integer keys for the terms one writer meets while indexing.

    Each distinct syllable-level term (exact or folded form) gets a number from 1 up; a bigram
    is the pair of its syllables' numbers in one integer (``first << 32 | second``), so it is
    never built as a string while documents are analysed. Counting and sorting integer keys
    is what makes indexing fast; ``text`` turns a key back into the term when a segment is
    written.

    Each build or update makes its own (``indexer.build``), so the table lives as long as the
    segments it numbers and holds only their vocabulary and document ids. One instance may
    still be shared by threads: new terms are numbered under a lock (the tables are appended
    to together, and an array cannot grow while NumPy reads it), lookups of known syllables
    take no lock.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._numbers: dict[str, int] = {}
        self._texts: list[str] = [""]  # key 0 is never used
        self._hashes = array("I", [0])  # crc32: small, for near-duplicate signatures
        self._digests = array("Q", [0])  # 64 bits: for exact-duplicate fingerprints
        # raw syllable as written -> exact key, and exact key -> folded key: most syllables
        # repeat, so after the first documents analysis is lookups, done in bulk.
        self._exact_keys: dict[str, int] = {}
        self._folded = array("I", [0])  # 0: not the exact form of any syllable seen

    def __len__(self) -> int:
        """How many keys are taken, key 0 (never used) included."""
        return len(self._texts)

    def number(self, term: str) -> int:
        key = self._numbers.get(term)
        if key is None:
            with self._lock:
                key = self._numbers.get(term)
                if key is None:
                    key = len(self._texts)
                    encoded = term.encode("utf-8")
                    self._texts.append(term)
                    self._hashes.append(zlib.crc32(encoded))
                    self._digests.append(int.from_bytes(hashlib.blake2b(encoded, digest_size=8).digest(), "little"))
                    self._folded.append(0)
                    self._numbers[term] = key  # last: a key is visible only once complete
        return key

    def stable_hashes(self, keys: Sequence[int]) -> np.ndarray:
        """A hash of each (syllable-level) term that is the same in every process and run,
        unlike the keys themselves (uint32)."""
        with self._lock:
            return np.frombuffer(self._hashes, dtype=np.uint32)[np.asarray(keys, dtype=np.int64)]

    def fingerprint(self, keys: Sequence[int]) -> str:
        """A hash of a sequence of (syllable-level) terms, the same in every process and run.

        It hashes the terms' 64-bit digests rather than their text: several times cheaper
        than joining the text, and two different terms sharing a digest is not a real risk.
        """
        with self._lock:
            digests = np.frombuffer(self._digests, dtype=np.uint64)[np.asarray(keys, dtype=np.int64)]
        return hashlib.sha1(digests.tobytes()).hexdigest()

    def forms_of(self, word: str) -> tuple[int, int]:
        """(exact key, folded key) of a syllable as written."""
        exact = self._exact_keys.get(word)
        if exact is None:
            with self._lock:
                exact = self._exact_keys.get(word)
                if exact is None:
                    if len(self._exact_keys) >= 500_000:  # junk input must not grow it without end
                        self._exact_keys.clear()
                    term = normalize_term(clean_token(word))
                    exact = self.number(term)
                    self._folded[exact] = self.number(fold_diacritics(term))
                    self._exact_keys[word] = exact
        return exact, self._folded[exact]

    def syllable_keys(self, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(exact keys, folded keys) of syllables as written, as arrays: ``forms_of`` in bulk."""
        keys = list(map(self._exact_keys.get, words))
        if None in keys:
            keys = [key if key is not None else self.forms_of(word)[0] for key, word in zip(keys, words)]
        exact = np.array(keys, dtype=np.int64)
        with self._lock:
            folded = np.frombuffer(self._folded, dtype=np.uint32)[exact].astype(np.int64)
        return exact, folded

    def text(self, key: int) -> str:
        if key >> 32:
            return self._texts[key >> 32] + " " + self._texts[key & 0xFFFFFFFF]
        return self._texts[key]


# For analysing the odd text outside a build (``vnsearch inspect``, tests); writers use their own.
TERM_KEYS = TermKeys()


class DocumentTerms(NamedTuple):
    """The term keys (see ``TermKeys``) of one text in each field family."""

    exact: np.ndarray
    folded: np.ndarray
    folded_bigrams: np.ndarray
    prefix: tuple[int, int, int] = (0, 0, 0)  # see document_terms(prefix_chars=...)

    def texts(self, family: int, keys: TermKeys | None = None) -> list[str]:
        """The terms of one family as text (0 exact, 1 folded, 2 folded bigrams)."""
        keys = keys if keys is not None else TERM_KEYS
        return [keys.text(k) for k in self[family].tolist()]


class FamilyTerms(NamedTuple):
    """The term keys of one field family for a batch of texts, text after text."""

    keys: np.ndarray  # int64
    docs: np.ndarray  # int64: which text of the batch each key comes from (ascending)
    in_prefix: np.ndarray  # bool: from a syllable that starts in the text's first prefix_chars
    # int64, exact family only: where each term stands in its text, one step per syllable and
    # BREAK_STEP where the syllable does not stand together with the one before (a code stands
    # where its first syllable does). None for the other families.
    positions: np.ndarray | None = None

    def per_text(self, n_texts: int) -> list[np.ndarray]:
        """The keys of each text of the batch (``n_texts`` of them), in order."""
        return np.split(self.keys, np.searchsorted(self.docs, np.arange(1, n_texts)))


class BatchTerms(NamedTuple):
    """What ``exact_analyzer``, ``folded_analyzer`` and ``folded_bigram_analyzer`` make of a
    batch of texts, as term keys (see ``batch_terms``)."""

    exact: FamilyTerms
    folded: FamilyTerms
    folded_bigrams: FamilyTerms


def batch_terms(texts: Sequence[str], prefix_chars: Sequence[int] | None = None, keys: TermKeys | None = None) -> BatchTerms:
    """The terms of every text of a batch, in each field family, as term keys.

    The indexer analyses documents with this instead of running the three analyzers: the
    ICU pass (or the pattern that equals it, see ``gaps_and_syllables``) is shared by the
    families, there are no token objects or positions, and everything after finding the
    syllables is array arithmetic over the whole batch — per-syllable Python was most of the
    indexing time. The analyzers stay the specification; tests check both give the same terms.

    With ``prefix_chars`` (per text; 0 means the whole text), ``in_prefix`` marks the terms
    from syllables that start in the first ``prefix_chars`` characters (the article's opening).
    The keys are numbered by ``keys`` (the shared ``TERM_KEYS`` without).
    """
    keys = keys if keys is not None else TERM_KEYS
    all_gaps: list[str] = []
    all_words: list[str] = []
    counts = np.zeros(len(texts), dtype=np.int64)
    for d, text in enumerate(texts):
        gaps, words = gaps_and_syllables(text)
        all_gaps += gaps
        all_words += words
        counts[d] = len(words)
    n = len(all_words)
    doc = np.repeat(np.arange(len(texts), dtype=np.int64), counts)
    first = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(counts, out=first[1:])
    exact, folded = keys.syllable_keys(all_words)
    # Adjacent syllables of one text with only white space (or a code's separator) between.
    joined = np.fromiter(map(JOINING_GAPS.__getitem__, all_gaps), dtype=bool, count=n)
    joined[first[:-1][counts > 0]] = False
    # Where each syllable starts and ends in its text.
    word_lengths = np.fromiter(map(len, all_words), dtype=np.int64, count=n)
    ends = np.cumsum(np.fromiter(map(len, all_gaps), dtype=np.int64, count=n) + word_lengths)
    ends -= np.repeat(np.concatenate(([0], ends))[first[:-1]], counts)
    starts = ends - word_lengths
    if prefix_chars is None:
        in_prefix = np.ones(n, dtype=bool)
    else:
        limit = np.array(prefix_chars, dtype=np.int64)
        limit[limit <= 0] = np.iinfo(np.int64).max
        in_prefix = starts < limit[doc]
    step = np.where(joined, 1, BREAK_STEP)
    step[first[:-1][counts > 0]] = 0
    positions = np.cumsum(step)
    positions -= np.repeat(positions[first[:-1]], counts) if n else 0
    follows = joined[1:]
    bigrams = FamilyTerms(((folded[:-1] << 32) | folded[1:])[follows], doc[1:][follows], in_prefix[1:][follows])
    # Codes ("24-QĐ/TW") are kept whole besides their syllables, just before the first one.
    at: list[int] = []
    code_keys: list[tuple[int, int]] = []
    for d, text in enumerate(texts):
        codes = codes_in(text) if counts[d] else None
        if not codes:
            continue
        doc_starts, doc_ends = starts[first[d] : first[d + 1]], ends[first[d] : first[d + 1]]
        for start, code in codes.items():
            i = int(np.searchsorted(doc_starts, start))
            if i < doc_starts.size and doc_starts[i] == start and code.end() > doc_ends[i]:
                at.append(int(first[d]) + i)
                code_keys.append(keys.forms_of(code.group()))
    if at:
        where = np.array(at, dtype=np.int64)
        order = np.argsort(where, kind="stable")
        where = where[order]
        whole = np.array(code_keys, dtype=np.int64)[order]
        exact = np.insert(exact, where, whole[:, 0])
        folded = np.insert(folded, where, whole[:, 1])
        doc, in_prefix = np.insert(doc, where, doc[where]), np.insert(in_prefix, where, in_prefix[where])
        positions = np.insert(positions, where, positions[where])
    return BatchTerms(FamilyTerms(exact, doc, in_prefix, positions), FamilyTerms(folded, doc, in_prefix), bigrams)


def document_terms(text: str, prefix_chars: int = 0) -> DocumentTerms:
    """``batch_terms`` of one text; ``prefix`` counts the terms of each family that come from
    syllables starting in the first ``prefix_chars`` characters (all of them without)."""
    batch = batch_terms([text], [prefix_chars])
    return DocumentTerms(
        batch.exact.keys, batch.folded.keys, batch.folded_bigrams.keys,
        tuple(int(np.count_nonzero(family.in_prefix)) for family in batch),
    )
