"""The compiled core (indexer._postings, search._scoring) against its NumPy reference, side by side.

Same index, same queries, in one run: each query is answered with the compiled core and with
the NumPy reference of every compiled loop (SegmentReader.postings_reference,
search.engine.bm25_reference, add_best_reference, and exhaustive NumPy scoring for
the compiled MaxScore top_k) in turn, alternating which goes
first, so both see the same machine. Each has an Index of its own, so that the engine's caches
(postings and scores of terms met before) fill the same way for both, as in a server. Every
answer pair is compared (ids and float32 scores): the "different" column must be 0.

    python bench/compiled.py --index /tmp/vntc-ix          # an index of all of VNTC
    python bench/compiled.py --docs 5000                    # builds a sample index first

Queries: VNTC test-split headlines (as a journalist pastes them), and their first two words.
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

import search.engine as engine  # noqa: E402
from indexer import build_index  # noqa: E402
from indexer.segment import SegmentReader  # noqa: E402
from search import Index  # noqa: E402

VNTC = ROOT.parent / "shared" / "corpus" / "vntc.jsonl.gz"
# (owner, attribute, compiled, reference) of every compiled loop
LOOPS = [
    (engine._scoring, "add_best", engine._scoring.add_best, engine.add_best_reference),
    (engine, "bm25", engine.bm25, engine.bm25_reference),
    (SegmentReader, "postings", SegmentReader.postings, SegmentReader.postings_reference),
    # None: score every document with NumPy (Engine.scores, Engine.top), the oracle of top_k
    (engine.Engine, "top_pruned", engine.Engine.top_pruned, lambda *args: None),
]
COMPILED, NUMPY = "compiled", "numpy"


def use(implementation: str) -> None:
    for owner, name, compiled, reference in LOOPS:
        setattr(owner, name, compiled if implementation == COMPILED else reference)


def headlines(count: int, seed: int = 7) -> list[str]:
    with gzip.open(VNTC, "rt", encoding="utf-8") as f:
        titles = [" ".join(r["title"].split()) for r in map(json.loads, f) if r.get("split") == "test" and r.get("title")]
    titles = [t for t in titles if "<" not in t and len(t.split()) >= 4]
    random.Random(seed).shuffle(titles)
    return titles[:count]


def answer(indexes: dict[str, Index], query: str, implementation: str) -> tuple[float, list]:
    use(implementation)
    index = indexes[implementation]
    started = time.perf_counter()
    results = index.search(query, limit=10)
    took = (time.perf_counter() - started) * 1000
    return took, [(h.id, h.score) for h in results.hits]


def run(index: dict[str, Index], queries: list[str]) -> dict:
    times = {COMPILED: [], NUMPY: []}
    different = 0
    for q in queries[:20]:  # warm-up: the page cache of the index files
        answer(index, q, COMPILED)
        answer(index, q, NUMPY)
    for n, q in enumerate(queries):
        order = [COMPILED, NUMPY] if n % 2 == 0 else [NUMPY, COMPILED]
        got = {}
        for implementation in order:
            took, hits = answer(index, q, implementation)
            times[implementation].append(took)
            got[implementation] = hits
        different += got[COMPILED] != got[NUMPY]
    use(COMPILED)
    row = {"queries": len(queries), "different": different}
    for name, values in times.items():
        values.sort()
        row[f"{name}_p50"] = statistics.median(values)
        row[f"{name}_p95"] = values[int(0.95 * (len(values) - 1))]
    row["speed-up_p50"] = row["numpy_p50"] / row["compiled_p50"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, help="an existing index (default: build one of --docs VNTC articles)")
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()
    index_dir = args.index
    if index_dir is None:
        with gzip.open(VNTC, "rt", encoding="utf-8") as f:
            lines = [line for _, line in zip(range(args.docs), f)]
        folder = Path(tempfile.mkdtemp(prefix="vnsearch-compiled-"))
        (folder / "sample.jsonl").write_text("".join(lines), encoding="utf-8")
        build_index([folder / "sample.jsonl"], folder / "ix")
        index_dir = folder / "ix"
    titles = headlines(args.queries)
    with Index.open(index_dir) as compiled, Index.open(index_dir) as reference:
        index = {COMPILED: compiled, NUMPY: reference}
        print(f"index: {index_dir} ({len(compiled):,} articles); top 10 with snippets, title + body; ms")
        print("| queries | n | compiled p50 | p95 | NumPy p50 | p95 | p50 speed-up | different answers |")
        print("|---|---|---|---|---|---|---|---|")
        for name, queries in (("headlines", titles), ("first two words", [" ".join(t.split()[:2]) for t in titles])):
            r = run(index, queries)
            print(f"| {name} | {r['queries']} | {r['compiled_p50']:.1f} | {r['compiled_p95']:.1f} | {r['numpy_p50']:.1f} | "
                  f"{r['numpy_p95']:.1f} | {r['speed-up_p50']:.2f}× | {r['different']} |", flush=True)


if __name__ == "__main__":
    main()
