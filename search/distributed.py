"""Searching a sharded index on a Dask cluster: one actor per shard, dfs_query_then_fetch.

``Index.open(DIR, scheduler=ADDRESS)`` on a sharded index opens each shard once, on a Dask
worker, as an actor (``ShardSearcher``) that keeps the shard's segments and caches between
queries. A search then goes as Elasticsearch's ``dfs_query_then_fetch``:

1. **dfs**: the document frequency of each query term is asked of every shard and added up
   (remembered for the generation: it does not change until the next one). The number of
   documents and the total length of each field were added up when the shards were opened.
2. **query**: every shard ranks its own documents with those global statistics, so a score
   is the one a single index of all the articles gives, and returns its best ``want``.
3. **merge and fetch**: the coordinator merges the shards' lists as the joined index would
   order them (``search.searcher.merge_ranked``), folds near copies, and asks each shard for the
   stored fields and snippets of its documents on the page.

The cluster is the user's (``dask-scheduler`` / ``dask-worker``, or a LocalCluster): vnsearch
connects to it and does not stop it. The index folder must be on storage every worker sees.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

from indexer.errors import ClusterUnavailable
from indexer.schema import ID_FIELD, INDEX_FIELDS
from indexer.store import Generation, open_generation, open_segments, read_duplicates
from search.results import Hit, make_hit
from search.searcher import LocalSearcher, RankedDocument, Ranked, RankRequest, newest_date, rank_documents
from search.complete import Completion
from search.engine import CollectionStatistics, query_terms
from search.rank import QueryTerms

# The fields whose lengths BM25 normalises by: every indexed text field.
LENGTH_FIELDS = tuple(name for name in INDEX_FIELDS if name != ID_FIELD)
# Global document frequencies remembered by the coordinator (per generation).
DFS_CACHE_TERMS = 200_000


class ShardSearcher:
    """One shard's live generation, opened once on the worker that holds this actor."""

    def __init__(self, shard_generation: str, part: int, verify: bool = True) -> None:
        generation = Generation(Path(shard_generation))
        _, manifest, _ = open_generation(generation.path.parent, verify, generation)
        self.local = LocalSearcher(open_segments(generation, manifest), read_duplicates(generation, manifest))
        self.part = part

    def overview(self) -> tuple[int, dict[str, float], int | None, int]:
        """(live documents, total length of each field, date of the newest article, segments)."""
        engine = self.local.engine
        lengths = {name: engine.length_sum(name) for name in LENGTH_FIELDS}
        return engine.documents, lengths, newest_date(self.local.segments, engine), self.local.segment_count

    def use_collection(self, documents: int, length_sums: dict[str, float]) -> None:
        """Score with the statistics of all shards from now on."""
        self.local.engine.collection = CollectionStatistics(documents, {}, dict(length_sums))

    def doc_freqs(self, terms: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        engine = self.local.engine
        return {term: int(engine.postings(*term).docs.size) for term in terms}

    def rank(self, request: RankRequest, doc_freqs: dict[tuple[str, str], int], k1: float, b: float, newest: int | None) -> Ranked:
        engine = self.local.engine
        engine.collection.doc_freqs.update(doc_freqs)  # global, fixed for the generation
        engine.k1, engine.b = k1, b
        return rank_documents(self.local.segments, engine, request, newest, part=self.part)

    def match_counts(self, request: RankRequest, groups: list) -> list[int]:
        return self.local.match_counts(request, groups)

    def fetch(self, shown: list[tuple[int, int, float]], ids_of: list[int], terms: QueryTerms, snippet_chars: int) -> tuple[list[Hit], dict[int, str]]:
        """Hits (rank, docnum, score) of this shard's documents on the page, and the ids of
        its documents folded into hits as near copies."""
        stored, duplicates = self.local.segments.stored, self.local.duplicates
        hits = [make_hit(stored(docnum), duplicates, rank, score, terms, snippet_chars) for rank, docnum, score in shown]
        return hits, {docnum: stored(docnum)["id"] for docnum in ids_of}

    def known(self, term: str) -> bool:
        return self.local.known(term)

    def suggest(self, text: str) -> str | None:
        return self.local.suggest(text)

    def complete(self, text: str, limit: int) -> list:
        return self.local.complete(text, limit)

    def stored_by_id(self, doc_id: str) -> tuple[dict, dict[str, list[str]]] | None:
        return self.local.stored_by_id(doc_id)


class DaskShards:
    """The coordinator's side: a sharded index's shards as actors on a Dask cluster, searched
    as one index (the same interface as ``search.searcher.LocalSearcher``)."""

    def __init__(self, client, shard_generations: list[Generation], verify: bool = True) -> None:
        self.client = client
        futures = [self.client.submit(ShardSearcher, str(g.path), part, verify, actor=True, pure=False)
                   for part, g in enumerate(shard_generations)]
        self.actors = [f.result() for f in futures]
        overviews = [a.overview() for a in self.actors]
        overviews = [f.result() for f in overviews]
        self.documents = sum(n for n, _, _, _ in overviews)
        self.segment_count = sum(n for _, _, _, n in overviews)
        length_sums = {name: sum(sums[name] for _, sums, _, _ in overviews) for name in LENGTH_FIELDS}
        dated = [newest for _, _, newest, _ in overviews if newest is not None]
        self.newest = max(dated) if dated else None
        self._all([a.use_collection(self.documents, length_sums) for a in self.actors])
        self._doc_freqs: dict[tuple[str, str], int] = {}
        self.k1, self.b = 1.2, 0.75

    @staticmethod
    def _all(futures: list) -> list:
        return [f.result() for f in futures]

    def set_bm25(self, k1: float, b: float) -> None:
        self.k1, self.b = k1, b

    def doc_freqs(self, terms) -> dict[tuple[str, str], int]:
        """The global document frequency of each (field, term): asked of the shards for the
        terms not seen yet in this generation, added up, and remembered."""
        doc_freqs = {}
        for term in terms:
            n = self._doc_freqs.get(term)
            if n is not None:
                doc_freqs[term] = n
        missing = sorted(set(terms) - doc_freqs.keys())
        if missing:
            fresh = dict.fromkeys(missing, 0)
            for part in self._all([a.doc_freqs(missing) for a in self.actors]):
                for term, n in part.items():
                    fresh[term] += n
            if len(self._doc_freqs) + len(fresh) > DFS_CACHE_TERMS:
                self._doc_freqs = {}
            self._doc_freqs.update(fresh)
            doc_freqs.update(fresh)
        return doc_freqs

    def rank(self, request: RankRequest) -> list[Ranked]:
        """dfs, then query: the global document frequency of each query term, then every
        shard's ranking."""
        doc_freqs = self.doc_freqs(query_terms(request.built.scored))
        return self._all([a.rank(request, doc_freqs, self.k1, self.b, self.newest) for a in self.actors])

    def match_counts(self, request: RankRequest, groups: list) -> list[int]:
        """Documents matching each group of nodes, added up over the shards."""
        per_shard = self._all([a.match_counts(request, groups) for a in self.actors])
        return [sum(counts) for counts in zip(*per_shard)]

    def hits(self, shown: list[tuple[int, RankedDocument]], near: dict[int, list[RankedDocument]], first_rank: int,
             terms: QueryTerms, snippet_chars: int) -> tuple[Hit, ...]:
        per_part: dict[int, tuple[list, list]] = {}
        for rank, (i, doc) in enumerate(shown, start=first_rank):
            per_part.setdefault(doc.part, ([], []))[0].append((rank, doc.docnum, doc.score))
            for other in near.get(i, []):
                per_part.setdefault(other.part, ([], []))[1].append(other.docnum)
        answers = dict(zip(per_part, self._all([self.actors[part].fetch(page, ids, terms, snippet_chars)
                                                for part, (page, ids) in per_part.items()])))
        hits = []
        for rank, (i, doc) in enumerate(shown, start=first_rank):
            hit = next(h for h in answers[doc.part][0] if h.rank == rank)
            near_ids = tuple(answers[other.part][1][other.docnum] for other in near.get(i, []))
            hits.append(replace(hit, near_duplicates=near_ids))
        return tuple(hits)

    def known(self, term: str) -> bool:
        return any(self._all([a.known(term) for a in self.actors]))

    def suggest(self, text: str) -> str | None:
        """The suggestion most shards make (each from its own statistics: the shards are
        samples of the archive by id hash); None if most make none."""
        votes = Counter(self._all([a.suggest(text) for a in self.actors]))
        best, count = votes.most_common(1)[0]
        return best if count * 2 > len(self.actors) or (best is not None and votes[None] * 2 < len(self.actors)) else None

    def complete(self, text: str, limit: int) -> list[Completion]:
        """Every shard's completions, their article counts added up (a completion one shard
        does not offer counts nothing there)."""
        counts: dict[str, int] = {}
        for part in self._all([a.complete(text, limit) for a in self.actors]):
            for completion in part:
                counts[completion.text] = counts.get(completion.text, 0) + completion.count
        return [Completion(text, n) for text, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))][:limit]

    def stored_by_id(self, doc_id: str) -> tuple[dict, dict[str, list[str]]] | None:
        return next((found for found in self._all([a.stored_by_id(doc_id) for a in self.actors]) if found), None)



def connect(scheduler: str):
    """A Dask client of the scheduler at ``scheduler`` (ClusterUnavailable if it does not
    answer within CONNECT_TIMEOUT, or Dask is not installed)."""
    try:
        from distributed import Client
    except ImportError:
        raise ClusterUnavailable("searching on a Dask cluster needs Dask: pip install 'vnsearch[cluster]'") from None
    from indexer.shards import CONNECT_TIMEOUT

    try:
        return Client(scheduler, timeout=CONNECT_TIMEOUT)  # the default client: actor handles bind to it
    except (OSError, TimeoutError, ValueError) as e:
        raise ClusterUnavailable(f"cannot reach the Dask scheduler at {scheduler}: {e}") from None

