"""The newsroom desk's features on real archives: the timeline (matches per period), related
coverage and completion (search as you type).

For each query, the same search is answered with and without ``histogram="month"``, one
after the other (alternating which goes first), top 10 with snippets, warm; the table gives
p50/p95 of each and the p50 ratio. The timeline needs every match scored (as facets do), so
its cost is that of the exhaustive path, not of the pruned top 10.

    python bench/desk.py --index DIR      # an index of all of VNTC (built if DIR has none)
    python bench/desk.py --docs 2000      # a sample of VNTC, quick

Queries: the first two and three words of VNTC test-split titles (short queries, the desk's
usual ones), half typed without diacritics; on Dân trí (2,653 dated articles, built here) the
same queries, since VNTC has no dates (its timelines are one "undated" count).

Related coverage (``Index.related``, top 5) for VNTC test-split articles: the share of the
related articles in the article's own category (VNTC's ten topics: a proxy for "about the same
thing"), against the baseline the issue names, a search with the article's title alone (the
article and its copies left out the same way); and the time of each call.

Completion: what is typed on the way to each query (its first word and two or three letters
of the second), the first time (each prefix is new: what a person typing meets) and again.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from indexer import build_index  # noqa: E402
from indexer.analysis import fold_diacritics  # noqa: E402
from search import Index, QueryError  # noqa: E402

SHARED = ROOT.parent / "shared" / "corpus"
VNTC, DANTRI = SHARED / "vntc.jsonl.gz", SHARED / "dantri-unc.jsonl.gz"


def short_queries(count: int, seed: int) -> list[str]:
    with gzip.open(VNTC, "rt", encoding="utf-8") as f:
        titles = [" ".join(json.loads(line)["title"].split()) for line in f]
    titles = [t for t in titles if len(t.split()) >= 3 and "<" not in t]
    rng = random.Random(seed)
    rng.shuffle(titles)
    out = []
    for n, title in enumerate(titles[:count]):
        words = [w.strip(".,:;!?\"'()“”") for w in title.split()][: rng.choice([2, 3])]
        query = " ".join(w for w in words if w)
        out.append(query if n % 2 == 0 else fold_diacritics(query))
    return out


def timed(index: Index, query: str, **options) -> float:
    started = time.perf_counter()
    index.search(query, limit=10, **options)
    return (time.perf_counter() - started) * 1000


def measure(index: Index, queries: list[str]) -> tuple[list[float], list[float]]:
    plain, timeline = [], []
    for query in queries:  # warm-up: postings and the suggester, for both
        try:
            index.search(query, limit=10, histogram="month")
        except QueryError:
            continue
    for n, query in enumerate(queries):
        try:
            if n % 2:
                plain.append(timed(index, query))
                timeline.append(timed(index, query, histogram="month"))
            else:
                timeline.append(timed(index, query, histogram="month"))
                plain.append(timed(index, query))
        except QueryError:
            continue
    return plain, timeline


def related_rows(index: Index, articles: list[str]) -> list[str]:
    """Same-category share of the top 5 related articles, by Index.related and by the title."""
    related_same = related_all = title_same = title_all = 0
    took = []
    for doc_id in articles:
        article = index.get(doc_id)
        started = time.perf_counter()
        related = index.related(doc_id, limit=5)
        took.append((time.perf_counter() - started) * 1000)
        related_all += len(related)
        related_same += sum(hit.category == article.category for hit in related)
        try:
            by_title = index.search(article.title, limit=6, snippet_chars=0).hits
        except QueryError:
            by_title = ()
        others = [h for h in by_title if h.id != article.id and article.id not in h.near_duplicates + h.duplicates][:5]
        title_all += len(others)
        title_same += sum(hit.category == article.category for hit in others)
    return [f"| related (top 5 of {len(articles)} articles) | {related_same / max(related_all, 1):.3f} ({related_same:,} of {related_all:,}) | "
            f"{statistics.median(took):.1f} / {percentile(took, 95):.1f} |",
            f"| baseline: the title searched | {title_same / max(title_all, 1):.3f} ({title_same:,} of {title_all:,}) | |"]


def typed_prefixes(queries: list[str]) -> list[str]:
    """What a person has typed on the way to each query: its first word and the first two or
    three letters of the second ("thủ tướng" -> "thủ tư"), as typed (half without diacritics)."""
    out = []
    for n, query in enumerate(queries):
        words = query.split()
        if len(words) >= 2 and len(words[1]) >= 2:
            out.append(f"{words[0]} {words[1][: 2 + n % 2]}")
    return out


def completion_row(index: Index, prefixes: list[str]) -> str:
    first, again = [], []
    answered = 0
    for prefix in prefixes:
        started = time.perf_counter()
        answered += bool(index.complete(prefix))
        first.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        index.complete(prefix)
        again.append((time.perf_counter() - started) * 1000)
    return (f"| completion ({len(prefixes)} prefixes, {answered} answered) | {statistics.median(first):.1f} / {percentile(first, 95):.1f} | "
            f"{statistics.median(again):.1f} / {percentile(again, 95):.1f} |")


def test_articles(count: int, seed: int, index: Index) -> list[str]:
    with gzip.open(VNTC, "rt", encoding="utf-8") as f:
        ids = [r["id"] for r in map(json.loads, f) if r.get("split") == "test"]
    random.Random(seed).shuffle(ids)
    return [doc_id for doc_id in ids if index.get(doc_id) is not None and index.get(doc_id).id == doc_id][:count]


def percentile(values: list[float], q: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, len(ordered) * q // 100)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, help="an index of all of VNTC (built here if the folder has none)")
    parser.add_argument("--docs", type=int, default=0, help="with no --index: a sample of N VNTC articles (0: all)")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--articles", type=int, default=300, help="VNTC test articles whose related coverage is judged")
    parser.add_argument("--seed", type=int, default=25)
    args = parser.parse_args()
    if not VNTC.exists():
        sys.exit(f"{VNTC} not found: the benchmark reads ../shared")
    work = Path(tempfile.mkdtemp(prefix="vnsearch-desk-"))
    vntc_index = args.index or work / "vntc"
    if not (vntc_index / "CURRENT").exists():
        source = VNTC
        if args.docs:
            with gzip.open(VNTC, "rt", encoding="utf-8") as f:
                lines = f.readlines()
            source = work / "vntc-sample.jsonl"
            source.write_text("".join(random.Random(args.seed).sample(lines, args.docs)), encoding="utf-8")
        build_index([source], vntc_index)
    dantri_index = work / "dantri"
    build_index([DANTRI], dantri_index)
    queries = short_queries(args.queries, args.seed)
    print("| archive | articles | queries | search p50 / p95 ms | with timeline p50 / p95 ms | p50 ratio |")
    print("|---|---|---|---|---|---|")
    for name, path in (("VNTC", vntc_index), ("Dân trí", dantri_index)):
        with Index.open(path) as index:
            plain, timeline = measure(index, queries)
            print(f"| {name} | {len(index):,} | {len(plain)} | {statistics.median(plain):.1f} / {percentile(plain, 95):.1f} | "
                  f"{statistics.median(timeline):.1f} / {percentile(timeline, 95):.1f} | "
                  f"{statistics.median(timeline) / statistics.median(plain):.2f} |")
    with Index.open(vntc_index) as index:
        articles = test_articles(args.articles, args.seed, index)
        for doc_id in articles[:20]:  # warm-up
            index.related(doc_id)
        print()
        print("| VNTC | same category as the article | p50 / p95 ms |")
        print("|---|---|---|")
        for row in related_rows(index, articles):
            print(row)
        print()
        print("| VNTC | first time p50 / p95 ms | typed again p50 / p95 ms |")
        print("|---|---|---|")
        print(completion_row(index, typed_prefixes(queries)))


if __name__ == "__main__":
    main()
