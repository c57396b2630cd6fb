"""What a search returns: hits with snippets, whole articles, and one page of results.

Made by the searcher layer (``search.searcher``) for an ``Index`` in this process and for the
shards of a sharded index alike; ``to_json`` is the documented JSON of the CLI and the API.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Iterator, Sequence

from search.rank import QueryTerms
from search.snippets import Snippet, make_snippet, marked_whole

if TYPE_CHECKING:
    from search.searcher import Timeline

SORT_ORDERS = ("relevance", "date")
# How deep a search can page: hits past this rank are not served (Elasticsearch's
# index.max_result_window). Ranking and collapsing cost grows with the depth asked for, so
# this bound is what keeps one request's time and memory independent of the page number a
# client sends; past it, the search must be narrowed (dates, source:, more words).
MAX_RESULT_WINDOW = 10_000


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
    # The whole title with the query's words marked as in the snippet (None: no query).
    title_marked: Snippet | None = None

    @property
    def title_html(self) -> str:
        """The title, HTML-escaped, with ``<mark>`` around the query's words."""
        return self.title_marked.html if self.title_marked is not None else html.escape(self.title)

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
            "title_html": self.title_html,
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
    # A short query matches the articles with every word. When fewer than a handful have them
    # all, the least informative are left out of the match set and listed here (they still
    # count towards the score where they occur).
    dropped: tuple[str, ...] = ()
    # True: no article has the words as typed (with these diacritics); the hits have them with
    # other diacritics ("báo" for "bão"). Never mixed with hits of the typed forms.
    other_diacritics: bool = False
    # With a histogram interval: the matching articles per period (search.searcher.Timeline).
    timeline: "Timeline | None" = None

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
            "dropped": list(self.dropped),
            "other_diacritics": self.other_diacritics,
            "suggestion": self.suggestion,
            "took_ms": round(self.took_ms, 2),
            "total": self.total,
            "total_relation": "eq" if self.total_exact else "gte",
            "page": self.page,
            "pages": self.pages,
            "hits": [h.to_json() for h in self.hits],
            "facets": None if self.facets is None else {k: [{"value": v, "count": n} for v, n in counts] for k, counts in self.facets.items()},
            "timeline": None if self.timeline is None else self.timeline.to_json(),
        }


def make_hit(stored: dict, duplicates: dict, rank: int, score: float, terms: QueryTerms,
             snippet_chars: int, near: Sequence[str] = ()) -> Hit:
    """A hit from an article's stored fields, with a snippet and its title marked for ``terms``."""
    title = stored.get("title", "")
    return Hit(
        rank=rank,
        id=stored["id"],
        score=score,
        title=title,
        snippet=make_snippet(stored.get("body", ""), terms, snippet_chars) if snippet_chars > 0 else Snippet("", ()),
        title_marked=marked_whole(title, terms) if terms.searched_forms() else None,
        source=stored.get("source"),
        date=datetime.fromisoformat(stored["date"]) if stored.get("date") else None,
        category=stored.get("category"),
        url=stored.get("url"),
        authors=tuple(stored.get("authors") or ()),
        duplicates=tuple(duplicates.get(stored["id"], ())),
        near_duplicates=tuple(near),
        meta=stored.get("meta") or {},
    )
