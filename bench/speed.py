"""Speed side by side: vnsearch, plain Whoosh, SQLite FTS5 (and tantivy if installed).

Every engine indexes the same VNTC articles (title and body) and answers the same queries, top
10, in one run, so the ratios are comparable even on a noisy machine. Three query sets:

* headlines: the title of an article of the sample, pasted whole, over title and body;
* two words: the first two words of each headline, over title and body;
* headlines, body only: the headlines over the body field alone.

vnsearch is timed with its snippets (the page a reader sees) and without (``snippet_chars=0``:
the ranking alone, which is what the other engines return). Medians (p50) and 95th
percentiles over the queries, after one warm-up pass.

    python bench/speed.py --docs 2000                            # small, minutes
    python bench/speed.py --docs 0 --skip whoosh --rounds 1      # all 84,132 articles, ~15 min
                                                                 # (plain Whoosh alone: ~5 h)

Build times on a shared 2-CPU machine vary by ±15% from one minute to the next (measured:
the same vnsearch build took 53 to 73 s); ``--rounds`` runs every engine in turn several
times and reports medians.

tantivy runs when installed: pip install -e ".[bench]".
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from search import Index  # noqa: E402

VNTC = ROOT.parent / "shared" / "corpus" / "vntc.jsonl.gz"


def load(n_docs: int | None, n_queries: int, seed: int = 13) -> tuple[list[dict], list[str]]:
    """A seeded random sample of VNTC (the file is ordered by split and source)."""
    with gzip.open(VNTC, "rt", encoding="utf-8") as f:
        lines = f.readlines()
    if n_docs:
        random.Random(seed).shuffle(lines)
        lines = lines[:n_docs]
    docs = [d for d in map(json.loads, lines) if d["body"].strip()]
    titles = [" ".join(d["title"].split()) for d in docs if d["title"] and "<" not in d["title"] and len(d["title"].split()) >= 2]
    return docs, titles[:n_queries]


# (name, queries from the headlines, searched fields)
QUERY_SETS = [
    ("headlines", lambda titles: titles, ("title", "body")),
    ("two words", lambda titles: [" ".join(t.split()[:2]) for t in titles], ("title", "body")),
    ("headlines, body only", lambda titles: titles, ("body",)),
]


def timed_sets(run, titles: list[str]) -> dict[str, tuple[float, float]]:
    """(p50, p95) of ``run(query, fields)`` for each query set."""
    return {name: timed_queries(lambda q: run(q, fields), make(titles)) for name, make, fields in QUERY_SETS}


def size_of(path: Path) -> int:
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def percentiles(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))]


def timed_queries(run, queries: list[str]) -> tuple[float, float]:
    for q in queries[:50]:
        run(q)  # warm-up
    times = []
    for q in queries:
        started = time.perf_counter()
        run(q)
        times.append((time.perf_counter() - started) * 1000)
    return percentiles(times)


class PeakMemory:
    """Peak proportional set size (PSS) of a process and its children, sampled every 0.1 s:
    the memory a build takes from the machine, its worker processes included."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, sum(_pss_kb(pid) for pid in _tree(self.pid)))
            self._stop.wait(0.1)


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants. Children are listed per thread: those a thread other than
    the main one started (Dask's nannies start their workers from an event-loop thread) are
    only in that thread's list."""
    children = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                children += (task / "children").read_text().split()
            except OSError:
                continue
    except OSError:
        return [pid]
    return [pid] + [p for c in dict.fromkeys(children) for p in _tree(int(c))]


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def median_row(rows: list[dict]) -> dict:
    """One engine's figures over several rounds: medians, and the highest peak memory."""
    out = dict(rows[-1])
    for key in ("build_s", "cold_ms"):
        if key in out:
            out[key] = statistics.median(r[key] for r in rows)
    out["sets"] = {name: tuple(statistics.median(r["sets"][name][i] for r in rows) for i in (0, 1)) for name in out["sets"]}
    if "peak_mb" in out:
        out["peak_mb"] = max(r["peak_mb"] for r in rows)
    out["build_runs"] = sorted(r["build_s"] for r in rows)
    return out


def bench_vnsearch(docs, queries, workdir: Path, procs: int) -> list[dict]:
    source = workdir / "docs.jsonl"
    with open(source, "w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps({"id": d["id"], "title": d["title"], "body": d["body"]}, ensure_ascii=False) + "\n")
    target = workdir / "vnsearch"
    # `vnsearch index` in its own process, as people run it: its memory is the build's alone.
    started = time.perf_counter()
    build = subprocess.Popen([sys.executable, "-c", "from search.cli import main; main()", "index", str(source),
                              "--index", str(target), "-j", str(procs), "--quiet"], cwd=ROOT)
    with PeakMemory(build.pid) as memory:
        if build.wait() not in (0, 3):
            raise SystemExit(f"vnsearch index failed with exit code {build.returncode}")
    build = time.perf_counter() - started
    with Index.open(target) as index:
        with_snippets = timed_sets(lambda q, fields: index.search(q, limit=10, fields=fields), queries)
        ranking_only = timed_sets(lambda q, fields: index.search(q, limit=10, fields=fields, snippet_chars=0), queries)
    colds = []
    for query in queries[:5]:  # a new process each, as a script calls the CLI
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "from search.cli import main; main()", "search", query,
                        "--index", str(target), "--json"], cwd=ROOT, capture_output=True, check=True)
        colds.append((time.perf_counter() - started) * 1000)
    common = {"build_s": build, "size": size_of(target), "cold_ms": statistics.median(colds), "peak_mb": memory.peak_kb / 1024}
    return [{"engine": "vnsearch, with snippets", "sets": with_snippets, **common},
            {"engine": "vnsearch, ranking only", "sets": ranking_only, **common}]


def bench_whoosh(docs, queries, workdir: Path) -> dict:
    from whoosh import index as whoosh_index
    from whoosh.analysis import StandardAnalyzer
    from whoosh.fields import ID, TEXT, Schema
    from whoosh.highlight import HtmlFormatter
    from whoosh.qparser import MultifieldParser, OrGroup

    target = workdir / "whoosh"
    target.mkdir()
    analyzer = StandardAnalyzer()
    ix = whoosh_index.create_in(target, Schema(id=ID(stored=True), title=TEXT(analyzer=analyzer, stored=True),
                                               body=TEXT(analyzer=analyzer, stored=True)))
    started = time.perf_counter()
    writer = ix.writer(limitmb=256)
    for d in docs:
        writer.add_document(id=d["id"], title=d["title"], body=d["body"])
    writer.commit()
    build = time.perf_counter() - started
    with ix.searcher() as searcher:
        def run(q, fields):
            parser = MultifieldParser(list(fields), ix.schema, group=OrGroup)
            results = searcher.search(parser.parse(re.sub(r"[^\w\s]", " ", q)), limit=10)
            results.formatter = HtmlFormatter()
            return [hit.highlights("body") for hit in results]

        sets = timed_sets(run, queries)
    return {"engine": "Whoosh 2.7 StandardAnalyzer, plain", "build_s": build, "size": size_of(target), "sets": sets}


def bench_fts5(docs, queries, workdir: Path) -> dict:
    path = workdir / "fts5.db"
    db = sqlite3.connect(path)
    db.execute("CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, body, tokenize='unicode61 remove_diacritics 2')")
    started = time.perf_counter()
    db.executemany("INSERT INTO docs VALUES (?, ?, ?)", ((d["id"], d["title"], d["body"]) for d in docs))
    db.commit()
    build = time.perf_counter() - started

    def run(q, fields):
        words = re.findall(r"\w+", q)
        match = "{" + " ".join(fields) + "} : (" + " OR ".join(f'"{w}"' for w in words) + ")"
        return db.execute(
            "SELECT id, snippet(docs, 2, '<mark>', '</mark>', '…', 30) FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) LIMIT 10",
            (match,),
        ).fetchall()

    sets = timed_sets(run, queries)
    db.close()
    return {"engine": "SQLite FTS5 (remove_diacritics)", "build_s": build, "size": size_of(path), "sets": sets}


def bench_tantivy(docs, queries, workdir: Path) -> dict | None:
    try:
        import tantivy
    except ImportError:
        return None
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True)
    builder.add_text_field("title", stored=True)
    builder.add_text_field("body", stored=True)
    schema = builder.build()
    target = workdir / "tantivy"
    target.mkdir()
    index = tantivy.Index(schema, path=str(target))
    started = time.perf_counter()
    writer = index.writer()
    for d in docs:
        writer.add_document(tantivy.Document(id=d["id"], title=d["title"], body=d["body"]))
    writer.commit()
    writer.wait_merging_threads()
    build = time.perf_counter() - started
    index.reload()
    searcher = index.searcher()

    def run(q, fields):
        query = index.parse_query(" ".join(re.findall(r"\w+", q)) or "x", list(fields))
        return searcher.search(query, 10).hits

    sets = timed_sets(run, queries)
    return {"engine": "tantivy (default tokenizer), no snippets", "build_s": build, "size": size_of(target), "sets": sets}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=2000, help="first N VNTC records (0: all)")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--procs", type=int, default=2, help="processes for the vnsearch build")
    parser.add_argument("--skip", action="append", default=[], choices=["whoosh", "fts5", "tantivy"])
    parser.add_argument("--rounds", type=int, default=1, help="run every engine this many times; report medians")
    args = parser.parse_args()
    if not VNTC.exists():
        raise SystemExit(f"{VNTC} not found: the benchmark reads ../shared")
    docs, queries = load(args.docs or None, args.queries)
    text_bytes = sum(len(d["title"].encode()) + len(d["body"].encode()) for d in docs)
    engines = [lambda w: bench_vnsearch(docs, queries, w, args.procs)]
    if "whoosh" not in args.skip:
        engines.append(lambda w: bench_whoosh(docs, queries, w))
    if "fts5" not in args.skip:
        engines.append(lambda w: bench_fts5(docs, queries, w))
    if "tantivy" not in args.skip:
        engines.append(lambda w: bench_tantivy(docs, queries, w))
    # Rounds run every engine in turn, so a slow spell of the machine hits them all alike;
    # each figure is the median over the rounds (peak memory: the highest).
    runs: dict[str, list[dict]] = {}
    for _ in range(args.rounds):
        workdir = Path(tempfile.mkdtemp(prefix="vnsearch-speed-"))
        try:
            for engine in engines:
                rows = engine(workdir)
                for row in [rows] if isinstance(rows, dict) else rows or []:
                    runs.setdefault(row["engine"], []).append(row)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    rows = [median_row(r) for r in runs.values()]
    base = rows[0]
    rounds = f", median of {args.rounds} rounds" if args.rounds > 1 else ""
    print(f"\n{len(docs):,} VNTC articles, title + body ({text_bytes / 1e6:.0f} MB), {len(queries)} headlines, top 10, "
          f"{os.cpu_count()} CPUs{rounds}")
    print("| engine | build docs/s | index MB | × text |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['engine']} | {len(docs) / r['build_s']:,.0f} | {r['size'] / 1e6:.1f} | {r['size'] / text_bytes:.2f} |")
    names = [name for name, _, _ in QUERY_SETS]
    print("\nQueries, ms: p50 / p95 (and p50 as a multiple of the fastest engine's)")
    print("| engine | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    fastest = {name: min(r["sets"][name][0] for r in rows) for name in names}
    for r in rows:
        cells = [f"{r['sets'][n][0]:.1f} / {r['sets'][n][1]:.1f} ({r['sets'][n][0] / fastest[n]:.1f}×)" for n in names]
        print(f"| {r['engine']} | " + " | ".join(cells) + " |")
    print(f"\nvnsearch: cold start (process start to first result, `vnsearch search --json`, median of 5) {base['cold_ms']:.0f} ms; "
          f"peak memory of the build (all processes, PSS) {base['peak_mb']:,.0f} MB")
    if len(base["build_runs"]) > 1:
        print("vnsearch build, each round: " + ", ".join(f"{len(docs) / s:,.0f} docs/s ({s:.1f} s)" for s in base["build_runs"]))


if __name__ == "__main__":
    main()
