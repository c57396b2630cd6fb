"""Query evaluation: BM25 over the index's postings.

Whoosh's matcher tree is not used to score: for a title-length Vietnamese query (a dozen
syllables, several of them in most documents) it walks every posting through Python method
calls — 13 s per query on the 84k-article VNTC index. Here each term's postings are read from
the memory-mapped segments as arrays (and kept in an LRU cache). The top k by relevance is
found by compiled code, document at a time with block-max MaxScore (``Engine.top_pruned``,
``top_k`` in search/_scoring.c), which skips the documents that cannot enter it; where every
match needs a score (date order, the recency boost, facets) the query is scored as NumPy
array arithmetic over all documents at once (``Engine.scores``), which is also the oracle
the compiled path is tested against.

The query is a small tree of ``Node`` objects built by ``search.rank``:

* ``Term(field, text, boost)`` — BM25 score of one term in one field;
* ``Best(children, tiebreak)`` — the best child's score plus ``tiebreak`` × the others';
* ``Sum(children)`` — scores added;
* ``AllOf(children)`` — a restriction: documents matched by every child (not scored);
* ``Gate(condition, scored)`` — ``scored`` counts only where ``condition`` matches;
* ``Phrase(field, slots, offsets)`` — a restriction: documents where the slots' syllables
  stand at those distances from each other in one field (positions, not scored).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Union

import numpy as np

from indexer.codec import found_in_sorted
from indexer.lru import LRUCache
from indexer.segment import SegmentSet
from search import _scoring  # compiled by pip install; no slow fallback (README "Design notes")

# --------------------------------------------------------------------------------------------
# Query nodes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    field: str
    text: str
    boost: float = 1.0
    # BM25 parameters of this term when not the engine's: how fast its frequency saturates
    # (k1) and how much a long document is discounted (b). See search.rank's phrase bonus.
    k1: float | None = None
    b: float | None = None


@dataclass(frozen=True)
class Best:
    children: tuple["Node", ...]
    tiebreak: float = 0.0


@dataclass(frozen=True)
class Sum:
    children: tuple["Node", ...]


@dataclass(frozen=True)
class AllOf:
    children: tuple["Node", ...]


@dataclass(frozen=True)
class Gate:
    """``scored``'s score, only in documents that ``condition`` matches."""

    condition: "Node"
    scored: "Node"


@dataclass(frozen=True)
class Phrase:
    """Documents where, in ``field``, some written form of each slot stands ``offsets[i]``
    positions after the first (codec.POSITIONAL_FIELDS keep positions; syllables split by
    punctuation are codec.BREAK_STEP apart). A slot lists its accepted written forms: the
    typed form (exact family: tone placement and i/y already canonical), or every form of
    letters typed without diacritics (``indexer.phonology.written_forms``).

    ``needs`` are (field, term) pairs every match has (the phrase's folded bigrams and its
    syllables): their postings give the candidates. Where they say it all (two syllables
    typed without diacritics: their folded bigram is exactly "these letters, together, in
    this order"), ``by_positions`` is False and no position is read."""

    field: str
    slots: tuple[tuple[str, ...], ...]
    offsets: tuple[int, ...]
    needs: tuple[tuple[str, str], ...] = ()
    by_positions: bool = True
    children: tuple = ()


Node = Union[Term, Best, Sum, AllOf, Gate, Phrase]


@dataclass(frozen=True)
class CollectionStatistics:
    """What BM25 needs to know about the whole collection: the number of live documents, each
    term's document frequency, each field's total length over live documents.

    An index computes its own. A sharded index searched shard by shard gives every shard the
    sums over all shards (Elasticsearch's dfs_query_then_fetch), so that each scores exactly
    as one index of all the articles would.
    """

    documents: int
    doc_freqs: dict[tuple[str, str], int]  # (field, term) -> live documents that have it
    length_sums: dict[str, float]  # field -> total length over live documents

    def average_length(self, fieldname: str) -> float:
        total = self.length_sums.get(fieldname, 0.0)
        return total / self.documents if self.documents and total > 0 else 1.0

    @staticmethod
    def combined(parts: "list[CollectionStatistics]") -> "CollectionStatistics":
        doc_freqs: dict[tuple[str, str], int] = {}
        length_sums: dict[str, float] = {}
        for part in parts:
            for key, n in part.doc_freqs.items():
                doc_freqs[key] = doc_freqs.get(key, 0) + n
            for name, total in part.length_sums.items():
                length_sums[name] = length_sums.get(name, 0.0) + total
        return CollectionStatistics(sum(p.documents for p in parts), doc_freqs, length_sums)


def add_best_reference(out: np.ndarray, docs: list[np.ndarray], scores: list[np.ndarray], tiebreak: float) -> None:
    """What ``search._scoring.add_best`` computes, in NumPy: the oracle its tests compare with
    (same float32 values, bit for bit), and the engine's code before it was compiled.

    A dismax of term postings (each ``docs`` ascending and distinct, int32; ``scores``
    float32) added into ``out``: per document, the best alternative plus ``tiebreak`` times
    the others. Its cost here is a sort of all the postings (``lexsort``), 85% of a headline
    query's time at 84k articles; compiled, it is a merge.
    """
    all_docs = np.concatenate(docs) if docs else np.zeros(0, dtype=np.int32)
    all_scores = np.concatenate(scores) if scores else np.zeros(0, dtype=np.float32)
    if all_docs.size == 0:
        return
    order = np.lexsort((-all_scores, all_docs))
    all_docs, all_scores = all_docs[order], all_scores[order]
    first = np.ones(all_docs.size, dtype=bool)
    first[1:] = all_docs[1:] != all_docs[:-1]
    starts = np.flatnonzero(first)
    best = all_scores[starts]
    total = np.add.reduceat(all_scores, starts)
    out[all_docs[starts]] += best + np.float32(tiebreak) * (total - best)


def bm25(docs: np.ndarray, freqs: np.ndarray, lengths: np.ndarray, average: float, k1: float, b: float, idf: float) -> np.ndarray:
    """BM25 of one term's postings (``freqs`` float32; ``lengths`` of every document, float32),
    compiled (``search/_scoring.c``); ``bm25_reference`` is the same in NumPy."""
    scores = np.empty(docs.size, dtype=np.float32)
    _scoring.bm25(scores, docs, freqs, lengths, average, k1, b, idf)
    return scores


def bm25_reference(docs: np.ndarray, freqs: np.ndarray, lengths: np.ndarray, average: float, k1: float, b: float, idf: float) -> np.ndarray:
    """What ``bm25`` computes, in NumPy: the oracle of its tests (the engine's code before)."""
    norm = k1 * (1.0 - b + b * lengths[docs] / average)
    return (idf * freqs * (k1 + 1.0) / (freqs + norm)).astype(np.float32)


def block_maxima_reference(docs: np.ndarray, scores: np.ndarray, block: int, size: int) -> np.ndarray:
    """What ``search._scoring.block_maxima`` computes, in NumPy: the largest of ``scores`` in
    each window of ``block`` document numbers, 0 where none; the oracle of its tests."""
    out = np.zeros(-(-size // block), dtype=np.float32)
    if docs.size:
        window = docs // block
        starts = np.flatnonzero(np.concatenate(([True], window[1:] != window[:-1])))
        out[window[starts]] = np.maximum.reduceat(scores, starts)
    return out


def count_union_reference(docs: list[np.ndarray], allowed: np.ndarray | None, size: int, limit: int) -> tuple[int, bool]:
    """What ``search._scoring.count_union`` computes, in NumPy: the distinct allowed
    documents of the postings ``docs``, counted up to ``limit`` (count, whether complete);
    the oracle of its tests."""
    seen = np.zeros(size, dtype=bool)
    for postings in docs:
        seen[postings] = True
    if allowed is not None:
        seen &= allowed
    count = int(np.count_nonzero(seen))
    return (limit, False) if count >= limit else (count, True)


def phrase_documents(reader, phrase: Phrase, docs: np.ndarray, order: list[int] | None = None,
                     reference: bool = False) -> np.ndarray:
    """The documents among ``docs`` (a segment's numbers, ascending) where ``phrase`` stands.

    Each slot gives (document, position - its offset) pairs as 64-bit keys; a phrase stands
    where one key is in every slot's set. Slots are taken in ``order`` (rarest first), and the
    documents still possible narrow each next read."""
    keys = None
    for i in order if order is not None else range(len(phrase.slots)):
        shift = phrase.offsets[i]
        found = [reader.positions(phrase.field, text, docs, reference) for text in phrase.slots[i]]
        where = np.concatenate([d for d, _ in found]).astype(np.int64) if found else np.zeros(0, dtype=np.int64)
        positions = np.concatenate([p for _, p in found]).astype(np.int64) if found else where
        slot_keys = (where << 32) | (positions - shift)
        slot_keys = slot_keys[positions >= shift]
        if len(found) > 1:  # two forms never stand at one position: sorting is enough
            slot_keys.sort()
        keys = slot_keys if keys is None else _sorted_intersection(keys, slot_keys)
        if keys.size == 0:
            return np.zeros(0, dtype=np.int64)
        docs = _distinct_sorted(keys >> 32)
    return docs


def _sorted_intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The values in both of two ascending arrays of distinct values, ascending."""
    if a.size > b.size:
        a, b = b, a
    return a[found_in_sorted(b, a)[1]]


def _distinct_sorted(values: np.ndarray) -> np.ndarray:
    """An ascending array without its repeats."""
    if values.size < 2:
        return values
    keep = np.empty(values.size, dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def query_terms(node: "Node") -> set[tuple[str, str]]:
    """Every (field, term) a query tree looks up."""
    if isinstance(node, Term):
        return {(node.field, node.text)}
    if isinstance(node, Gate):
        return query_terms(node.condition) | query_terms(node.scored)
    return set().union(*(query_terms(child) for child in node.children)) if node.children else set()


class _ScoredTerm(NamedTuple):
    docs: np.ndarray  # int32, ascending
    unit: np.ndarray  # float32 BM25 at boost 1
    maxima: np.ndarray  # float32, the best of ``unit`` in each window of Engine.BLOCK documents


@dataclass
class _Postings:
    docs: np.ndarray  # global document numbers, int32
    freqs: np.ndarray  # term frequencies, float32


class Engine:
    """Scores queries against the segments of one index generation."""

    # Terms kept per cache. A pasted headline looks up ~70 terms, ~28 of them not in the last
    # 250 headlines' (bench: VNTC test titles); at 4,096 the caches held only the last ~60
    # queries' terms and a headline's top k cost 7.7 ms instead of 5.6. Memory is bounded by
    # CACHE_BYTES, not by this count.
    CACHE_TERMS = 65_536
    # A term in more than this share of the documents is added to a query's scores as a dense
    # vector: scattering 80,000 scores by document number costs several times more than adding
    # two arrays, and the common syllables of a language are in nearly every query.
    DENSE_SHARE = 0.125
    DENSE_CACHE_BYTES = 64 * 2**20
    # Each of the postings and the score caches holds at most this much (common terms of a
    # million articles are megabytes each: counted in terms, the caches grew to gigabytes).
    CACHE_BYTES = 256 * 2**20
    # The documents of recent phrases, as numbers: a short query's abbreviations ("Ủy ban nhân
    # dân" for "UBND", "Hà Nội" for itself or "HN") are phrases, counted to settle its match set,
    # then required by its ranking, and typed again by the next person.
    PHRASE_CACHE_BYTES = 32 * 2**20

    def __init__(self, segments: SegmentSet, k1: float = 1.2, b: float = 0.75,
                 collection: CollectionStatistics | None = None) -> None:
        self.segments = segments
        # Statistics of a larger collection this index is a shard of; None: its own.
        self.collection = collection
        self.k1, self.b = k1, b
        self.size = segments.size
        self.live = segments.live
        self.documents = int(self.live.sum())
        self._lengths: dict[str, tuple[np.ndarray, float]] = {}
        self._postings: LRUCache[_Postings] = LRUCache(
            self.CACHE_TERMS, lambda p: p.docs.nbytes + p.freqs.nbytes, self.CACHE_BYTES)
        self._scores: LRUCache[_ScoredTerm] = LRUCache(
            self.CACHE_TERMS, lambda s: s.docs.nbytes + s.unit.nbytes + s.maxima.nbytes, self.CACHE_BYTES)
        self._dense: LRUCache[np.ndarray] = LRUCache(self.CACHE_TERMS, lambda dense: dense.nbytes, self.DENSE_CACHE_BYTES)
        self._phrases: LRUCache[np.ndarray] = LRUCache(self.CACHE_TERMS, lambda docs: docs.nbytes, self.PHRASE_CACHE_BYTES)

    # -- data -----------------------------------------------------------------------------------

    def field_lengths(self, fieldname: str) -> tuple[np.ndarray, float]:
        """Length of ``fieldname`` in every document and the average over live documents (of
        the whole collection when this index is a shard of one)."""
        cached = self._lengths.get(fieldname)
        if cached is None:
            lengths = self.segments.field_lengths(fieldname).astype(np.float32)
            if self.collection is not None:
                average = self.collection.average_length(fieldname)
            else:
                average = CollectionStatistics(self.documents, {}, {fieldname: self.length_sum(fieldname)}).average_length(fieldname)
            cached = self._lengths[fieldname] = (lengths, average)
        return cached

    def length_sum(self, fieldname: str) -> float:
        """Total length of ``fieldname`` over live documents, summed exactly (in float64, from
        integers: the sum of the shards' sums is the same number)."""
        return float(self.segments.field_lengths(fieldname)[self.live].sum(dtype=np.int64))

    def statistics(self, terms: set[tuple[str, str]]) -> CollectionStatistics:
        """This index's own statistics for the given (field, term)s: the first phase of a
        sharded search."""
        fields = {name for name, _ in terms}
        return CollectionStatistics(
            self.documents,
            {(name, text): int(self.postings(name, text).docs.size) for name, text in terms},
            {name: self.length_sum(name) for name in fields},
        )

    def doc_freq(self, fieldname: str, text: str) -> int:
        """Live documents with the term: in the whole collection when this is a shard."""
        if self.collection is not None:
            return self.collection.doc_freqs[(fieldname, text)]
        return int(self.postings(fieldname, text).docs.size)

    def postings(self, fieldname: str, text: str) -> _Postings:
        return self._postings.get_or_compute((fieldname, text), lambda: self._read_postings(fieldname, text))

    def _read_postings(self, fieldname: str, text: str) -> _Postings:
        docs, freqs = self.segments.postings(fieldname, text)
        result = _Postings(docs, freqs.astype(np.float32))
        if self.documents < self.size:  # some are deleted
            keep = self.live[result.docs]
            if not keep.all():
                result = _Postings(result.docs[keep], result.freqs[keep])
        return result

    # -- scoring --------------------------------------------------------------------------------

    def idf(self, df: int) -> float:
        """BM25's idf (the Lucene form, never negative)."""
        documents = self.collection.documents if self.collection is not None else self.documents
        return math.log(1.0 + (documents - df + 0.5) / (df + 0.5))

    def term_scores(self, term: Term) -> tuple[np.ndarray, np.ndarray]:
        """(documents, scores) of one term."""
        docs, unit = self.unit_scores(term.field, term.text, term.k1, term.b)
        return docs, unit * np.float32(term.boost)

    def unit_scores(self, fieldname: str, text: str, k1: float | None = None, b: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(documents, BM25 scores at boost 1) of a term, cached: the common syllables of a
        language come back in almost every query. ``k1``/``b`` default to the engine's."""
        scored = self.scored_term(fieldname, text, k1, b)
        return scored.docs, scored.unit

    def scored_term(self, fieldname: str, text: str, k1: float | None = None, b: float | None = None) -> "_ScoredTerm":
        """A term's documents, BM25 scores at boost 1, and best score in each window of
        ``BLOCK`` documents (its bounds for ``top_pruned``), cached together: a headline's
        ~70 terms are one cache lookup each."""
        k1, b = self._bm25_parameters(k1, b)
        return self._scores.get_or_compute((fieldname, text, k1, b), lambda: self._scored_term(fieldname, text, k1, b))

    def _scored_term(self, fieldname: str, text: str, k1: float, b: float) -> "_ScoredTerm":
        docs, unit = self._bm25(fieldname, text, k1, b)
        maxima = np.empty(-(-self.size // self.BLOCK), dtype=np.float32)
        _scoring.block_maxima(maxima, docs, unit, self.BLOCK)
        return _ScoredTerm(docs, unit, maxima)

    def _bm25_parameters(self, k1: float | None, b: float | None) -> tuple[float, float]:
        """A term's own k1 and b, or the engine's where it has none."""
        return (self.k1 if k1 is None else k1), (self.b if b is None else b)

    def _bm25(self, fieldname: str, text: str, k1: float, b: float) -> tuple[np.ndarray, np.ndarray]:
        p = self.postings(fieldname, text)
        if p.docs.size == 0:
            return p.docs, p.freqs
        lengths, average = self.field_lengths(fieldname)
        return p.docs, bm25(p.docs, p.freqs, lengths, average, k1, b, self.idf(self.doc_freq(fieldname, text)))

    def _densify(self, docs: np.ndarray, unit: np.ndarray) -> np.ndarray:
        dense = np.zeros(self.size, dtype=np.float32)
        dense[docs] = unit
        return dense

    def scores(self, node: Node) -> np.ndarray:
        """Dense score of every document for a scoring node: the exhaustive evaluation, used
        where every match needs a score (date order, the recency boost, facets) and as the
        oracle of ``top_pruned``."""
        out = np.zeros(self.size, dtype=np.float32)
        self.add_scores(node, out)
        return out

    def add_scores(self, node: Node, out: np.ndarray) -> None:
        """Add ``node``'s scores into ``out``, touching only the documents that have them.

        A title-length query has a hundred terms; making a dense array for each of them over
        all documents cost more than reading their postings. The order of the float32
        additions per document is the one ``top_k`` (search/_scoring.c) follows.
        """
        if isinstance(node, Term):
            docs, unit = self.unit_scores(node.field, node.text, node.k1, node.b)
            if docs.size > self.DENSE_SHARE * self.size:
                key = (node.field, node.text, *self._bm25_parameters(node.k1, node.b))
                dense = self._dense.get_or_compute(key, lambda: self._densify(docs, unit))
                out += dense if node.boost == 1.0 else dense * np.float32(node.boost)
            else:
                out[docs] += unit * np.float32(node.boost)  # a term's documents are distinct, so += adds each once
        elif isinstance(node, Sum):
            for child in node.children:
                self.add_scores(child, out)
        elif isinstance(node, Best) and len(node.children) == 1:
            self.add_scores(node.children[0], out)
        elif isinstance(node, Best) and all(isinstance(c, Term) for c in node.children):
            parts = [self.term_scores(child) for child in node.children]
            # The compiled merge of the alternatives (add_best_reference says what it computes).
            _scoring.add_best(out, [np.ascontiguousarray(d, dtype=np.int32) for d, _ in parts],
                              [np.ascontiguousarray(sc, dtype=np.float32) for _, sc in parts], node.tiebreak)
        elif isinstance(node, Best):
            best = np.zeros(self.size, dtype=np.float32)
            total = np.zeros(self.size, dtype=np.float32)
            for child in node.children:
                s = self.scores(child)
                np.maximum(best, s, out=best)
                total += s
            out += best + node.tiebreak * (total - best)
        elif isinstance(node, Gate):
            out += np.where(self.matches(node.condition), self.scores(node.scored), np.float32(0))
        else:
            raise TypeError(f"{type(node).__name__} does not score")

    def matches(self, node: Node) -> np.ndarray:
        """Boolean mask of the documents a node matches."""
        if isinstance(node, Term):
            mask = np.zeros(self.size, dtype=bool)
            mask[self.postings(node.field, node.text).docs] = True
            return mask
        if isinstance(node, AllOf):
            mask = self.live.copy()
            for child in node.children:
                mask &= self.matches(child)
            return mask
        if isinstance(node, Gate):
            return self.matches(node.condition) & self.matches(node.scored)
        if isinstance(node, Phrase):
            return self.phrase_matches(node)
        mask = np.zeros(self.size, dtype=bool)
        for child in node.children:  # Best and Sum match what any child matches
            mask |= self.matches(child)
        return mask

    def phrase_matches(self, phrase: Phrase) -> np.ndarray:
        """Boolean mask of the documents where ``phrase`` stands, as written (cached)."""
        docs = self._phrases.get_or_compute(phrase, lambda: np.flatnonzero(self._phrase_mask(phrase)).astype(np.int32))
        mask = np.zeros(self.size, dtype=bool)
        mask[docs] = True
        return mask

    def _phrase_mask(self, phrase: Phrase) -> np.ndarray:
        """Boolean mask of the documents where ``phrase`` stands, as written.

        Documents with every term the phrase needs are the candidates (postings, cached);
        only their positions are read (skip entries jump to each one's block), rarest slot
        first, and each slot's (document, position - offset) pairs are intersected, so the
        cost follows the candidates, not the archive."""
        mask = self.live.copy()
        for field, text in phrase.needs:
            mask &= self.matches(Term(field, text))
        candidates = np.flatnonzero(mask)
        if candidates.size == 0 or not phrase.by_positions or len(phrase.slots) < 2:
            return mask
        # Only the written forms the index has, each slot's rarest first.
        slots, frequency = [], []
        for slot in phrase.slots:
            known = [(self.postings(phrase.field, text).docs.size, text) for text in slot]
            known = [(n, text) for n, text in known if n]
            slots.append(tuple(text for _, text in known))
            frequency.append(sum(n for n, _ in known))
        present_phrase = Phrase(phrase.field, tuple(slots), phrase.offsets)
        order = np.argsort(frequency, kind="stable").tolist()
        out = np.zeros(self.size, dtype=bool)
        offsets = self.segments.offsets.tolist()
        for reader, start, end in zip(self.segments.readers, offsets, offsets[1:]):
            local = candidates[(candidates >= start) & (candidates < end)] - start
            if local.size:
                out[phrase_documents(reader, present_phrase, local, order) + start] = True
        return out

    # -- top k, document at a time with MaxScore ---------------------------------------------

    # Windows of this many document numbers: each term's best score in each is what bounds it
    # there (Lucene keeps such "impacts" per block of 128 postings). Smaller windows bound more
    # tightly and cost more bookkeeping. Measured on VNTC (300 headlines, their top 30, the C
    # loop alone, 2026-12-04): 128 → 4.0 ms p50, 256 → 3.7, 512 → 3.3, 1,024 → 3.2, 2,048 →
    # 3.2; a term's window maxima take 4 bytes per window (at a million articles, 8 KB a term
    # at 512), so the smallest of the flat part is taken.
    BLOCK = 512
    # When pruning skipped documents, the matches are counted apart up to this many, then
    # reported as "at least" (Elasticsearch's track_total_hits; the deepest page a search
    # serves is the 10,000th hit).
    TRACK_TOTAL = 10_000

    def top_pruned(self, node: Node, allowed: np.ndarray | None, want: int) -> tuple[np.ndarray, np.ndarray, int, bool] | None:
        """The best ``want`` documents for a scoring node, as ``top`` ranks ``scores(node)``:
        (documents, their scores, matches counted, whether that count is every match).

        Compiled (``top_k`` in search/_scoring.c): the tree is evaluated one document at a time
        in windows of ``BLOCK`` numbers, and terms whose best score in a window cannot lift a
        document into the top ``want`` stop proposing documents there (block-max MaxScore).
        So a pasted headline's common syllables, each in most of the archive, are only looked
        up for the documents its rarer words propose. The scores are the float32 values
        ``scores`` gives, bit for bit; ``scores`` and ``top`` are its oracle in the tests.
        None when a tree's bound would not hold (a negative boost, a tiebreak outside 0..1):
        then every document is scored.
        """
        try:
            tree = _FlatTree.of(node, self)
        except _Unbounded:
            return None
        out_docs, out_scores = np.empty(want, dtype=np.int32), np.empty(want, dtype=np.float32)
        flags = None if allowed is None else np.ascontiguousarray(allowed, dtype=bool).view(np.uint8)
        found, matched, exact = _scoring.top_k(
            tree.kinds, tree.firsts, tree.counts, tree.children, tree.leaf_of, tree.tiebreaks, tree.docs, tree.scores,
            tree.boosts, tree.block_maxima, tree.bound_boosts, self.BLOCK, flags, self.size, out_docs, out_scores)
        if not exact:
            # Documents were skipped uncounted: count the matches apart, up to TRACK_TOTAL.
            union, complete = _scoring.count_union(tree.counted, flags, self.size, self.TRACK_TOTAL)
            if complete and tree.covered:
                matched, exact = union, True
            else:
                matched = max(matched, union)
        return out_docs[:found], out_scores[:found], matched, bool(exact)

    def matched(self, scores: np.ndarray, allowed: np.ndarray | None) -> np.ndarray:
        """The live documents that score and are allowed."""
        mask = (scores > 0) & self.live
        return mask & allowed if allowed is not None else mask

    def newest(self, dates: np.ndarray, scores: np.ndarray, allowed: np.ndarray | None, limit: int, offset: int = 0) -> tuple[np.ndarray, int]:
        """Matching documents newest first (undated last, ties by score), and how many matched."""
        candidates = np.flatnonzero(self.matched(scores, allowed))
        order = np.lexsort((candidates, -scores[candidates], -dates[candidates].astype(np.float64)))
        return candidates[order][offset : offset + limit], int(candidates.size)

    def top(self, scores: np.ndarray, allowed: np.ndarray | None, limit: int, offset: int = 0) -> tuple[np.ndarray, int]:
        """The best ``limit`` documents after ``offset`` (score order, ties by docnum) and how many matched."""
        want = offset + limit
        if allowed is None and self.documents == self.size:
            # Nothing filtered out: unmatched documents score 0, below every match.
            total = int(np.count_nonzero(scores > 0))
            ranked = scores
        else:
            matched = self.matched(scores, allowed)
            total = int(np.count_nonzero(matched))
            ranked = np.where(matched, scores, np.float32(-1))
        if total > want:
            # Every document scoring at least the want-th best score (> 0 here): documents tied
            # with it must all be candidates, or which of them make the cut would be arbitrary
            # (and page 2 might not continue page 1).
            kth = ranked[np.argpartition(ranked, ranked.size - want)[ranked.size - want]]
            candidates = np.flatnonzero(ranked >= kth)
        else:
            candidates = np.flatnonzero(ranked > 0)
        order = np.lexsort((candidates, -scores[candidates]))
        return candidates[order][offset:want], total


class _Unbounded(Exception):
    """A query tree whose score the sum of its terms' best scores does not bound."""


# Node kinds of search/_scoring.c's top_k.
_TERM, _SUM, _BEST, _ALL_OF, _GATE, _BEST_TERMS = range(6)


@dataclass
class _FlatTree:
    """A query tree as the arrays ``top_k`` reads: nodes in preorder (the root first, every
    child after its parent), each node's children contiguous in ``children``; a leaf per term
    occurrence, with its postings, BM25 scores at boost 1, boost and block maxima."""

    kinds: np.ndarray
    firsts: np.ndarray
    counts: np.ndarray
    children: np.ndarray
    leaf_of: np.ndarray
    tiebreaks: np.ndarray
    docs: list[np.ndarray]
    scores: list[np.ndarray]
    boosts: np.ndarray
    block_maxima: list[np.ndarray]
    bound_boosts: np.ndarray  # the boost, or 0 for a term that only restricts (a Gate's condition)
    # The postings of the terms that score outside any Gate, largest first: a document in any
    # of them scores > 0. ``covered``: every term that scores inside a Gate is one of them, so
    # their union is every match.
    counted: list[np.ndarray]
    covered: bool

    @staticmethod
    def of(root: Node, engine: Engine) -> "_FlatTree":
        kinds: list[int] = []
        firsts: list[int] = []
        counts: list[int] = []
        leaf_of: list[int] = []
        tiebreaks: list[float] = []
        children: list[int] = []
        docs: list[np.ndarray] = []
        scores: list[np.ndarray] = []
        boosts: list[float] = []
        block_maxima: list[np.ndarray] = []
        bound_boosts: list[float] = []
        ungated: dict[tuple[str, str], np.ndarray] = {}
        gated: set[tuple[str, str]] = set()
        UNGATED, GATED, CONDITION = range(3)

        def visit(node: Node, role: int) -> int:
            at = len(kinds)
            kinds.append(_TERM)
            firsts.append(0)
            counts.append(0)
            leaf_of.append(-1)
            tiebreaks.append(0.0)
            if isinstance(node, Term):
                if not node.boost >= 0:
                    raise _Unbounded
                postings, unit, maxima = engine.scored_term(node.field, node.text, node.k1, node.b)
                leaf_of[at] = len(docs)
                docs.append(postings)
                scores.append(unit)
                boosts.append(node.boost)
                block_maxima.append(maxima)
                bound_boosts.append(0.0 if role == CONDITION else node.boost)
                if node.boost > 0 and role != CONDITION:
                    key = (node.field, node.text)  # the postings; k1 and b change only scores
                    if role == UNGATED:
                        ungated[key] = postings
                    else:
                        gated.add(key)
                return at
            if isinstance(node, Gate):
                parts, kind = (node.condition, node.scored), _GATE
                roles = (CONDITION, CONDITION if role == CONDITION else GATED)
            elif isinstance(node, AllOf):
                if role != CONDITION:
                    raise TypeError("AllOf does not score")
                parts, kind, roles = node.children, _ALL_OF, (CONDITION,) * len(node.children)
            elif isinstance(node, Best):
                if not 0 <= node.tiebreak <= 1:
                    raise _Unbounded
                parts, roles = node.children, (role,) * len(node.children)
                if len(parts) == 1:
                    kind = _SUM  # a Best of one adds its child, as a Sum of one does
                elif all(isinstance(c, Term) for c in parts):
                    kind = _BEST_TERMS
                else:
                    kind = _BEST
                tiebreaks[at] = node.tiebreak
            elif isinstance(node, Sum):
                parts, kind, roles = node.children, _SUM, (role,) * len(node.children)
            else:
                raise TypeError(f"{type(node).__name__} is not a query node")
            kinds[at] = kind
            ids = [visit(child, r) for child, r in zip(parts, roles)]
            firsts[at], counts[at] = len(children), len(ids)
            children.extend(ids)
            return at

        visit(root, UNGATED)
        i32 = lambda values: np.asarray(values, dtype=np.int32)  # noqa: E731
        return _FlatTree(i32(kinds), i32(firsts), i32(counts), i32(children), i32(leaf_of),
                         np.asarray(tiebreaks, dtype=np.float32), docs, scores, np.asarray(boosts, dtype=np.float32),
                         block_maxima, np.asarray(bound_boosts, dtype=np.float32),
                         sorted(ungated.values(), key=len, reverse=True), gated <= ungated.keys())
