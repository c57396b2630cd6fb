"""Query evaluation: BM25 over the index's postings, vectorised with NumPy.

Whoosh's matcher tree is not used to score: for a title-length Vietnamese query (a dozen
syllables, several of them in most documents) it walks every posting through Python method
calls — 13 s per query on the 84k-article VNTC index. Here each term's postings are read from
the memory-mapped segments as arrays (and kept in an LRU cache), and the query is scored as
array arithmetic over all documents at once.

The query is a small tree of ``Node`` objects built by ``search.rank``:

* ``Term(field, text, boost)`` — BM25 score of one term in one field;
* ``Best(children, tiebreak)`` — the best child's score plus ``tiebreak`` × the others';
* ``Sum(children)`` — scores added;
* ``AllOf(children)`` — a restriction: documents matched by every child (not scored);
* ``Gate(condition, scored)`` — ``scored`` counts only where ``condition`` matches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Union

import numpy as np

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


Node = Union[Term, Best, Sum, AllOf, Gate]


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


def query_terms(node: "Node") -> set[tuple[str, str]]:
    """Every (field, term) a query tree looks up."""
    if isinstance(node, Term):
        return {(node.field, node.text)}
    if isinstance(node, Gate):
        return query_terms(node.condition) | query_terms(node.scored)
    return set().union(*(query_terms(child) for child in node.children)) if node.children else set()


@dataclass
class _Postings:
    docs: np.ndarray  # global document numbers, int32
    freqs: np.ndarray  # term frequencies, float32


class Engine:
    """Scores queries against the segments of one index generation."""

    CACHE_TERMS = 4096
    # A term in more than this share of the documents is added to a query's scores as a dense
    # vector: scattering 80,000 scores by document number costs several times more than adding
    # two arrays, and the common syllables of a language are in nearly every query.
    DENSE_SHARE = 0.125
    DENSE_CACHE_BYTES = 64 * 2**20
    # Each of the postings and the score caches holds at most this much (common terms of a
    # million articles are megabytes each: counted in terms, the caches grew to gigabytes).
    CACHE_BYTES = 256 * 2**20

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
        self._scores: LRUCache[tuple[np.ndarray, np.ndarray]] = LRUCache(
            self.CACHE_TERMS, lambda pair: pair[0].nbytes + pair[1].nbytes, self.CACHE_BYTES)
        self._dense: LRUCache[np.ndarray] = LRUCache(self.CACHE_TERMS, lambda dense: dense.nbytes, self.DENSE_CACHE_BYTES)
        self.blocks = -(-self.size // self.BLOCK)
        self._block_bounds: LRUCache[tuple[np.ndarray, np.ndarray]] = LRUCache(
            self.CACHE_TERMS, lambda pair: pair[0].nbytes + pair[1].nbytes, self.CACHE_BYTES)

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
        k1, b = self._bm25_parameters(k1, b)
        return self._scores.get_or_compute((fieldname, text, k1, b), lambda: self._bm25(fieldname, text, k1, b))

    def _bm25_parameters(self, k1: float | None, b: float | None) -> tuple[float, float]:
        """A term's own k1 and b, or the engine's where it has none."""
        return (self.k1 if k1 is None else k1), (self.b if b is None else b)

    def _bm25(self, fieldname: str, text: str, k1: float, b: float, score=None) -> tuple[np.ndarray, np.ndarray]:
        p = self.postings(fieldname, text)
        if p.docs.size == 0:
            return p.docs, p.freqs
        lengths, average = self.field_lengths(fieldname)
        return p.docs, (score or bm25)(p.docs, p.freqs, lengths, average, k1, b, self.idf(self.doc_freq(fieldname, text)))

    def _bm25_reference(self, fieldname: str, text: str, k1: float, b: float) -> tuple[np.ndarray, np.ndarray]:
        """``_bm25`` with ``bm25_reference``: the oracle of the compiled one."""
        return self._bm25(fieldname, text, k1, b, bm25_reference)

    def _densify(self, docs: np.ndarray, unit: np.ndarray) -> np.ndarray:
        dense = np.zeros(self.size, dtype=np.float32)
        dense[docs] = unit
        return dense

    def scores(self, node: Node, blocks: np.ndarray | None = None) -> np.ndarray:
        """Dense score of every document for a scoring node (only of the documents in
        ``blocks``, when given: elsewhere 0)."""
        out = np.zeros(self.size, dtype=np.float32)
        self.add_scores(node, out, blocks)
        return out

    def add_scores(self, node: Node, out: np.ndarray, blocks: np.ndarray | None = None) -> None:
        """Add ``node``'s scores into ``out``, touching only the documents that have them
        (and of those, only the documents in ``blocks``, sorted block numbers, when given).

        A title-length query has a hundred terms; making a dense array for each of them over
        all documents cost more than reading their postings. Scores within blocks are the
        same numbers as without: each document's terms are added in the same order.
        """
        if isinstance(node, Term) and blocks is not None:
            docs, unit = self.unit_scores(node.field, node.text, node.k1, node.b)
            at = self._postings_in(node, blocks)
            out[docs[at]] += unit[at] * np.float32(node.boost)
        elif isinstance(node, Term):
            docs, unit = self.unit_scores(node.field, node.text, node.k1, node.b)
            if docs.size > self.DENSE_SHARE * self.size:
                key = (node.field, node.text, *self._bm25_parameters(node.k1, node.b))
                dense = self._dense.get_or_compute(key, lambda: self._densify(docs, unit))
                out += dense if node.boost == 1.0 else dense * np.float32(node.boost)
            else:
                out[docs] += unit * np.float32(node.boost)  # a term's documents are distinct, so += adds each once
        elif isinstance(node, Sum):
            for child in node.children:
                self.add_scores(child, out, blocks)
        elif isinstance(node, Best) and len(node.children) == 1:
            self.add_scores(node.children[0], out, blocks)
        elif isinstance(node, Best) and all(isinstance(c, Term) for c in node.children):
            parts = [self.term_scores(child) for child in node.children]
            if blocks is not None:
                parts = [(d[at], sc[at]) for (d, sc), at in zip(parts, (self._postings_in(c, blocks) for c in node.children))]
            # The compiled merge of the alternatives (add_best_reference says what it computes).
            _scoring.add_best(out, [np.ascontiguousarray(d, dtype=np.int32) for d, _ in parts],
                              [np.ascontiguousarray(sc, dtype=np.float32) for _, sc in parts], node.tiebreak)
        elif isinstance(node, Best):
            best = np.zeros(self.size, dtype=np.float32)
            total = np.zeros(self.size, dtype=np.float32)
            for child in node.children:
                s = self.scores(child, blocks)
                np.maximum(best, s, out=best)
                total += s
            out += best + node.tiebreak * (total - best)
        elif isinstance(node, Gate):
            out += np.where(self.matches(node.condition), self.scores(node.scored, blocks), np.float32(0))
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
        mask = np.zeros(self.size, dtype=bool)
        for child in node.children:  # Best and Sum match what any child matches
            mask |= self.matches(child)
        return mask

    # -- top k with block-max bounds ----------------------------------------------------------

    # Documents are grouped in blocks of BLOCK consecutive numbers. For each term the best
    # score it gives in each block is kept (cached with its scores), and a query's bound in a
    # block is the sum of its terms' bests there. Blocks are scored exactly in falling order of
    # bound until the k-th best score found beats every bound left (Lucene's and tantivy's
    # block-max idea, applied a batch of blocks at a time so that the work stays in NumPy).
    BLOCK = 128
    FIRST_BLOCKS = 16
    # After the first batch: if more than this share of the blocks left could still hold a
    # top-k document (a long query of common words), scoring everything is cheaper.
    GIVE_UP_SHARE = 0.5
    # A query with more terms than this (four syllables or more, each looked up as exact,
    # folded and opening terms, with bigrams) almost never leaves blocks to skip: its bounds
    # add up many common words (bench/pruning_bounds.py). It is scored exhaustively at once.
    PRUNE_MAX_TERMS = 24

    def _postings_in(self, term: Term, blocks: np.ndarray) -> np.ndarray:
        """Positions in a term's postings of its documents in ``blocks`` (sorted)."""
        offsets, _ = self._term_blocks(term)
        starts, ends = offsets[blocks], offsets[blocks + 1]
        lengths = ends - starts
        total = int(lengths.sum())
        if total == 0:
            return np.zeros(0, dtype=np.int64)
        # Concatenated ranges [start, end) of every block, without a Python loop.
        return np.arange(total, dtype=np.int64) + np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)

    def _term_blocks(self, term: Term) -> tuple[np.ndarray, np.ndarray]:
        """(where each block starts in the term's postings, the term's best score at boost 1
        in each block)."""
        k1, b = self._bm25_parameters(term.k1, term.b)

        def compute() -> tuple[np.ndarray, np.ndarray]:
            docs, unit = self.unit_scores(term.field, term.text, k1, b)
            edges = np.arange(self.blocks + 1, dtype=np.int64) * self.BLOCK
            offsets = np.searchsorted(docs, edges).astype(np.int64)
            best = np.zeros(self.blocks, dtype=np.float64)
            filled = offsets[1:] > offsets[:-1]
            if docs.size:
                best[filled] = np.maximum.reduceat(unit, offsets[:-1][filled])
            return offsets, best

        return self._block_bounds.get_or_compute((term.field, term.text, k1, b), compute)

    def bounds(self, node: Node) -> np.ndarray:
        """An upper bound of ``node``'s score in each block."""
        if isinstance(node, Term):
            return self._term_blocks(node)[1] * node.boost
        if isinstance(node, Gate):
            return self.bounds(node.scored)
        # Sum adds its children; Best (the best plus tiebreak ≤ 1 times the others, all ≥ 0)
        # is at most their sum.
        total = np.zeros(self.blocks, dtype=np.float64)
        for child in node.children:
            total += self.bounds(child)
        return total

    def top_pruned(self, node: Node, allowed: np.ndarray | None, want: int) -> tuple[np.ndarray, np.ndarray, int, bool] | None:
        """The best ``want`` documents for a scoring node, as ``top`` ranks them, scoring only
        the blocks that can hold one: (documents, the dense scores, matches counted, whether
        that count is every match). None when pruning would not pay (see PRUNE_MAX_TERMS and
        GIVE_UP_SHARE)."""
        if len(query_terms(node)) > self.PRUNE_MAX_TERMS:
            return None
        # Float32 sums may round above the float64 bound by a few units in the last place.
        bound = self.bounds(node) * (1 + 1e-4) + 1e-6
        if allowed is not None:
            bound[~np.logical_or.reduceat(allowed, np.arange(self.blocks) * self.BLOCK)] = 0
        candidates = np.flatnonzero(bound > 0)
        order = candidates[np.argsort(-bound[candidates], kind="stable")]
        out = np.zeros(self.size, dtype=np.float32)
        region: list[np.ndarray] = []
        done, batch, kth = 0, self.FIRST_BLOCKS, None
        matched = np.zeros(0, dtype=np.int64)
        while done < order.size:
            new = np.sort(order[done : done + batch])
            done += new.size
            self.add_scores(node, out, new)
            region.append((new[:, None] * self.BLOCK + np.arange(self.BLOCK)).ravel())
            docs = np.concatenate(region)
            docs = docs[docs < self.size]
            keep = (out[docs] > 0) & self.live[docs]
            if allowed is not None:
                keep &= allowed[docs]
            matched = docs[keep]
            if matched.size >= want:
                kth = np.partition(out[matched], matched.size - want)[matched.size - want]
                left = bound[order[done:]]
                if left.size == 0 or kth > left[0]:
                    break  # no block left can hold a document scoring as high: all found
                if done == min(self.FIRST_BLOCKS, order.size) and np.count_nonzero(left >= kth) > self.GIVE_UP_SHARE * self.blocks:
                    return None
            batch *= 2
        selected = matched if kth is None else matched[out[matched] >= kth]
        ranked = selected[np.lexsort((selected, -out[selected]))][:want]
        return ranked, out, int(matched.size), done == order.size

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

