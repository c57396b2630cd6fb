"""Query evaluation: BM25 over Whoosh's postings, vectorised with NumPy.

Whoosh stores the index (terms, postings in blocks, field lengths, stored fields) and vnsearch
keeps that format, but it does not use Whoosh's matcher tree to score: for a title-length
Vietnamese query (a dozen syllables, several of them in most documents) that tree walks every
posting through Python method calls — 13 s per query on the 84k-article VNTC index. Here each
term's postings are read block by block into arrays once (and kept in an LRU cache), and the
query is scored as array arithmetic over all documents at once.

The query is a small tree of ``Node`` objects built by ``search.rank``:

* ``Term(field, text, boost)`` — BM25 score of one term in one field;
* ``Best(children, tiebreak)`` — the best child's score plus ``tiebreak`` × the others';
* ``Sum(children)`` — scores added;
* ``AllOf(children)`` — a restriction: documents matched by every child (not scored);
* ``Gate(condition, scored)`` — ``scored`` counts only where ``condition`` matches.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Union

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN
from whoosh.reading import TermNotFound
from whoosh.util.numeric import byte_to_length

# --------------------------------------------------------------------------------------------
# Query nodes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    field: str
    text: str
    boost: float = 1.0


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

_LENGTH_TABLE = np.array([byte_to_length(b) for b in range(256)], dtype=np.float32)


@dataclass
class _Postings:
    docs: np.ndarray  # global document numbers, int32
    freqs: np.ndarray  # term frequencies, float32


class Engine:
    """Scores queries against one opened Whoosh searcher (one index generation)."""

    CACHE_TERMS = 4096

    def __init__(self, searcher, k1: float = 1.2, b: float = 0.75) -> None:
        self.searcher = searcher
        self.k1, self.b = k1, b
        self.leaves = [(s.reader(), offset) for s, offset in searcher.leaf_searchers()]
        self.size = searcher.doc_count_all()
        self.live = np.ones(self.size, dtype=bool)
        for reader, offset in self.leaves:
            if reader.has_deletions():
                for docnum in range(reader.doc_count_all()):
                    if reader.is_deleted(docnum):
                        self.live[offset + docnum] = False
        self.documents = int(self.live.sum())
        self._lengths: dict[str, tuple[np.ndarray, float]] = {}
        self._postings: OrderedDict[tuple[str, str], _Postings] = OrderedDict()

    # -- data -----------------------------------------------------------------------------------

    def field_lengths(self, fieldname: str) -> tuple[np.ndarray, float]:
        """Length of ``fieldname`` in every document (as Whoosh stores it) and the average."""
        cached = self._lengths.get(fieldname)
        if cached is None:
            raw = np.zeros(self.size, dtype=np.uint8)
            for reader, offset in self.leaves:
                column = reader._perdoc._cached_reader(f"_{fieldname}_len", LENGTHS_COLUMN) if hasattr(reader, "_perdoc") else None
                n = reader.doc_count_all()
                if column is not None:
                    raw[offset : offset + n] = np.fromiter((column[i] for i in range(n)), dtype=np.uint8, count=n)
                else:
                    raw[offset : offset + n] = [
                        _length_byte(reader.doc_field_length(i, fieldname)) for i in range(n)
                    ]
            lengths = _LENGTH_TABLE[raw]
            live_lengths = lengths[self.live]
            average = float(live_lengths.mean()) if live_lengths.size and live_lengths.mean() > 0 else 1.0
            cached = self._lengths[fieldname] = (lengths, average)
        return cached

    def postings(self, fieldname: str, text: str) -> _Postings:
        key = (fieldname, text)
        cached = self._postings.get(key)
        if cached is not None:
            self._postings.move_to_end(key)
            return cached
        docs: list[np.ndarray] = []
        freqs: list[np.ndarray] = []
        for reader, offset in self.leaves:
            try:
                matcher = reader.postings(fieldname, text)
            except TermNotFound:
                continue
            d, f = _read_postings(matcher)
            docs.append(d + offset)
            freqs.append(f)
        if docs:
            result = _Postings(np.concatenate(docs).astype(np.int32), np.concatenate(freqs).astype(np.float32))
        else:
            result = _Postings(np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32))
        keep = self.live[result.docs]
        if not keep.all():
            result = _Postings(result.docs[keep], result.freqs[keep])
        self._postings[key] = result
        if len(self._postings) > self.CACHE_TERMS:
            self._postings.popitem(last=False)
        return result

    # -- scoring --------------------------------------------------------------------------------

    def idf(self, df: int) -> float:
        """BM25's idf (the Lucene form, never negative)."""
        return math.log(1.0 + (self.documents - df + 0.5) / (df + 0.5))

    def term_scores(self, term: Term) -> tuple[np.ndarray, np.ndarray]:
        """(documents, scores) of one term."""
        p = self.postings(term.field, term.text)
        if p.docs.size == 0:
            return p.docs, p.freqs
        lengths, average = self.field_lengths(term.field)
        norm = self.k1 * (1.0 - self.b + self.b * lengths[p.docs] / average)
        scores = (term.boost * self.idf(p.docs.size)) * p.freqs * (self.k1 + 1.0) / (p.freqs + norm)
        return p.docs, scores.astype(np.float32)

    def scores(self, node: Node) -> np.ndarray:
        """Dense score of every document for a scoring node."""
        if isinstance(node, Term):
            out = np.zeros(self.size, dtype=np.float32)
            docs, scores = self.term_scores(node)
            out[docs] = scores
            return out
        if isinstance(node, Sum):
            out = np.zeros(self.size, dtype=np.float32)
            for child in node.children:
                out += self.scores(child)
            return out
        if isinstance(node, Best):
            best = np.zeros(self.size, dtype=np.float32)
            total = np.zeros(self.size, dtype=np.float32)
            for child in node.children:
                s = self.scores(child)
                np.maximum(best, s, out=best)
                total += s
            return best + node.tiebreak * (total - best)
        if isinstance(node, Gate):
            return np.where(self.matches(node.condition), self.scores(node.scored), np.float32(0))
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

    def top(self, scores: np.ndarray, allowed: np.ndarray | None, limit: int, offset: int = 0) -> tuple[np.ndarray, int]:
        """The best ``limit`` documents after ``offset`` (score order, ties by docnum) and how many matched."""
        matched = (scores > 0) & self.live
        if allowed is not None:
            matched &= allowed
        candidates = np.flatnonzero(matched)
        total = int(candidates.size)
        want = offset + limit
        if total > want:
            part = np.argpartition(-scores[candidates], want - 1)[:want]
            candidates = candidates[part]
        order = np.lexsort((candidates, -scores[candidates]))
        return candidates[order][offset:want], total


def _length_byte(length: int) -> int:
    from whoosh.util.numeric import length_to_byte

    return length_to_byte(length)


def _read_postings(matcher) -> tuple[np.ndarray, np.ndarray]:
    """All (docnum, frequency) of a Whoosh leaf matcher, a block at a time where possible."""
    ids: list = []
    weights: list = []
    if hasattr(matcher, "_read_ids") and hasattr(matcher, "_next_block"):
        # Whoosh 3 codec: postings come in blocks; decode each block whole.
        while not matcher._atend and matcher.is_active():
            matcher._read_ids()
            matcher._read_weights()
            ids.extend(matcher._ids)
            weights.extend(matcher._weights)
            matcher._next_block()
    else:
        while matcher.is_active():
            ids.append(matcher.id())
            weights.append(matcher.weight())
            matcher.next()
    return np.asarray(ids, dtype=np.int64), np.asarray(weights, dtype=np.float32)
