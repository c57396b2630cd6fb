"""The searcher layer (Lucene's IndexSearcher): ranks the documents of each part of an index
for a query, merges the parts' rankings, folds near copies, counts facets and makes the hits
of a page. It knows segments and the engine, not generations: ``search.api.Index`` decides
which generation is searched, ``search.distributed`` runs the same ranking on each shard.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from datetime import datetime, timezone

import numpy as np

from indexer.codec import NO_DATE
from indexer.errors import QueryError
from indexer.near_duplicates import first_near_copies
from indexer.schema import ID_FIELD
from indexer.segment import SegmentSet
from search.engine import Engine, Node
from search.query import ParsedQuery, parse_day
from search.rank import BuiltQuery, QueryTerms
from search.results import Hit, make_hit
from search.complete import Completer, Completion
from search.suggest import Suggester

FACETS = ("source", "category", "year")
# Timeline intervals (Elasticsearch's date_histogram calendar_interval), as NumPy date units.
INTERVALS = {"day": "D", "month": "M", "year": "Y"}
# A timeline fills the periods between its first and last with zeros (a chart reads them as
# gaps); past this many periods the interval is too fine for the dates matched.
MAX_PERIODS = 5_000
TIMELINE_TOO_LONG = "more periods than a timeline shows"

# The --recent boost: score × (1 + RECENCY_WEIGHT × ½^(age / RECENCY_HALF_LIFE_DAYS)), where
# age is counted back from the newest article in the index (not from today: an archive of 2005
# is not all equally stale). The newest articles get up to twice their score, one a month
# older 1.5×, one a year older almost nothing; undated articles are not boosted.
RECENCY_WEIGHT = 1.0
RECENCY_HALF_LIFE_DAYS = 30.0


class LocalSearcher:
    """An index, or the joined shards of one, searched in this process."""

    def __init__(self, segments: SegmentSet, duplicates: dict[str, list[str]]) -> None:
        self.segments = segments
        self.engine = Engine(segments)
        self.suggester = Suggester(self.engine)
        self.completer = Completer(segments, self.engine)
        self.duplicates = duplicates

    @property
    def documents(self) -> int:
        return self.engine.documents

    @property
    def segment_count(self) -> int:
        return len(self.segments.readers)

    def set_bm25(self, k1: float, b: float) -> None:
        self.engine.k1, self.engine.b = k1, b

    @cached_property
    def newest(self) -> int | None:
        """The date --recent counts back from (the segments never change: found once)."""
        return newest_date(self.segments, self.engine)

    def rank(self, request: "RankRequest") -> "list[Ranked]":
        """The first phase of a search: rank the documents (one part here; a sharded index on
        Dask has one per shard)."""
        return [rank_documents(self.segments, self.engine, request, newest=self.newest if request.recent else None)]

    def doc_freqs(self, terms: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """How many live documents have each (field, term): the same whatever the segments,
        their deletions, or the shards (``DaskShards.doc_freqs`` adds the shards' up)."""
        return {term: self.engine.doc_freq(*term) for term in terms}

    def match_counts(self, request: "RankRequest", groups: list[list[Node]]) -> list[int]:
        """How many documents the request allows that match every node of each group."""
        return count_matches(self.segments, self.engine, request, groups)

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

    def complete(self, text: str, limit: int) -> list[Completion]:
        return self.completer.complete(text, limit)

    def stored_by_id(self, doc_id: str) -> tuple[dict, dict[str, list[str]]] | None:
        """(stored fields, copies table) of the article with this id or a copy of it."""
        wanted = {doc_id} | {kept for kept, copies in self.duplicates.items() if doc_id in copies}
        for candidate in wanted:
            docs = self.engine.postings(ID_FIELD, candidate).docs
            if docs.size:
                return self.segments.stored(int(docs[0])), self.duplicates
        return None


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
    histogram: str | None = None  # "day", "month" or "year": count the matches per period


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
    total_exact: bool = True  # False: ``total`` is a lower bound (matches counted up to Engine.TRACK_TOTAL)
    periods: "dict[str, int] | None" = None  # matches per period ("2021-10"), and under "" the undated


def _allowed(segments: SegmentSet, engine: Engine, request: RankRequest) -> np.ndarray | None:
    """The documents the request allows (required clauses, exclusions, filters, dates); None:
    all of them."""
    parsed, built = request.parsed, request.built
    masks = [engine.matches(node) for node in built.required]
    masks += [~engine.matches(node) for node in built.excluded]
    masks += _filter_masks(parsed, segments)
    if request.since or request.until:
        since = parse_day(request.since) if request.since else None
        until = parse_day(request.until, end=True) if request.until else None
        masks.append(_date_range_mask(segments.dates(), since, until))
    return np.logical_and.reduce(masks) if masks else None


def count_matches(segments: SegmentSet, engine: Engine, request: RankRequest, groups: list[list[Node]]) -> list[int]:
    """For each group of nodes, the live documents the request allows that match all of them."""
    allowed = _allowed(segments, engine, request)
    base = engine.live if allowed is None else allowed & engine.live
    masks: dict[int, np.ndarray] = {}
    counts = []
    for group in groups:
        mask = base
        for node in group:
            if id(node) not in masks:
                masks[id(node)] = engine.matches(node)
            mask = mask & masks[id(node)]
        counts.append(int(np.count_nonzero(mask)))
    return counts


# "Fewer than a handful": when fewer articles than this have every word of a short query, its
# least informative words are dropped one at a time, and the answer says which (Meilisearch's
# matching strategy, Typesense's drop_tokens_threshold).
RELAX_BELOW = 5


@dataclass(frozen=True)
class SettledWords:
    """What a short query (or --all) matches: the request with the words every match must have
    among its required clauses, the words dropped, and whether the typed diacritics were let go."""

    request: RankRequest
    dropped: tuple[str, ...] = ()
    other_diacritics: bool = False


def settle_words(parts, request: RankRequest) -> SettledWords:
    """Decide a query's match set from how many documents have its words (``parts``: a
    ``LocalSearcher`` or the shards of ``search.distributed``, so that the decision is the
    whole index's):

    1. every word in an accepted form (with diacritics typed, the typed form);
    2. fewer than ``RELAX_BELOW`` such articles (and the query allows it: not --all): drop
       the least informative words one at a time — first those no article has, then the
       commonest, the later typed first among equals — as far as it takes to reach
       ``RELAX_BELOW`` matches. When no number of dropped words reaches it, nothing is dropped
       if some articles have every word (the few that match are the answer), else as few
       words as it takes for some to match;
    3. nothing at all: the same with diacritics ignored, and the answer says so.
    """
    built = request.built
    if not built.words:
        return SettledWords(request)
    for loose in (False, True):
        nodes = [w.loose if loose else w.strict for w in built.words]
        if loose and all(w.loose is w.strict for w in built.words):
            break  # typed without diacritics: nothing looser to fall back on
        kept, count = _kept_words(parts, request, nodes, built.relax)
        if count:
            terms = replace(built.terms, accented=False, strict=False) if loose else built.terms
            settled = replace(built, required=built.required + [nodes[i] for i in kept], terms=terms)
            dropped = tuple(w.text for i, w in enumerate(built.words) if i not in kept)
            return SettledWords(replace(request, built=settled), dropped, loose)
    strict = [w.strict for w in built.words]
    return SettledWords(replace(request, built=replace(built, required=built.required + strict)))


def _kept_words(parts, request: RankRequest, nodes: list[Node], relax: bool) -> tuple[list[int], int]:
    """Which words (by number) the match set requires, and how many documents it has."""
    counts = parts.match_counts(request, [[n] for n in nodes] + [nodes])
    alone, together = counts[:-1], counts[-1]
    everything = list(range(len(nodes)))
    if together >= RELAX_BELOW or not relax or len(nodes) == 1:
        return everything, together
    dropping = sorted(everything, key=lambda i: (alone[i] > 0, -alone[i], -i))
    kept_sets = [sorted(dropping[d:]) for d in range(1, len(nodes))]
    counts = parts.match_counts(request, [[nodes[i] for i in kept] for kept in kept_sets])
    for kept, count in zip(kept_sets, counts):
        if count >= RELAX_BELOW:
            return kept, count
    if together:
        return everything, together
    return next(((kept, count) for kept, count in zip(kept_sets, counts) if count), (everything, 0))


def rank_documents(segments: SegmentSet, engine: Engine, request: RankRequest, newest: int | None, part: int = 0) -> Ranked:
    """Score and rank one part's documents for a query (``newest``: the date --recent counts
    back from, that of the whole index)."""
    built = request.built
    allowed = _allowed(segments, engine, request)
    # The top k by relevance skips the documents that cannot enter it (MaxScore); date order,
    # the recency boost and facets need every matching document scored.
    pruned = None
    if request.sort == "relevance" and not request.recent and not request.facets and not request.histogram:
        pruned = engine.top_pruned(built.scored, allowed, request.want)
    facet_counts = periods = None
    if pruned is not None:
        docnums, doc_scores, total, exact = pruned
        if built.words and allowed is not None:
            # Every document with the words scores: the match set is the allowed documents.
            total, exact = int(np.count_nonzero(allowed & engine.live)), True
    else:
        exact = True
        scores = engine.scores(built.scored)
        if request.recent:
            scores *= _recency(segments, newest)
        if request.sort == "date":
            docnums, total = engine.newest(segments.dates(), scores, allowed, request.want)
        else:
            docnums, total = engine.top(scores, allowed, request.want)
        doc_scores = scores[docnums]
        if request.facets or request.histogram:
            matched = engine.matched(scores, allowed)
            facet_counts = _facets(segments, matched) if request.facets else None
            periods = _periods(segments.dates()[matched], request.histogram) if request.histogram else None
    dates, signatures = segments.dates(), segments.signatures()
    documents = [RankedDocument(part, int(d), float(s), int(dates[d]), signatures[d]) for d, s in zip(docnums, doc_scores)]
    return Ranked(documents, total, facet_counts, exact, periods)


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


def newest_date(segments: SegmentSet, engine: Engine) -> int | None:
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


def collapse_near_copies(ranked: list[RankedDocument]) -> tuple[list[tuple[int, RankedDocument]], dict[int, list[RankedDocument]]]:
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


@dataclass(frozen=True)
class Timeline:
    """How many matching articles each period has (Elasticsearch's date_histogram): every
    period from the first to the last with a match, in order, empty ones with 0; the undated
    matches apart."""

    interval: str  # "day", "month" or "year"
    periods: tuple[tuple[str, int], ...]  # ("2021-10", 12), keys as --since/--until take them
    undated: int

    def to_json(self) -> dict:
        return {"interval": self.interval, "periods": [{"period": p, "count": n} for p, n in self.periods],
                "undated": self.undated}


def _periods(dates: np.ndarray, interval: str) -> dict[str, int]:
    """Counts of these dates (epoch seconds, or NO_DATE) per period; the undated under ""."""
    dated = dates[dates != NO_DATE]
    starts = dated.astype("datetime64[s]").astype(f"datetime64[{INTERVALS[interval]}]")
    values, counts = np.unique(starts, return_counts=True)
    out = {str(v): int(n) for v, n in zip(values, counts)}
    if dated.size < dates.size:
        out[""] = int(dates.size - dated.size)
    return out


def merged_timeline(parts: list[dict[str, int]], interval: str) -> Timeline:
    """The parts' period counts added up, with the empty periods between filled in."""
    counts: dict[str, int] = {}
    for part in parts:
        for period, n in part.items():
            counts[period] = counts.get(period, 0) + n
    undated = counts.pop("", 0)
    if not counts:
        return Timeline(interval, (), undated)
    unit = INTERVALS[interval]
    keys = np.array(sorted(counts), dtype=f"datetime64[{unit}]")
    span = int((keys[-1] - keys[0]).astype(np.int64)) + 1
    if span > MAX_PERIODS:
        raise QueryError(f"the matches span {span:,} {interval}s, {TIMELINE_TOO_LONG} ({MAX_PERIODS:,}); "
                         "use a coarser interval (month, year) or --since/--until")
    every = keys[0] + np.arange(span)
    return Timeline(interval, tuple((str(k), counts.get(str(k), 0)) for k in every), undated)


def merged_facets(parts: list[dict[str, list[tuple[str, int]]]]) -> dict[str, list[tuple[str, int]]]:
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



@dataclass(frozen=True)
class PageOfHits:
    """What the searcher answers for one page: its hits, the matches counted (exactly, or at
    least, see ``total_exact``) and the facet counts when asked for."""

    hits: tuple[Hit, ...]
    total: int
    total_exact: bool
    facets: dict[str, list[tuple[str, int]]] | None
    dropped: tuple[str, ...] = ()  # words of a short query too few articles had together
    other_diacritics: bool = False  # the typed forms matched nothing: these have other diacritics
    timeline: Timeline | None = None  # with a histogram interval: the matches per period


def search_page(parts, request: RankRequest, offset: int, limit: int, collapse: bool, snippet_chars: int) -> PageOfHits:
    """One page of a search over ``parts`` (a ``LocalSearcher`` or the shards of
    ``search.distributed``): each part ranks its documents, the rankings are merged as one
    index would rank them, near copies are folded, and only the page's hits are made. A short
    query's match set is settled first (``settle_words``)."""
    settled = settle_words(parts, request)
    request = settled.request
    # With collapsing, rank a few more than the page needs: near copies drop out.
    pool = 2 * (offset + limit) + 10 if collapse else limit
    start = 0 if collapse else offset
    ranked_parts = parts.rank(replace(request, want=start + pool))
    ranked = merge_ranked(ranked_parts, request.sort)[start : start + pool]
    if collapse:
        shown, near = collapse_near_copies(ranked)
        shown = shown[offset : offset + limit]
    else:
        shown, near = list(enumerate(ranked)), {}
    hits = parts.hits(shown, near, offset + 1, request.built.terms, snippet_chars)
    facet_counts = merged_facets([p.facets for p in ranked_parts]) if request.facets else None
    timeline = merged_timeline([p.periods for p in ranked_parts], request.histogram) if request.histogram else None
    return PageOfHits(hits, sum(p.total for p in ranked_parts), all(p.total_exact for p in ranked_parts), facet_counts,
                      settled.dropped, settled.other_diacritics, timeline)
