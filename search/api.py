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
from pathlib import Path
from typing import Sequence

from indexer.analysis import metadata_key, normalize_term
from indexer.errors import CorruptIndex, QueryError
from indexer.ranking_tables import ranking_tables
from indexer.schema import IndexSettings
from indexer.segment import SegmentSet
from indexer.store import Generation, current_generation, is_sharded, open_generation, open_segments, open_shards, read_duplicates
from search.input_methods import decode_typing
from search.query import ParsedQuery, parse_query
from search.rank import BuiltQuery, QueryTerms, build_query
from search.complete import Completion
from search.related import related_query, telling_terms
# The result objects and the searcher's request are part of this module's public face.
from search.results import MAX_RESULT_WINDOW, SORT_ORDERS, Article, Hit, SearchResults, make_hit  # noqa: F401
from search.searcher import FACETS, INTERVALS, RECENCY_HALF_LIFE_DAYS, RECENCY_WEIGHT, RELAX_BELOW, LocalSearcher, PageOfHits, RankRequest, search_page  # noqa: F401
from search.engine import Engine
from search.snippets import marked_whole

SEARCHABLE_FIELDS = ("title", "body")
MAX_RELATED = 100  # related articles a call may ask for
MAX_COMPLETIONS = 20
MAX_COMPLETION_CHARS = 200  # longer is pasted, not typed: nothing to complete


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
    histogram: str | None = None
    recent: bool = False
    collapse: bool = True
    snippet_chars: int = 240
    source: str | None = None
    category: str | None = None


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
        histogram: str | None = None,
    ) -> SearchResults:
        """Rank documents for ``query`` and return one page of ``limit`` hits with snippets.

        ``fields`` restricts where words are looked for ("title", "body"); ``require_all``
        turns OR into AND; ``since``/``until`` ("2021", "2021-12", "2021-12-31") keep articles
        dated in that range; ``sort="date"`` lists newest first; ``facets`` counts the matching
        articles by source, category and year; ``recent`` boosts newer articles (see
        RECENCY_WEIGHT); ``collapse`` folds near copies of a story into the first of its hits
        (``Hit.near_duplicates``); ``source``/``category`` keep the articles of that source or
        category (as ``source:`` in the query; case and diacritics ignored); ``histogram``
        ("day", "month" or "year") counts the matching articles per period (``timeline``);
        ``snippet_chars`` is the length of the body snippet (0: none, for callers that need
        only the ranking). Raises QueryError
        for a query with nothing to search or a bad option.
        """
        if isinstance(query, Query):
            return self.search(
                query.text, query.limit, query.fields, query.require_all, query.snippet_chars, page=query.page,
                sort=query.sort, since=query.since, until=query.until, facets=query.facets, recent=query.recent,
                collapse=query.collapse, source=query.source, category=query.category, histogram=query.histogram,
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
        if snippet_chars < 0:
            raise QueryError("snippet_chars must be 0 (no snippets) or more")
        if page < 1:
            raise QueryError("page must be at least 1")
        if (page - 1) * limit + limit > MAX_RESULT_WINDOW:
            raise QueryError(
                f"page {page:,} of {limit:,} hits goes to hit {page * limit:,}, past the {MAX_RESULT_WINDOW:,} a search can "
                "page through; narrow the search instead (--since/--until, source:, category:, more words)"
            )
        if sort not in SORT_ORDERS:
            raise QueryError(f"sort must be one of {', '.join(SORT_ORDERS)}, not {sort!r}")
        if histogram is not None and histogram not in INTERVALS:
            raise QueryError(f"histogram must be one of {', '.join(INTERVALS)}, not {histogram!r}")
        built = build_query(parsed, self.settings, fields, require_all)
        page_of_hits = search_page(self._state, RankRequest(parsed, built, since, until, recent, sort, 0, facets, histogram),
                                   (page - 1) * limit, limit, collapse, snippet_chars)
        suggestion = None
        if ":" not in parsed.text and may_be_misspelt(page_of_hits):
            suggestion = self.suggest(parsed.text, refresh=False)
        took = (time.perf_counter() - started) * 1000
        return SearchResults(parsed.text, page_of_hits.hits, page_of_hits.total, took, page=page, limit=limit,
                             facets=page_of_hits.facets, total_exact=page_of_hits.total_exact,
                             also_searched=tuple(built.also_searched), searched_for=searched_for,
                             typed_as=typed_as, suggestion=suggestion, dropped=page_of_hits.dropped,
                             other_diacritics=page_of_hits.other_diacritics, timeline=page_of_hits.timeline)

    def related(self, doc_id: str, limit: int = 5, snippet_chars: int = 0) -> list[Hit] | None:
        """Other articles about what ``doc_id`` (or a copy's id) is about, best first: its most
        telling terms searched against the index (``search.related``, Lucene's MoreLikeThis),
        the article itself and its exact and near copies left out. None if there is no such
        article. ``snippet_chars`` > 0 adds the opening of each."""
        if limit < 1:
            raise QueryError("limit must be at least 1")
        if limit > MAX_RELATED:
            raise QueryError(f"limit must be at most {MAX_RELATED}")
        self.refresh()
        state = self._state
        found = state.stored_by_id(doc_id)
        if found is None:
            return None
        stored = found[0]
        terms = telling_terms(stored.get("title", ""), stored.get("body", ""), state.doc_freqs, state.documents)
        query = related_query(terms, self.settings)
        if query is None:
            return []
        request = RankRequest(ParsedQuery(stored.get("title", "")), BuiltQuery(query, [], [], QueryTerms()), None, None,
                              False, "relevance", 0, False)
        # One more than asked: the article itself (with its near copies folded in) is among them.
        page = search_page(state, request, 0, limit + 1, True, snippet_chars)
        own = stored["id"]
        others = [hit for hit in page.hits if hit.id != own and own not in hit.near_duplicates and own not in hit.duplicates]
        return [replace(hit, rank=rank) for rank, hit in enumerate(others[:limit], start=1)]

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
        return Article(hit, marked_whole(body, terms), marked_whole(hit.title, terms))

    def suggest(self, text: str, refresh: bool = True) -> str | None:
        """A corrected query for a misspelt one ("Tỉnh ủyy" -> "Tỉnh ủy"), or None."""
        if refresh:
            self.refresh()
        return self._state.suggest(text)

    def complete(self, text: str, limit: int = 8) -> list[Completion]:
        """Completions of a query being typed: its last, partly typed syllable completed from
        the index's own words, the commonest first, and the commonest one also with what most
        often follows it ("thu tuo" -> "Thủ tướng", "Thủ tướng Phan Văn Khải"); diacritics
        optional (``search.complete``). A text ending in a space gets the words that follow."""
        if not 1 <= limit <= MAX_COMPLETIONS:
            raise QueryError(f"limit must be between 1 and {MAX_COMPLETIONS}")
        self.refresh()
        if len(text) > MAX_COMPLETION_CHARS:
            return []  # pasted text, not typing
        return self._state.complete(text, limit)

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


def may_be_misspelt(page: PageOfHits) -> bool:
    """Is "did you mean" worth asking for? Only when a correction can change something: too
    few articles matched, or words were dropped from the match set (a word no article has is
    dropped first) or matched only with other diacritics. A query whose words all matched
    enough articles gets none, and pays nothing for it."""
    return page.total < RELAX_BELOW or bool(page.dropped) or page.other_diacritics


def _ranking_tables_compared(recorded: dict) -> dict:
    """The query-time tables in force beside the fingerprints the index recorded."""
    out = {}
    for name, in_force in ranking_tables().items():
        built_with = recorded.get(name, {}).get("sha1")
        out[name] = {"files": in_force["files"], "in_force": in_force["sha1"], "built_with": built_with,
                     "same": built_with == in_force["sha1"]}
    return out


def open_index(path: str | os.PathLike) -> Index:
    """Shorthand for ``Index.open(path)``."""
    return Index.open(path)
