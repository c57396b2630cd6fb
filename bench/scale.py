"""How vnsearch grows with the archive: VNTC replicated K times, built with the CLI's defaults.

Each copy of VNTC gets distinct ids and one distinct closing line per article, so copies are
not exact duplicates and are all indexed. For each K: build docs/s and peak memory of the
whole process tree (``vnsearch index FILE``, defaults: one process per core, 512 MB buffer a
process), index size, and warm p50/p95 of title queries (top 10 with snippets). The K=1 row is
the baseline of the ratios, measured in the same run.

    python bench/scale.py                    # K = 1, 4, 12 (~1M articles; ~40 min)
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


def measure(copies: int, workdir: Path, queries: int, limit: int | None) -> dict:
    source = workdir / f"vntc-x{copies}.jsonl"
    articles, titles = write_replicated(source, copies, limit)
    target = workdir / f"index-x{copies}"
    started = time.perf_counter()
    build = subprocess.Popen([*VNSEARCH, "index", str(source), "--index", str(target), "--quiet"], cwd=ROOT)
    with PeakMemory(build.pid) as memory:
        if build.wait() not in (0, 3):
            raise SystemExit(f"vnsearch index failed with exit code {build.returncode}")
    seconds = time.perf_counter() - started
    source.unlink()
    with Index.open(target) as index:
        documents = len(index)
        segments = len(index._segments.readers)
        for q in titles[:50]:
            index.search(q, limit=10)
        times = []
        for q in titles[:queries]:
            t = time.perf_counter()
            index.search(q, limit=10)
            times.append((time.perf_counter() - t) * 1000)
    times.sort()
    row = {"copies": copies, "articles": articles, "documents": documents, "segments": segments,
           "docs_per_s": articles / seconds, "peak_mb": memory.peak_kb / 1024, "size_mb": size_of(target) / 1e6,
           "p50": statistics.median(times), "p95": times[int(0.95 * len(times))]}
    shutil.rmtree(target, ignore_errors=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", default="1,4,12", help="K values, comma-separated (the first is the baseline)")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--limit", type=int, default=0, help="use only the first N VNTC records (0: all), for a smoke run")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="vnsearch-scale-"))
    try:
        rows = [measure(int(k), workdir, args.queries, args.limit or None) for k in args.copies.split(",")]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    base = rows[0]
    print("vnsearch at scale: VNTC replicated K times (distinct ids and closing lines), `vnsearch index FILE` with its defaults\n")
    print("| K | articles | segments | build docs/s | vs K=1 | peak MB (all processes) | index MB | p50 ms | p95 ms | p50 vs K=1 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['copies']} | {r['articles']:,} | {r['segments']} | {r['docs_per_s']:,.0f} | {r['docs_per_s'] / base['docs_per_s']:.2f} | "
              f"{r['peak_mb']:,.0f} | {r['size_mb']:,.0f} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p50'] / base['p50']:.2f} |")


if __name__ == "__main__":
    main()
