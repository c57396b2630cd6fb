"""The public Python API: open an index, search it, read hits with snippets.

    from search import Index

    with Index.open("/path/to/index") as index:
        for hit in index.search("sinh hoạt chi bộ", limit=5):
            print(hit.rank, hit.title, hit.date, hit.snippet.plain)

An ``Index`` keeps its segments open (memory-mapped) between queries and checks before each query whether a newer generation has been published by
``vnsearch update``/``index --rebuild``; if so it switches to it. A search therefore sees the
index as it was when the search started, old or new, never a mix.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from indexer.build import IndexSettings, open_generation, read_duplicates
from indexer.segment import NO_DATE, SegmentSet
from indexer.errors import NotAnIndex, QueryError
from indexer.store import Generation, current_generation
from search.query import ParsedQuery, parse_day, parse_query
from search.engine import Engine
from search.rank import QueryTerms, build_query
from search.snippets import Snippet, make_snippet

SEARCHABLE_FIELDS = ("title", "body")


@dataclass(frozen=True)
class Hit:
    """One ranked result."""

    rank: int
    id: str
    score: float
    title: str
    snippet: Snippet
    source: str | None = None
    date: datetime | None = None
    category: str | None = None
    url: str | None = None
    authors: tuple[str, ...] = ()
    duplicates: tuple[str, ...] = ()  # ids of exact copies of this article, not shown separately
    meta: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """The documented JSON form of a hit (stable keys; snippet with ``<mark>``)."""
        return {
            "rank": self.rank,
            "id": self.id,
            "score": round(self.score, 4),
            "title": self.title,
            "source": self.source,
            "date": self.date.isoformat() if self.date else None,
            "category": self.category,
            "url": self.url,
            "authors": list(self.authors),
            "snippet": self.snippet.html,
            "highlights": self.snippet.marked,
            "duplicates": list(self.duplicates),
            "meta": self.meta,
        }


@dataclass(frozen=True)
class SearchResults:
    """The hits of one query, with how long it took and how many documents matched."""

    query: str
    hits: tuple[Hit, ...]
    total: int
    took_ms: float

    def __iter__(self) -> Iterator[Hit]:
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)

    def to_json(self) -> dict:
        return {
            "query": self.query,
            "took_ms": round(self.took_ms, 2),
            "total": self.total,
            "hits": [h.to_json() for h in self.hits],
        }


@dataclass(frozen=True)
class IndexStats:
    """What ``vnsearch stats`` shows."""

    path: str
    generation: str
    documents: int
    fields: tuple[str, ...]
    size_bytes: int
    analyzer_version: str
    package_version: str
    built_at: str
    updated_at: str
    last_run: dict
    settings: dict

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "generation": self.generation,
            "documents": self.documents,
            "fields": list(self.fields),
            "size_bytes": self.size_bytes,
            "analyzer_version": self.analyzer_version,
            "package_version": self.package_version,
            "built_at": self.built_at,
            "updated_at": self.updated_at,
            "last_run": self.last_run,
            "settings": self.settings,
        }


class Index:
    """A vnsearch index on disk, opened for searching. Thread-safe for concurrent searches."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._generation: Generation | None = None
        self._segments: SegmentSet | None = None
        self._duplicates: dict[str, list[str]] = {}
        self._manifest: dict = {}
        self.settings = IndexSettings()
        self._load(current_generation(self.path))

    @classmethod
    def open(cls, path: str | os.PathLike) -> "Index":
        """Open an index built by ``vnsearch index``; NotAnIndex / IncompatibleIndex otherwise."""
        return cls(path)

    def _load(self, generation: Generation) -> None:
        _, manifest, settings = open_generation(self.path)
        try:
            segments = SegmentSet(generation.path, manifest.get("segments", []))
            self._duplicates = read_duplicates(generation, manifest)
        except (OSError, ValueError, KeyError) as e:
            raise NotAnIndex(f"{self.path}: the index files are unreadable ({e}); rebuild it") from None
        self._segments = segments
        self._engine = Engine(segments, k1=settings.bm25_k1, b=settings.bm25_b)
        self._generation, self._manifest, self.settings = generation, manifest, settings

    def tune(self, **settings) -> None:
        """Change query-time settings (weights, BM25 k1/b) for this object only, for experiments
        such as bench/quality.py; the index on disk keeps the settings it was built with."""
        self.settings = replace(self.settings, **settings)
        self._engine.k1, self._engine.b = self.settings.bm25_k1, self.settings.bm25_b

    def refresh(self) -> bool:
        """Switch to the newest published generation if there is one; True if it switched."""
        generation = current_generation(self.path)
        if generation == self._generation:
            return False
        with self._lock:
            if generation != self._generation:
                self._load(generation)
                return True
        return False

    def close(self) -> None:
        # The memory maps close when the segments are no longer referenced.
        self._segments = None

    def __enter__(self) -> "Index":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ----------------------------------------------------------------------------------------

    def search(
        self,
        query: str | ParsedQuery,
        limit: int = 10,
        fields: Sequence[str] = SEARCHABLE_FIELDS,
        require_all: bool = False,
        snippet_chars: int = 240,
    ) -> SearchResults:
        """Rank documents for ``query`` and return the top ``limit`` with snippets.

        ``fields`` restricts where words are looked for ("title", "body"); ``require_all``
        turns OR into AND. Raises QueryError for a query with nothing to search.
        """
        started = time.perf_counter()
        self.refresh()
        parsed = query if isinstance(query, ParsedQuery) else parse_query(query)
        fields = tuple(fields)
        unknown = [f for f in fields if f not in SEARCHABLE_FIELDS]
        if unknown or not fields:
            raise QueryError(f"unknown field(s) {', '.join(unknown) or '(none)'}; searchable fields are title, body")
        if limit < 1:
            raise QueryError("limit must be at least 1")
        built = build_query(parsed, self.settings, fields, require_all)
        engine, segments, duplicates = self._engine, self._segments, self._duplicates
        masks = [engine.matches(node) for node in built.required]
        masks += [~engine.matches(node) for node in built.excluded]
        masks += _filter_masks(parsed, segments)
        allowed = np.logical_and.reduce(masks) if masks else None
        docnums, scores, total = engine.rank(built.scored, allowed, limit)
        hits = tuple(
            self._hit(segments, duplicates, rank, int(docnum), float(score), built.terms, snippet_chars)
            for rank, (docnum, score) in enumerate(zip(docnums, scores), start=1)
        )
        took = (time.perf_counter() - started) * 1000
        return SearchResults(parsed.text, hits, total, took)

    def _hit(self, segments: SegmentSet, duplicates: dict, rank: int, docnum: int, score: float, terms: QueryTerms, snippet_chars: int) -> Hit:
        stored = segments.stored(docnum)
        return Hit(
            rank=rank,
            id=stored["id"],
            score=score,
            title=stored.get("title", ""),
            snippet=make_snippet(stored.get("body", ""), terms, snippet_chars),
            source=stored.get("source"),
            date=datetime.fromisoformat(stored["date"]) if stored.get("date") else None,
            category=stored.get("category"),
            url=stored.get("url"),
            authors=tuple(stored.get("authors") or ()),
            duplicates=tuple(duplicates.get(stored["id"], ())),
            meta=stored.get("meta") or {},
        )

    def stats(self) -> IndexStats:
        """Size and provenance of the live generation."""
        self.refresh()
        generation = self._generation
        size = sum(f.stat().st_size for f in generation.path.iterdir() if f.is_file())
        m = self._manifest
        return IndexStats(
            path=str(self.path),
            generation=generation.path.name,
            documents=self._engine.documents,
            fields=tuple(SEARCHABLE_FIELDS),
            size_bytes=size,
            analyzer_version=m.get("analyzer_version", ""),
            package_version=m.get("package_version", ""),
            built_at=m.get("built_at", ""),
            updated_at=m.get("updated_at", ""),
            last_run=m.get("last_run", {}),
            settings=m.get("settings", {}),
        )

    def __len__(self) -> int:
        self.refresh()
        return self._engine.documents


def _filter_masks(parsed: ParsedQuery, segments: SegmentSet) -> list[np.ndarray]:
    """The documents allowed by the query's source:, category: and date: filters."""
    masks = []
    if parsed.sources:
        masks.append(segments.column_mask("source", set(parsed.sources)))
    if parsed.categories:
        masks.append(segments.column_mask("category", set(parsed.categories)))
    if parsed.date_prefixes:
        dates = segments.dates()
        mask = np.zeros(segments.size, dtype=bool)
        for prefix in parsed.date_prefixes:
            mask |= _date_range_mask(dates, parse_day(prefix), parse_day(prefix, end=True))
        masks.append(mask)
    return masks


def _date_range_mask(dates: np.ndarray, since: datetime | None, until: datetime | None) -> np.ndarray:
    """Documents dated within [since, until] (either end open); undated ones never match."""
    mask = dates != NO_DATE
    if since is not None:
        mask &= dates >= _epoch_seconds(since)
    if until is not None:
        mask &= dates <= _epoch_seconds(until)
    return mask


def _epoch_seconds(moment: datetime) -> int:
    return int((moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp())


def open_index(path: str | os.PathLike) -> Index:
    """Shorthand for ``Index.open(path)``."""
    return Index.open(path)
