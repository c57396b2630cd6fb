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

from indexer.analysis import metadata_key, normalize_term
from indexer.schema import ID_FIELD, IndexSettings
from indexer.store import is_sharded, open_generation, open_segments, open_shards, read_duplicates
from indexer.near_duplicates import first_near_copies
from indexer.ranking_tables import ranking_tables
from indexer.codec import NO_DATE
from indexer.segment import SegmentSet
from indexer.errors import CorruptIndex, QueryError
from indexer.store import Generation, current_generation
from search.query import ParsedQuery, parse_day, parse_query
from search.engine import Engine
from search.rank import BuiltQuery, QueryTerms, build_query
from search.input_methods import decode_typing
from search.snippets import Snippet, make_snippet
from search.suggest import Suggester

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
    near_duplicates: tuple[str, ...] = ()  # ids of near copies among the hits, folded into this one
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
            "near_duplicates": list(self.near_duplicates),
            "meta": self.meta,
        }


@dataclass(frozen=True)
class Article:
    """One article in full, for reading: its hit fields, and its title and whole text with
    the words of a query highlighted (``Snippet``s that cover all of them)."""

    hit: Hit
    body: Snippet
    title: Snippet

    def to_json(self) -> dict:
        """The documented JSON form of one article (``vnsearch inspect --json`` and the HTTP
        API): the hit's keys without rank, score and highlights, plus the whole text."""
        out = self.hit.to_json()
        for key in ("rank", "score", "highlights"):
            out.pop(key)
        out["body"] = self.body.text
        out["body_html"] = self.body.html
        out["highlights"] = self.body.marked
        return out


SORT_ORDERS = ("relevance", "date")
# How deep a search can page: hits past this rank are not served (Elasticsearch's
# index.max_result_window). Ranking and collapsing cost grows with the depth asked for, so
# this bound is what keeps one request's time and memory independent of the page number a
# client sends; past it, the search must be narrowed (dates, source:, more words).
MAX_RESULT_WINDOW = 10_000
FACETS = ("source", "category", "year")

# The --recent boost: score × (1 + RECENCY_WEIGHT × ½^(age / RECENCY_HALF_LIFE_DAYS)), where
# age is counted back from the newest article in the index (not from today: an archive of 2005
# is not all equally stale). The newest articles get up to twice their score, one a month
# older 1.5×, one a year older almost nothing; undated articles are not boosted.
RECENCY_WEIGHT = 1.0
RECENCY_HALF_LIFE_DAYS = 30.0


@dataclass(frozen=True)
class Query:
    """A query with its options, for programs that build queries rather than type them.

        index.search(Query("sinh hoạt chi bộ", since="2021-01-01", sort="date", facets=True))

    is the same as ``index.search("sinh hoạt chi bộ", since="2021-01-01", ...)``.
    """

    text: str
    limit: int = 10
    page: int = 1
    fields: tuple[str, ...] = ("title", "body")
    require_all: bool = False
    sort: str = "relevance"
    since: str | None = None
    until: str | None = None
    facets: bool = False
    recent: bool = False
    collapse: bool = True
    snippet_chars: int = 240
    source: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class SearchResults:
    """The hits of one query (one page of them), with how many documents matched, facet counts
    when asked for, and what was searched if the query was rewritten (Telex typing) or a
    suggestion if it looks misspelled."""

    query: str
    hits: tuple[Hit, ...]
    total: int
    took_ms: float
    page: int = 1
    limit: int = 10
    facets: dict[str, list[tuple[str, int]]] | None = None
    searched_for: str | None = None  # the query as searched, when it differs from what was typed
    suggestion: str | None = None  # "did you mean"
    also_searched: tuple[str, ...] = ()  # other forms looked for: "Ủy ban nhân dân" for "UBND"
    typed_as: str | None = None  # "Telex" or "VNI" when the query was decoded from that typing
    # False: ``total`` is a lower bound. The top hits are exact either way; to find them, the
    # blocks of documents that could not enter them were skipped, and their matches not
    # counted (Lucene's TotalHits.Relation.GREATER_THAN_OR_EQUAL_TO). Ask for facets to count
    # every match.
    total_exact: bool = True

    def __iter__(self) -> Iterator[Hit]:
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)

    @property
    def pages(self) -> int:
        """Pages that can be served: those of the matches, up to ``MAX_RESULT_WINDOW`` hits."""
        return max(1, -(-min(self.total, MAX_RESULT_WINDOW) // self.limit))

    def to_json(self) -> dict:
        """The documented JSON form (README "JSON output"); keys are stable."""
        return {
            "query": self.query,
            "searched_for": self.searched_for,
            "typed_as": self.typed_as,
            "also_searched": list(self.also_searched),
            "suggestion": self.suggestion,
            "took_ms": round(self.took_ms, 2),
            "total": self.total,
            "total_relation": "eq" if self.total_exact else "gte",
            "page": self.page,
            "pages": self.pages,
            "hits": [h.to_json() for h in self.hits],
            "facets": None if self.facets is None else {k: [{"value": v, "count": n} for v, n in counts] for k, counts in self.facets.items()},
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
    settings: dict  # as recorded in the index
    tuned: dict = field(default_factory=dict)  # overridden for this Index object by tune()
    # Per query-time table (abbreviations, headline evidence): its files, the fingerprint the
    # index was built with, the one in force now, and whether they are the same.
    ranking_tables: dict = field(default_factory=dict)
    segments: int = 0  # segments searched (of all shards)
    shards: int = 0  # 0: one index folder; else how many shards

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
            "tuned": self.tuned,
            "ranking_tables": self.ranking_tables,
            "segments": self.segments,
            "shards": self.shards,
        }


class Index:
    """A vnsearch index on disk, opened for searching. Thread-safe for concurrent searches."""

    def __init__(self, path: str | os.PathLike, verify: bool = True, scheduler: str | None = None) -> None:
        self.path = Path(path)
        self._verify = verify
        self._scheduler = scheduler
        self._client = None  # of the Dask scheduler, opened with the first sharded generation
        self._lock = threading.Lock()
        self._generation: Generation | None = None
        # Everything a search reads from one generation, replaced as one object by _load so
        # that a search running while another thread refreshes sees one generation, not a mix:
        # a LocalSearcher, or for a sharded index on a Dask cluster, search.distributed's.
        self._state: LocalSearcher | None = None
        self._manifest: dict = {}
        self.settings = IndexSettings()
        self._tuned: dict = {}  # tune() overrides, kept when a new generation is opened
        self._load()

    @classmethod
    def open(cls, path: str | os.PathLike, verify: bool = True, scheduler: str | None = None) -> "Index":
        """Open an index built by ``vnsearch index``; NotAnIndex / IncompatibleIndex otherwise,
        CorruptIndex (naming the file) if a file is damaged. ``verify`` checks every file's
        CRC-32 the first time this process opens it; without, only sizes are checked.

        A sharded index (``vnsearch index --shards N``) opens the same way, its shards seen as
        one index. With ``scheduler`` (a Dask scheduler's address), each shard is opened once
        on a worker instead (a Dask actor) and searched there with the statistics of all
        shards (``search.distributed``); the results are the same."""
        return cls(path, verify, scheduler)

    def _load(self) -> None:
        """Open the live generation: its manifest and its files, from the same generation.

        A writer may publish a newer generation at any moment, and removes generations older
        than the two newest; if it removed the one being opened, open the new live one.
        """
        for attempt in range(3):
            generation = current_generation(self.path)
            try:
                manifest, settings, searcher, directories = self._open_live(generation)
                break
            except CorruptIndex:
                # A writer removes generations older than the two newest; if it removed the one
                # being opened, its files are gone: open the new live one.
                if attempt < 2 and current_generation(self.path) != generation:
                    continue
                raise
        settings = replace(settings, **self._tuned)
        searcher.set_bm25(settings.bm25_k1, settings.bm25_b)
        self._state = searcher
        self._generation, self._manifest, self.settings = generation, manifest, settings
        self._directories = directories

    def _open_live(self, generation: Generation) -> tuple[dict, IndexSettings, "LocalSearcher", list[Path]]:
        """(manifest, settings, searcher, folders) of a generation: of one index, or of a
        sharded one, whose shards are then seen as one index (their segments joined, as
        Lucene's MultiReader), so that scores use the statistics of all of them; or searched
        by actors on the Dask cluster at ``scheduler``."""
        manifest = generation.manifest()
        if not is_sharded(manifest):
            _, manifest, settings = open_generation(self.path, self._verify, generation)
            searcher = LocalSearcher(open_segments(generation, manifest), read_duplicates(generation, manifest))
            return manifest, settings, searcher, [generation.path]
        settings, shards = open_shards(generation, manifest, self._verify)
        directories = [generation.path] + [shard.path for shard, _ in shards]
        if self._scheduler:
            from search.distributed import DaskShards, connect

            if self._client is None:
                self._client = connect(self._scheduler)
            return manifest, settings, DaskShards(self._client, [shard for shard, _ in shards], self._verify), directories
        duplicates: dict[str, list[str]] = {}
        for shard, shard_manifest in shards:
            duplicates.update(read_duplicates(shard, shard_manifest))
        segments = SegmentSet.joined([open_segments(shard, shard_manifest) for shard, shard_manifest in shards])
        return manifest, settings, LocalSearcher(segments, duplicates), directories

    @property
    def _engine(self) -> Engine:
        return self._state.engine

    def tune(self, **settings) -> None:
        """Change query-time settings (weights, BM25 k1/b) for this object only, for experiments
        such as bench/quality.py; the index on disk keeps the settings it was built with. The
        change holds across refreshes, and ``stats().tuned`` lists it."""
        self.settings = replace(self.settings, **settings)  # TypeError names an unknown setting
        self._tuned.update(settings)
        self._state.set_bm25(self.settings.bm25_k1, self.settings.bm25_b)

    def refresh(self) -> bool:
        """Switch to the newest published generation if there is one; True if it switched."""
        generation = current_generation(self.path)
        if generation == self._generation:
            return False
        with self._lock:
            if generation != self._generation:
                self._load()
                return True
        return False

    def close(self) -> None:
        """Let go of the index files (the memory maps close when nothing refers to them)."""
        self._state = None
        self._generation = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> "Index":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ----------------------------------------------------------------------------------------

    def search(
        self,
        query: str | ParsedQuery | Query,
        limit: int = 10,
        fields: Sequence[str] = SEARCHABLE_FIELDS,
        require_all: bool = False,
        snippet_chars: int = 240,
        *,
        page: int = 1,
        sort: str = "relevance",
        since: str | None = None,
        until: str | None = None,
        facets: bool = False,
        recent: bool = False,
        collapse: bool = True,
        source: str | None = None,
        category: str | None = None,
    ) -> SearchResults:
        """Rank documents for ``query`` and return one page of ``limit`` hits with snippets.

        ``fields`` restricts where words are looked for ("title", "body"); ``require_all``
        turns OR into AND; ``since``/``until`` ("2021", "2021-12", "2021-12-31") keep articles
        dated in that range; ``sort="date"`` lists newest first; ``facets`` counts the matching
        articles by source, category and year; ``recent`` boosts newer articles (see
        RECENCY_WEIGHT); ``collapse`` folds near copies of a story into the first of its hits
        (``Hit.near_duplicates``); ``source``/``category`` keep the articles of that source or
        category (as ``source:`` in the query; case and diacritics ignored). Raises QueryError
        for a query with nothing to search or a bad option.
        """
        if isinstance(query, Query):
            return self.search(
                query.text, query.limit, query.fields, query.require_all, query.snippet_chars, page=query.page,
                sort=query.sort, since=query.since, until=query.until, facets=query.facets, recent=query.recent,
                collapse=query.collapse, source=query.source, category=query.category,
            )
        started = time.perf_counter()
        self.refresh()
        searched_for = typed_as = None
        if isinstance(query, str):
            decoded = decode_typing(query, self._known)
            if decoded is not None:
                (searched_for, typed_as), query = decoded, decoded[0]
        parsed = query if isinstance(query, ParsedQuery) else parse_query(query)
        if source or category:
            parsed = replace(parsed, sources=parsed.sources + ([metadata_key(source)] if source else []),
                             categories=parsed.categories + ([metadata_key(category)] if category else []))
        fields = tuple(fields)
        unknown = [f for f in fields if f not in SEARCHABLE_FIELDS]
        if unknown or not fields:
            raise QueryError(f"unknown field(s) {', '.join(unknown) or '(none)'}; searchable fields are title, body")
        if limit < 1:
            raise QueryError("limit must be at least 1")
        if page < 1:
            raise QueryError("page must be at least 1")
        if (page - 1) * limit + limit > MAX_RESULT_WINDOW:
            raise QueryError(
                f"page {page:,} of {limit:,} hits goes to hit {page * limit:,}, past the {MAX_RESULT_WINDOW:,} a search can "
                "page through; narrow the search instead (--since/--until, source:, category:, more words)"
            )
        if sort not in SORT_ORDERS:
            raise QueryError(f"sort must be one of {', '.join(SORT_ORDERS)}, not {sort!r}")
        built = build_query(parsed, self.settings, fields, require_all)
        offset = (page - 1) * limit
        # With collapsing, rank a few more than the page needs: near copies drop out.
        pool = 2 * (offset + limit) + 10 if collapse else limit
        start = 0 if collapse else offset
        request = RankRequest(parsed, built, since, until, recent, sort, start + pool, facets)
        parts = self._state.rank(request)
        ranked = merge_ranked(parts, sort)[start : start + pool]
        if collapse:
            shown, near = _collapse(ranked)
            shown = shown[offset : offset + limit]
        else:
            shown, near = list(enumerate(ranked)), {}
        hits = self._state.hits(shown, near, offset + 1, built.terms, snippet_chars)
        facet_counts = _merged_facets([p.facets for p in parts]) if facets else None
        suggestion = None
        if ":" not in parsed.text:
            suggestion = self.suggest(parsed.text, refresh=False)
        took = (time.perf_counter() - started) * 1000
        return SearchResults(parsed.text, hits, sum(p.total for p in parts), took, page=page, limit=limit, facets=facet_counts,
                             total_exact=all(p.total_exact for p in parts),
                             also_searched=tuple(built.also_searched), searched_for=searched_for,
                             typed_as=typed_as, suggestion=suggestion)

    def get(self, doc_id: str) -> Hit | None:
        """The document with this id (its copies' ids work too), or None."""
        found = self._stored_by_id(doc_id)
        return None if found is None else make_hit(*found, 0, 0.0, QueryTerms(), 240)

    def _stored_by_id(self, doc_id: str) -> tuple[dict, dict[str, list[str]]] | None:
        """(stored fields, copies table) of the article with this id or a copy of it, read from
        one generation."""
        self.refresh()
        return self._state.stored_by_id(doc_id)

    def read(self, doc_id: str, highlight: str | None = None) -> "Article | None":
        """One article in full (its copies' ids work too), the words of the query ``highlight``
        marked in the whole text as a search would mark them; None if there is no such id."""
        found = self._stored_by_id(doc_id)
        if found is None:
            return None
        stored, duplicates = found
        terms = QueryTerms()
        if highlight and highlight.strip():
            try:
                terms = build_query(parse_query(highlight), self.settings, SEARCHABLE_FIELDS).terms
            except QueryError:
                pass  # nothing to highlight in it: the article is shown plain
        hit = make_hit(stored, duplicates, 0, 0.0, QueryTerms(), 240)
        body = stored.get("body", "")
        return Article(hit, make_snippet(body, terms, max(len(body), 1)), make_snippet(hit.title, terms, max(len(hit.title), 1)))

    def suggest(self, text: str, refresh: bool = True) -> str | None:
        """A corrected query for a misspelt one ("Tỉnh ủyy" -> "Tỉnh ủy"), or None."""
        if refresh:
            self.refresh()
        return self._state.suggest(text)

    def _known(self, word: str) -> bool:
        """Is ``word`` (as written, diacritics and all) in the index?"""
        return self._state.known(normalize_term(word))

    def stats(self) -> IndexStats:
        """Size and provenance of the live generation."""
        self.refresh()
        generation = self._generation
        size = sum(f.stat().st_size for directory in self._directories for f in directory.iterdir() if f.is_file())
        m = self._manifest
        return IndexStats(
            path=str(self.path),
            generation=generation.path.name,
            documents=self._state.documents,
            fields=tuple(SEARCHABLE_FIELDS),
            size_bytes=size,
            analyzer_version=m.get("analyzer_version", ""),
            package_version=m.get("package_version", ""),
            built_at=m.get("built_at", ""),
            updated_at=m.get("updated_at", ""),
            last_run=m.get("last_run", {}),
            settings=m.get("settings", {}),
            tuned=dict(self._tuned),
            ranking_tables=_ranking_tables_compared(m.get("ranking_tables", {})),
            segments=self._state.segment_count,
            shards=len(m.get("shards", [])),
        )

    def __len__(self) -> int:
        self.refresh()
        return self._state.documents

    def live(self) -> tuple[str, int]:
        """(name of the live generation, its number of documents), after a refresh: what a
        health check needs, without the file sizes and table fingerprints of ``stats()``."""
        self.refresh()
        generation, searcher = self._generation, self._state
        return generation.path.name, searcher.documents


def make_hit(stored: dict, duplicates: dict, rank: int, score: float, terms: QueryTerms,
             snippet_chars: int, near: Sequence[str] = ()) -> Hit:
    """A hit from an article's stored fields, with a snippet for ``terms``."""
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
        near_duplicates=tuple(near),
        meta=stored.get("meta") or {},
    )


class LocalSearcher:
    """An index, or the joined shards of one, searched in this process."""

    def __init__(self, segments: SegmentSet, duplicates: dict[str, list[str]]) -> None:
        self.segments = segments
        self.engine = Engine(segments)
        self.suggester = Suggester(self.engine)
        self.duplicates = duplicates

    @property
    def documents(self) -> int:
        return self.engine.documents

    @property
    def segment_count(self) -> int:
        return len(self.segments.readers)

    def set_bm25(self, k1: float, b: float) -> None:
        self.engine.k1, self.engine.b = k1, b

    def rank(self, request: "RankRequest") -> "list[Ranked]":
        """The first phase of a search: rank the documents (one part here; a sharded index on
        Dask has one per shard)."""
        return [rank_documents(self.segments, self.engine, request, newest=_newest_date(self.segments, self.engine))]

    def hits(self, shown: "list[tuple[int, RankedDocument]]", near: "dict[int, list[RankedDocument]]", first_rank: int,
             terms: QueryTerms, snippet_chars: int) -> tuple[Hit, ...]:
        """The second phase: the hits of the documents that made the page, with snippets
        (``near``: the near copies folded into each, by its place in the ranking)."""
        stored = self.segments.stored
        return tuple(
            make_hit(stored(doc.docnum), self.duplicates, rank, doc.score, terms, snippet_chars,
                     near=[stored(other.docnum)["id"] for other in near.get(i, [])])
            for rank, (i, doc) in enumerate(shown, start=first_rank)
        )

    def known(self, term: str) -> bool:
        """Is this normalised term in a title or body, as written?"""
        return self.suggester._df(term, folded=False) > 0

    def suggest(self, text: str) -> str | None:
        return self.suggester.suggest(text)

    def stored_by_id(self, doc_id: str) -> tuple[dict, dict[str, list[str]]] | None:
        """(stored fields, copies table) of the article with this id or a copy of it."""
        wanted = {doc_id} | {kept for kept, copies in self.duplicates.items() if doc_id in copies}
        for candidate in wanted:
            docs = self.engine.postings(ID_FIELD, candidate).docs
            if docs.size:
                return self.segments.stored(int(docs[0])), self.duplicates
        return None


def _ranking_tables_compared(recorded: dict) -> dict:
    """The query-time tables in force beside the fingerprints the index recorded."""
    out = {}
    for name, in_force in ranking_tables().items():
        built_with = recorded.get(name, {}).get("sha1")
        out[name] = {"files": in_force["files"], "in_force": in_force["sha1"], "built_with": built_with,
                     "same": built_with == in_force["sha1"]}
    return out


@dataclass(frozen=True)
class RankRequest:
    """What every part of an index needs to rank its documents for one query."""

    parsed: ParsedQuery
    built: BuiltQuery
    since: str | None
    until: str | None
    recent: bool
    sort: str
    want: int  # how many of the best each part returns
    facets: bool


@dataclass(frozen=True)
class RankedDocument:
    part: int  # which part of the index (shard) it is in
    docnum: int  # its number there
    score: float
    date: int
    signature: np.ndarray


@dataclass(frozen=True)
class Ranked:
    """One part's answer to a RankRequest: its best documents in order, how many of its
    documents matched, and its facet counts."""

    documents: list[RankedDocument]
    total: int
    facets: dict[str, list[tuple[str, int]]] | None
    total_exact: bool = True  # False: ``total`` counts the matches in the blocks scored


def rank_documents(segments: SegmentSet, engine: Engine, request: RankRequest, newest: int | None, part: int = 0) -> Ranked:
    """Score and rank one part's documents for a query (``newest``: the date --recent counts
    back from, that of the whole index)."""
    parsed, built = request.parsed, request.built
    masks = [engine.matches(node) for node in built.required]
    masks += [~engine.matches(node) for node in built.excluded]
    masks += _filter_masks(parsed, segments)
    if request.since or request.until:
        since = parse_day(request.since) if request.since else None
        until = parse_day(request.until, end=True) if request.until else None
        masks.append(_date_range_mask(segments.dates(), since, until))
    allowed = np.logical_and.reduce(masks) if masks else None
    # The top k by relevance skips the blocks of documents that cannot enter it; date order,
    # the recency boost and facets need every matching document scored.
    pruned = None
    if request.sort == "relevance" and not request.recent and not request.facets:
        pruned = engine.top_pruned(built.scored, allowed, request.want)
    if pruned is not None:
        docnums, scores, total, exact = pruned
    else:
        exact = True
        scores = engine.scores(built.scored)
        if request.recent:
            scores *= _recency(segments, newest)
        if request.sort == "date":
            docnums, total = engine.newest(segments.dates(), scores, allowed, request.want)
        else:
            docnums, total = engine.top(scores, allowed, request.want)
    dates, signatures = segments.dates(), segments.signatures()
    documents = [RankedDocument(part, int(d), float(scores[d]), int(dates[d]), signatures[d]) for d in docnums]
    facet_counts = _facets(segments, engine.matched(scores, allowed)) if request.facets else None
    return Ranked(documents, total, facet_counts, exact)


def merge_ranked(parts: list[Ranked], sort: str) -> list[RankedDocument]:
    """The parts' ranked documents in one order: as one index of all the parts in order would
    rank them (ties by part, then by number in the part, as in the joined segments)."""
    documents = [doc for ranked in parts for doc in ranked.documents]
    if len(parts) == 1:
        return documents
    if sort == "date":
        # Engine.newest: newest first, undated (NO_DATE, the smallest) last, then by score.
        return sorted(documents, key=lambda d: (-d.date, -d.score, d.part, d.docnum))
    return sorted(documents, key=lambda d: (-d.score, d.part, d.docnum))


def _newest_date(segments: SegmentSet, engine: Engine) -> int | None:
    """The date of the newest live dated document: what --recent counts back from."""
    dates = segments.dates()
    live_dated = (dates != NO_DATE) & engine.live
    return int(dates[live_dated].max()) if live_dated.any() else None


def _recency(segments: SegmentSet, newest: int | None) -> np.ndarray:
    """The --recent multiplier of every document (see RECENCY_WEIGHT)."""
    dates = segments.dates()
    dated = dates != NO_DATE
    multiplier = np.ones(dates.size, dtype=np.float32)
    if newest is not None:
        age_days = (newest - dates[dated]) / 86400.0
        multiplier[dated] = 1.0 + RECENCY_WEIGHT * np.power(0.5, np.maximum(age_days, 0) / RECENCY_HALF_LIFE_DAYS)
    return multiplier


def _collapse(ranked: list[RankedDocument]) -> tuple[list[tuple[int, RankedDocument]], dict[int, list[RankedDocument]]]:
    """Keep the first of each group of near copies (in ranked order), each with its place in
    ``ranked``; the others are listed under that place."""
    into = first_near_copies(np.array([d.signature for d in ranked])) if ranked else np.zeros(0, dtype=np.int64)
    kept: list[int] = []
    near: dict[int, list[RankedDocument]] = {}
    for i, first in enumerate(into.tolist()):
        if first >= 0:
            near.setdefault(first, []).append(ranked[i])
        else:
            kept.append(i)
    return [(i, ranked[i]) for i in kept], near


def _facets(segments: SegmentSet, matched: np.ndarray) -> dict[str, list[tuple[str, int]]]:
    """Counts of the matching documents by source, category and year, largest first."""
    out = {}
    for column in ("source", "category"):
        counts = segments.column_counts(column, matched)
        out[column] = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    dates = segments.dates()[matched]
    dates = dates[dates != NO_DATE]
    years = dates.astype("datetime64[s]").astype("datetime64[Y]").astype(np.int64) + 1970
    values, counts = np.unique(years, return_counts=True)
    out["year"] = sorted(((str(v), int(n)) for v, n in zip(values, counts)), key=lambda kv: kv[0], reverse=True)
    return out


def _merged_facets(parts: list[dict[str, list[tuple[str, int]]]]) -> dict[str, list[tuple[str, int]]]:
    """The parts' facet counts added up, in the same order as ``_facets``."""
    if len(parts) == 1:
        return parts[0]
    out = {}
    for name in FACETS:
        counts: dict[str, int] = {}
        for part in parts:
            for value, n in part[name]:
                counts[value] = counts.get(value, 0) + n
        if name == "year":
            out[name] = sorted(counts.items(), key=lambda kv: kv[0], reverse=True)
        else:
            out[name] = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return out


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
