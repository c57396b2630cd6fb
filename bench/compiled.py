"""The compiled scoring loops (search._scoring) against their NumPy reference, side by side.

Same index, same queries, in one run: each query is answered with the compiled core and with
the NumPy reference (search.engine.add_best_reference) in turn, alternating which goes first,
so both see the same machine. Every answer pair is compared (ids and float32 scores): the
"different" column must be 0.

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
from search import Index  # noqa: E402

VNTC = ROOT.parent / "shared" / "corpus" / "vntc.jsonl.gz"
COMPILED = engine._scoring.add_best


def headlines(count: int, seed: int = 7) -> list[str]:
    with gzip.open(VNTC, "rt", encoding="utf-8") as f:
        titles = [" ".join(r["title"].split()) for r in map(json.loads, f) if r.get("split") == "test" and r.get("title")]
    titles = [t for t in titles if "<" not in t and len(t.split()) >= 4]
    random.Random(seed).shuffle(titles)
    return titles[:count]


def answer(index: Index, query: str, implementation) -> tuple[float, list]:
    engine._scoring.add_best = implementation
    started = time.perf_counter()
    results = index.search(query, limit=10)
    took = (time.perf_counter() - started) * 1000
    return took, [(h.id, h.score) for h in results.hits]


def run(index: Index, queries: list[str]) -> dict:
    times = {"compiled": [], "numpy": []}
    different = 0
    for q in queries[:20]:  # warm-up: caches of the common terms
        answer(index, q, COMPILED)
        answer(index, q, engine.add_best_reference)
    for n, q in enumerate(queries):
        order = [("compiled", COMPILED), ("numpy", engine.add_best_reference)]
        if n % 2:
            order.reverse()
        got = {}
        for name, implementation in order:
            took, hits = answer(index, q, implementation)
            times[name].append(took)
            got[name] = hits
        different += got["compiled"] != got["numpy"]
    engine._scoring.add_best = COMPILED
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
    with Index.open(index_dir) as index:
        print(f"index: {index_dir} ({len(index):,} articles); top 10 with snippets, title + body; ms")
        print("| queries | n | compiled p50 | p95 | NumPy p50 | p95 | p50 speed-up | different answers |")
        print("|---|---|---|---|---|---|---|---|")
        for name, queries in (("headlines", titles), ("first two words", [" ".join(t.split()[:2]) for t in titles])):
            r = run(index, queries)
            print(f"| {name} | {r['queries']} | {r['compiled_p50']:.1f} | {r['compiled_p95']:.1f} | {r['numpy_p50']:.1f} | "
                  f"{r['numpy_p95']:.1f} | {r['speed-up_p50']:.2f}× | {r['different']} |", flush=True)


if __name__ == "__main__":
    main()
