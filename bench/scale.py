"""How vnsearch grows with the archive: VNTC replicated K times, built with the CLI's defaults.

Each copy of VNTC gets distinct ids and one distinct closing line per article, so copies are
not exact duplicates and are all indexed. For each K: build docs/s and peak memory of the
whole process tree (``vnsearch index FILE``, defaults: one process per core, 512 MB buffer a
process), index size, warm p50/p95 of headline queries (a title pasted whole, top 10 with
snippets, title and body), p50 of their first two words and of the headlines over the body
alone, and the cold start of `vnsearch search` (process start to result, median of 3). The K=1
row is the baseline of the ratios, measured in the same run.

One more build, at K = ``--shards-at`` (4): ``vnsearch index FILE --shards 2``, two shards
built as Dask tasks on a 2-worker LocalCluster (its worker processes count in the peak), then
searched two ways: opened in the bench process (the shards' segments joined), and through
Dask actors on a LocalCluster (``Index.open(DIR, scheduler=...)``, dfs_query_then_fetch).

    python bench/scale.py                    # K = 1, 4, 12 (~1M articles; ~60 min)
    python bench/scale.py --copies 1,4       # quicker
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from search import Index  # noqa: E402
from speed import PeakMemory, size_of  # noqa: E402

VNTC = ROOT.parent / "shared" / "corpus" / "vntc.jsonl.gz"
VNSEARCH = [sys.executable, "-c", "from search.cli import main; main()"]


def write_replicated(target: Path, copies: int, limit: int | None) -> tuple[int, list[str]]:
    """VNTC ``copies`` times into one JSON Lines file; (articles written, title queries)."""
    with gzip.open(VNTC, "rt", encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    if limit:
        records = records[:limit]
    titles = [" ".join(r["title"].split()) for r in records if r["title"] and "<" not in r["title"]]
    written = 0
    with open(target, "w", encoding="utf-8") as out:
        for copy in range(copies):
            for r in records:
                record = {**r, "id": f"{r['id']}~{copy}", "body": f"{r['body']}\n\nBản lưu số {copy + 1}, mục {written}."}
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                written += 1
    random.Random(13).shuffle(titles)
    return written, titles


def measure(copies: int, workdir: Path, queries: int, limit: int | None, shards: int = 0) -> list[dict]:
    source = workdir / f"vntc-x{copies}.jsonl"
    articles, titles = write_replicated(source, copies, limit)
    target = workdir / f"index-x{copies}"
    started = time.perf_counter()
    sharding = ["--shards", str(shards)] if shards else []
    build = subprocess.Popen([*VNSEARCH, "index", str(source), "--index", str(target), "--quiet", *sharding], cwd=ROOT)
    with PeakMemory(build.pid) as memory:
        if build.wait() not in (0, 3):
            raise SystemExit(f"vnsearch index failed with exit code {build.returncode}")
    seconds = time.perf_counter() - started
    source.unlink()
    build_row = {"copies": copies, "shards": shards, "articles": articles, "docs_per_s": articles / seconds,
                 "peak_mb": memory.peak_kb / 1024, "size_mb": size_of(target) / 1e6}
    rows = [{**build_row, "searched": "in process", **query_times(target, titles[:queries])}]
    if shards:
        import logging

        from distributed import LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None, silence_logs=logging.ERROR) as cluster:
            rows.append({**build_row, "searched": "Dask actors", **query_times(target, titles[:queries], cluster.scheduler_address)})
    shutil.rmtree(target, ignore_errors=True)
    return rows


def query_times(target: Path, titles: list[str], scheduler: str | None = None) -> dict:
    """Warm p50/p95 of title queries, and p50 of their first two words (what people type,
    where dynamic pruning applies), top 10 with snippets."""
    with Index.open(target, scheduler=scheduler) as index:
        documents = len(index)
        segments = index.stats().segments

        def timed(queries: list[str], fields=("title", "body")) -> list[float]:
            for q in queries[:50]:
                index.search(q, limit=10, fields=fields)
            times = []
            for q in queries:
                t = time.perf_counter()
                index.search(q, limit=10, fields=fields)
                times.append((time.perf_counter() - t) * 1000)
            return sorted(times)

        times = timed(titles)
        short = timed([" ".join(t.split()[:2]) for t in titles])
        body = timed(titles, ["body"])
    colds = []
    if scheduler is None:
        for query in titles[:3]:  # process start to first result, as a script calls the CLI
            t = time.perf_counter()
            subprocess.run([*VNSEARCH, "search", query, "--index", str(target), "--json"], cwd=ROOT, capture_output=True, check=True)
            colds.append((time.perf_counter() - t) * 1000)
    return {"documents": documents, "segments": segments, "p50": statistics.median(times),
            "p95": times[int(0.95 * len(times))], "short_p50": statistics.median(short), "body_p50": statistics.median(body),
            "cold_ms": statistics.median(colds) if colds else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", default="1,4,12", help="K values, comma-separated (the first is the baseline)")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--limit", type=int, default=0, help="use only the first N VNTC records (0: all), for a smoke run")
    parser.add_argument("--shards-at", type=int, default=4, help="K of the sharded build (0: none)")
    parser.add_argument("--shards", type=int, default=2, help="shards of that build")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="vnsearch-scale-"))
    print("vnsearch at scale: VNTC replicated K times (distinct ids and closing lines), `vnsearch index FILE` with its defaults\n")
    print("| K | shards | searched | articles | segments | build docs/s | vs K=1 | peak MB (all processes) | index MB | "
          "p50 ms | p95 ms | p50 vs K=1 | 2-word p50 ms | vs K=1 | body-only p50 ms | vs K=1 | cold ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|", flush=True)
    base = None
    runs = [(int(k), 0) for k in args.copies.split(",")] + ([(args.shards_at, args.shards)] if args.shards_at else [])
    try:
        for copies, shards in runs:
            # Each row as soon as it is measured: an hour-long run that fails late keeps what it had.
            for r in measure(copies, workdir, args.queries, args.limit or None, shards=shards):
                base = base or r
                cold = "-" if r["cold_ms"] is None else f"{r['cold_ms']:.0f}"
                print(f"| {r['copies']} | {r['shards'] or '-'} | {r['searched']} | {r['articles']:,} | {r['segments']} | "
                      f"{r['docs_per_s']:,.0f} | {r['docs_per_s'] / base['docs_per_s']:.2f} | {r['peak_mb']:,.0f} | "
                      f"{r['size_mb']:,.0f} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p50'] / base['p50']:.2f} | "
                      f"{r['short_p50']:.1f} | {r['short_p50'] / base['short_p50']:.2f} | {r['body_p50']:.1f} | "
                      f"{r['body_p50'] / base['body_p50']:.2f} | {cold} |", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
