"""The server under concurrent load while an update publishes a new generation.

``vnsearch serve`` (its default worker processes, one per core) on a VNTC index; for each
number of concurrent clients, at least a fixed number of title queries (top 10 with snippets,
keep-alive connections); a quarter of the way through, ``vnsearch update`` adds articles and
publishes a new generation, and the load goes on until 50 more requests were sent after it
published. Every response is checked against the answers the library gives in-process before
and after that update: a response equal to neither is a wrong result. In the same run, the
single-query p50 of an in-process ``Index`` (what bench/speed.py measures) is the baseline of
the latency ratio.

    python bench/serve.py                         # 20,000 VNTC articles, 1/8/32 clients
    python bench/serve.py --docs 0 --requests 2000   # all of VNTC
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from search import Index  # noqa: E402

VNTC = ROOT.parent / "shared" / "corpus" / "vntc.jsonl.gz"
VNSEARCH = [sys.executable, "-c", "from search.cli import main; main()"]


def load(n_docs: int, n_extra: int, seed: int = 13) -> tuple[list[str], list[str], list[str]]:
    """(lines to index, lines an update adds, title queries) from a seeded sample of VNTC."""
    with gzip.open(VNTC, "rt", encoding="utf-8") as f:
        lines = f.readlines()
    random.Random(seed).shuffle(lines)
    base = lines[:n_docs] if n_docs else lines[: len(lines) - n_extra]
    extra = lines[len(base) : len(base) + n_extra]
    titles = [" ".join(json.loads(line)["title"].split()) for line in base + extra]
    return base, extra, [t for t in titles if t and "<" not in t]


def answer_key(hits: list[dict]) -> tuple:
    return tuple((h["id"], round(h["score"], 3)) for h in hits)


def expected_answers(index_dir: Path, queries: list[str]) -> dict[str, tuple]:
    with Index.open(index_dir) as index:
        return {q: answer_key([h.to_json() for h in index.search(q, limit=10)]) for q in queries}


def single_query_p50(index_dir: Path, queries: list[str]) -> float:
    with Index.open(index_dir) as index:
        for q in queries[:50]:
            index.search(q, limit=10)  # warm
        times = []
        for q in queries:
            started = time.perf_counter()
            index.search(q, limit=10)
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(index_dir: Path, workers: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    args = [*VNSEARCH, "serve", "--index", str(index_dir), "--port", str(port)] + (["--workers", str(workers)] if workers else [])
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"the server did not start: {process.stderr.read()}")


def load_level(port: int, queries: list[str], clients: int, requests: int, update, expected_before, index_dir) -> dict:
    """At least ``requests`` queries from ``clients`` threads; ``update()`` starts when a
    quarter are done, and the load goes on until 50 requests have been sent after it
    published, so that every level is measured across the switch."""
    lock = threading.Lock()
    after_update = [None]  # the request number at which the update had published
    latencies: list[float] = []
    answers: list[tuple[str, int, tuple | None]] = []
    next_job = [0]
    update_started = threading.Event()

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                i = next_job[0]
                next_job[0] += 1
                if update.done.is_set() and after_update[0] is None:
                    after_update[0] = i
            if i >= requests and after_update[0] is not None and i >= after_update[0] + 50:
                break
            if i == requests // 4 and not update_started.is_set():
                update_started.set()
                threading.Thread(target=update).start()
            query = queries[i % len(queries)]
            path = "/api/search?" + urllib.parse.urlencode({"q": query, "limit": 10})
            started = time.perf_counter()
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                body = response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                status, body = 0, b""
            elapsed = (time.perf_counter() - started) * 1000
            key = answer_key(json.loads(body)["hits"]) if status == 200 else None
            with lock:
                latencies.append(elapsed)
                answers.append((query, status, key))
        connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    update.done.wait()
    expected_after = expected_answers(index_dir, sorted({q for q, _, _ in answers}))
    errors = sum(1 for _, status, _ in answers if status != 200)
    wrong = sum(1 for q, status, key in answers if status == 200 and key not in (expected_before[q], expected_after[q]))
    new_seen = sum(1 for q, status, key in answers if status == 200 and key == expected_after[q] != expected_before[q])
    latencies.sort()
    return {
        "clients": clients, "requests": len(answers), "rps": len(answers) / wall,
        "p50": statistics.median(latencies), "p99": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "errors": errors, "wrong": wrong, "new_generation_answers": new_seen, "expected_after": expected_after,
    }


class Update:
    """``vnsearch update`` of one extra file, run once (from a client thread) per level."""

    def __init__(self, index_dir: Path, source: Path) -> None:
        self.index_dir, self.source = index_dir, source
        self.done = threading.Event()
        self.seconds = 0.0

    def __call__(self) -> None:
        started = time.perf_counter()
        subprocess.run([*VNSEARCH, "update", str(self.source), "--index", str(self.index_dir), "--quiet"], check=True)
        self.seconds = time.perf_counter() - started
        self.done.set()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=20000, help="VNTC articles indexed (0: all)")
    parser.add_argument("--clients", default="1,8,32", help="concurrent clients, comma-separated")
    parser.add_argument("--requests", type=int, default=600, help="requests per level (at least)")
    parser.add_argument("--queries", type=int, default=500, help="distinct title queries")
    parser.add_argument("--workers", type=int, default=0, help="server worker processes (0: the server's default)")
    args = parser.parse_args()
    levels = [int(c) for c in args.clients.split(",")]

    workdir = Path(tempfile.mkdtemp(prefix="vnsearch-serve-bench-"))
    try:
        base, extra, titles = load(args.docs, 50 * len(levels))
        queries = titles[: args.queries]
        (workdir / "base.jsonl").write_text("".join(base), encoding="utf-8")
        index_dir = workdir / "index"
        subprocess.run([*VNSEARCH, "index", str(workdir / "base.jsonl"), "--index", str(index_dir), "--quiet"], check=True)
        single_p50 = single_query_p50(index_dir, queries)
        server, port = start_server(index_dir, args.workers)
        try:
            expected = expected_answers(index_dir, queries)
            rows = []
            for n, clients in enumerate(levels):
                source = workdir / f"update-{n}.jsonl"
                source.write_text("".join(extra[50 * n : 50 * (n + 1)]), encoding="utf-8")
                update = Update(index_dir, source)
                row = load_level(port, queries, clients, args.requests, update, expected, index_dir)
                row["update_s"] = update.seconds
                expected = row.pop("expected_after")
                rows.append(row)
        finally:
            server.terminate()
            server.wait(timeout=30)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"vnsearch serve: {len(base):,} VNTC articles, {len(queries)} title queries, top 10 with snippets; "
          f"at least {args.requests} requests a level, an update adding 50 articles from a quarter of the way, "
          f"and 50 more requests after it published\n")
    print("| clients | requests | req/s | p50 ms | p99 ms | errors | wrong results | answers from the new generation |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['clients']} | {r['requests']} | {r['rps']:.1f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['errors']} | "
              f"{r['wrong']} | {r['new_generation_answers']} |")
    by_clients = {r["clients"]: r for r in rows}
    print(f"\nsingle query in-process (warm Index, as bench/speed.py): p50 {single_p50:.1f} ms")
    if 1 in by_clients and max(by_clients) > 1:
        most = max(by_clients)
        print(f"throughput {most} clients / 1 client: {by_clients[most]['rps'] / by_clients[1]['rps']:.2f}x")
    if 8 in by_clients:
        print(f"p99 at 8 clients / single-query p50: {by_clients[8]['p99'] / single_p50:.2f}x")
    if any(r["errors"] or r["wrong"] for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
