"""A sharded index (``vnsearch index --shards N``): built and updated as Dask tasks on a real
LocalCluster, searched as one index, its results those of one index of the same articles."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

distributed = pytest.importorskip("distributed", reason="sharding needs Dask: pip install 'vnsearch[cluster]'")

from indexer import build_index  # noqa: E402
from indexer.build import update_index  # noqa: E402
from indexer.check import check_index  # noqa: E402
from indexer.checksums import sealed  # noqa: E402
from indexer.errors import CorruptIndex, IncompatibleIndex  # noqa: E402
from indexer.shards import build_sharded  # noqa: E402
from indexer.sources import shard_of  # noqa: E402
from search import Index  # noqa: E402
from search.cli import app  # noqa: E402
from tests.conftest import CORPUS, SEED_ID, SHARED, requires_shared  # noqa: E402

QUERIES = [
    "sinh hoạt chi bộ", "sinh hoat chi bo", "Tỉnh ủy Lào Cai", "tinh uy lao cai", "lũ quét", "giá lúa gạo",
    "bóng đá U23", "vắc xin", "24-QĐ/TW", "ca trù", "rác thải", "kỳ thi tốt nghiệp", "Đảng uỷ khối doanh nghiệp",
]


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes, as on a laptop: what the CI machine runs the shard tasks on."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=logging.ERROR) as local_cluster:
        yield local_cluster


def ids_routed_to(shard: int, shards: int, prefix: str, count: int) -> list[str]:
    found, n = [], 0
    while len(found) < count:
        candidate = f"{prefix}-{n}"
        if shard_of(candidate, shards) == shard:
            found.append(candidate)
        n += 1
    return found


@pytest.fixture(scope="module")
def corpus_with_copies(tmp_path_factory) -> list[Path]:
    """The shipped pages plus a JSON Lines file with what must be merged across shards: an
    exact copy of the seed under an id that routes to the other shard, and an id read twice."""
    folder = tmp_path_factory.mktemp("sharded-src")
    seed_shard = shard_of(SEED_ID, 2)
    with Index.open(_shipped_index(folder)) as index:
        seed = index.get(SEED_ID)
        seed_body = index.read(SEED_ID).body.text
    copy_id = ids_routed_to(1 - seed_shard, 2, "ban-sao", 1)[0]
    twice = ids_routed_to(seed_shard, 2, "hai-lan", 1)[0]
    records = [
        {"id": copy_id, "title": seed.title, "body": seed_body, "source": "Báo khác"},
        {"id": twice, "title": "Hội nghị sinh hoạt chi bộ mẫu", "body": "Chi bộ thôn Bản Vền tổ chức sinh hoạt chi bộ chuyên đề."},
        {"id": twice, "title": "Bản đọc lần thứ hai", "body": "Cùng một mã bài, đọc lần thứ hai thì bỏ qua."},
    ]
    jsonl = folder / "them.jsonl"
    jsonl.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return [CORPUS, jsonl]


def _records(path: Path) -> list[dict]:
    return [{"source": None, **json.loads(line)} for line in path.read_text(encoding="utf-8").splitlines()]


def _shipped_index(folder: Path) -> Path:
    path = folder / "shipped"
    build_index([CORPUS], path)
    return path


def top(results) -> list[tuple[str, float, tuple[str, ...]]]:
    return [(h.id, h.score, h.duplicates) for h in results]


def same_ranking(sharded, single) -> None:
    """Same scores in the same places; the same ids, except that articles with equal scores may
    come in another order (one index orders them by reading order, a sharded one by shard)."""
    assert [s for _, s, _ in sharded] == pytest.approx([s for _, s, _ in single], abs=1e-6)
    groups: dict[float, tuple[set, set]] = {}
    for (a, score, a_copies), (b, _, b_copies) in zip(sharded, single):
        group = groups.setdefault(round(score, 5), (set(), set()))
        group[0].add((a, a_copies))
        group[1].add((b, b_copies))
    last = round(sharded[-1][1], 5) if sharded else None
    for score, (a_ids, b_ids) in groups.items():
        if score != last:  # the last group of ties may be cut at the page's end differently
            assert a_ids == b_ids


def test_a_sharded_build_searches_as_one_index_of_the_same_articles(cluster, corpus_with_copies, tmp_path):
    single = build_index(corpus_with_copies, tmp_path / "one")
    summary = build_sharded(corpus_with_copies, tmp_path / "sharded", shards=2, scheduler=cluster.scheduler_address)
    # The same accounting: the copy merged into the seed across shards, the second reading skipped.
    assert (summary.indexed, summary.duplicates, summary.skipped) == (single.indexed, single.duplicates, single.skipped) == (16, 1, 1)
    with Index.open(tmp_path / "one") as one, Index.open(tmp_path / "sharded") as sharded, \
            Index.open(tmp_path / "sharded", scheduler=cluster.scheduler_address) as on_cluster:
        assert len(sharded) == len(one) == len(on_cluster) == 16
        assert sharded.stats().shards == 2
        for query in QUERIES:
            expected = one.search(query, limit=10, facets=True, histogram="month")
            for results in (sharded.search(query, limit=10, facets=True, histogram="month"),
                            on_cluster.search(query, limit=10, facets=True, histogram="month")):
                same_ranking(top(results), top(expected))
                assert results.total == expected.total and results.facets == expected.facets
                assert results.timeline == expected.timeline
        # The seed's copy is listed on it, whichever shard holds it.
        copy_id = next(r for r in _records(corpus_with_copies[1]) if r["source"] == "Báo khác")["id"]
        assert sharded.get(SEED_ID).duplicates == on_cluster.get(SEED_ID).duplicates == one.get(SEED_ID).duplicates == (copy_id,)
        assert on_cluster.get(copy_id).id == SEED_ID  # a copy's id finds the article it was merged into
        # Both ways of searching the shards give the same page, snippets included.
        for options in ({}, {"sort": "date"}, {"recent": True}, {"page": 2, "limit": 3}, {"since": "2021-06"}):
            a, b = sharded.search("chi bộ", **options), on_cluster.search("chi bộ", **options)
            assert [(h.id, h.score, h.snippet.html, h.near_duplicates) for h in a] == \
                   [(h.id, h.score, h.snippet.html, h.near_duplicates) for h in b]
        assert on_cluster.read(SEED_ID).hit.title == one.read(SEED_ID).hit.title
        # Related coverage chooses its terms by the whole index's document frequencies.
        assert [h.id for h in on_cluster.related(SEED_ID)] == [h.id for h in sharded.related(SEED_ID)] == \
               [h.id for h in one.related(SEED_ID)]
    assert check_index(tmp_path / "sharded").documents == 16


def test_every_article_is_in_the_shard_its_id_routes_to_also_after_updates(cluster, corpus_with_copies, tmp_path):
    source = tmp_path / "src"
    shutil.copytree(CORPUS, source)
    extra = corpus_with_copies[1]
    index_dir = tmp_path / "sharded"
    build_sharded([source, extra], index_dir, shards=2, scheduler=cluster.scheduler_address)
    build_index([source, extra], tmp_path / "one")
    # A changed article, a new one, a removed one.
    seed_page = source / f"{SEED_ID}.txt"
    seed_page.write_text(seed_page.read_text(encoding="utf-8") + "\nChi bộ thôn Bản Vền sinh hoạt chuyên đề về chuyển đổi số.\n",
                         encoding="utf-8")
    (source / "015_tin_moi.txt").write_text(
        "Lào Cai khai trương tuyến xe buýt mới\n\nHà An   03-12-2026 08:00:00   LCĐT - Tuyến xe buýt nối Sa Pa.\n\n"
        "Tuyến xe buýt mới giúp người dân đi lại thuận tiện hơn.\n", encoding="utf-8")
    (source / "002_gia_lua.txt").unlink()
    summary = update_index([source, extra], index_dir, scheduler=cluster.scheduler_address)
    single = update_index([source, extra], tmp_path / "one")
    # Added: the new page, and the seed's exact copy, which is no longer one now that the seed
    # changed (as a build of the sources as they are now would have it).
    assert (summary.added, summary.changed, summary.removed) == (single.added, single.changed, single.removed) == (2, 1, 1)
    every_id = set([p.stem for p in source.glob("*.txt")] + ["002_gia_lua"] + [r["id"] for r in _records(extra)])
    held: dict[str, list[int]] = {}
    for shard in (0, 1):
        with Index.open(index_dir / f"shard-{shard:03d}") as alone:  # each shard is an ordinary index
            for doc_id in every_id:
                hit = alone.get(doc_id)
                if hit is not None and hit.id == doc_id:
                    held.setdefault(doc_id, []).append(shard)
    assert held == {doc_id: [shard_of(doc_id, 2)] for doc_id in held}  # one shard each, the routed one
    assert "015_tin_moi" in held and "002_gia_lua" not in held and len(held) == 17
    with Index.open(index_dir) as sharded, Index.open(tmp_path / "one") as one:
        assert len(sharded) == len(one)
        for query in QUERIES + ["xe buýt Sa Pa", "chuyển đổi số"]:
            same_ranking(top(sharded.search(query)), top(one.search(query)))
    # Nothing changed since: nothing is written.
    again = update_index([source, extra], index_dir, scheduler=cluster.scheduler_address)
    assert again.indexed == 0 and again.unchanged == len(held)


def test_a_copy_taken_down_in_another_shard_is_no_longer_listed_on_its_article(cluster, corpus_with_copies, tmp_path):
    copy_id = next(r for r in _records(corpus_with_copies[1]) if r["source"] == "Báo khác")["id"]
    assert shard_of(copy_id, 2) != shard_of(SEED_ID, 2)  # its copies table is in the seed's shard
    extra = tmp_path / "them.jsonl"
    shutil.copy(corpus_with_copies[1], extra)
    build_sharded([CORPUS, extra], tmp_path / "sharded", shards=2, scheduler=cluster.scheduler_address)
    extra.write_text("".join(line + "\n" for line in extra.read_text(encoding="utf-8").splitlines() if copy_id not in line),
                     encoding="utf-8")
    update_index([extra], tmp_path / "sharded", scheduler=cluster.scheduler_address)
    with Index.open(tmp_path / "sharded") as sharded:
        assert sharded.get(SEED_ID).duplicates == () and sharded.get(copy_id) is None


def test_a_damaged_source_removes_nothing_from_a_sharded_index_either(cluster, tmp_path):
    from indexer.errors import TooManyRemovals
    from tests.test_damaged_sources import feed_records, write_feed

    (tmp_path / "src").mkdir()
    feed = write_feed(tmp_path / "src" / "feed.jsonl.gz", feed_records(40))
    index_dir = tmp_path / "sharded"
    build_sharded([feed], index_dir, shards=2, scheduler=cluster.scheduler_address)
    data = feed.read_bytes()
    feed.write_bytes(data[: len(data) // 2])

    summary = update_index([feed], index_dir, scheduler=cluster.scheduler_address)

    assert summary.removed == 0 and summary.unreadable_sources == [os.path.abspath(feed)]
    with Index.open(index_dir) as sharded:
        assert len(sharded) == 40
    feed.unlink()  # the mount came back empty
    with pytest.raises(TooManyRemovals):
        update_index([tmp_path / "src"], index_dir, scheduler=cluster.scheduler_address)
    with Index.open(index_dir) as sharded:
        assert len(sharded) == 40


def test_a_sharded_update_that_cannot_publish_leaves_the_previous_index_and_nothing_else(cluster, tmp_path, monkeypatch):
    import errno

    import indexer.shards
    from indexer.errors import WriteFailed

    source = tmp_path / "src"
    shutil.copytree(CORPUS, source)
    index_dir = tmp_path / "sharded"
    build_sharded([source], index_dir, shards=2, scheduler=cluster.scheduler_address)
    before = {p.relative_to(index_dir) for p in index_dir.rglob("*")}
    (source / "015_tin_moi.txt").write_text("Lào Cai khai trương tuyến xe buýt mới\n\nTuyến xe buýt nối Sa Pa với Lào Cai.\n",
                                            encoding="utf-8")

    def disk_full(*args):
        raise OSError(errno.ENOSPC, "No space left on device", str(index_dir / "CURRENT"))

    monkeypatch.setattr(indexer.shards, "publish", disk_full)
    with pytest.raises(WriteFailed, match=r"cannot write the index: No space left on device \(ENOSPC\).*previous index is still live"):
        update_index([source], index_dir, scheduler=cluster.scheduler_address)
    monkeypatch.undo()
    assert {p.relative_to(index_dir) for p in index_dir.rglob("*")} == before  # the shards' new generations too
    for shard in (0, 1):  # each shard opened alone shows its published generation
        with Index.open(index_dir / f"shard-{shard:03d}") as alone:
            assert alone.get("015_tin_moi") is None
    assert update_index([source], index_dir, scheduler=cluster.scheduler_address).added == 1


def test_a_shard_opened_alone_shows_what_the_sharded_index_published(cluster, tmp_path):
    source = tmp_path / "src"
    shutil.copytree(CORPUS, source)
    index_dir = tmp_path / "sharded"
    build_sharded([source], index_dir, shards=2, scheduler=cluster.scheduler_address)
    published = (index_dir / "CURRENT").read_text()
    new_id = ids_routed_to(0, 2, "tin-moi", 1)[0]
    (source / f"{new_id}.txt").write_text("Lào Cai mở tuyến xe buýt mới\n\nTuyến xe buýt nối Sa Pa với Lào Cai.\n", encoding="utf-8")
    update_index([source], index_dir, scheduler=cluster.scheduler_address)
    with Index.open(index_dir / "shard-000") as alone:
        assert alone.get(new_id) is not None
    # As a coordinator killed between the shards' CURRENT and the top-level one leaves it.
    (index_dir / "CURRENT").write_text(published)
    with Index.open(index_dir / "shard-000") as alone:
        assert alone.get(new_id) is None


def test_a_missing_shard_or_a_shard_of_another_format_is_named(cluster, tmp_path):
    index_dir = tmp_path / "sharded"
    build_sharded([CORPUS], index_dir, shards=2, scheduler=cluster.scheduler_address)
    broken = tmp_path / "missing"
    shutil.copytree(index_dir, broken)
    shutil.rmtree(broken / "shard-001")
    with pytest.raises(CorruptIndex, match=r"shard-001: shard 2 of 2 is missing"):
        Index.open(broken)
    result = CliRunner().invoke(app, ["search", "chi bộ", "--index", str(broken)])
    assert result.exit_code == 5 and "shard-001" in result.output
    # A shard folder left by another vnsearch version.
    shard = index_dir / "shard-000"
    manifest_path = next(shard.glob("gen-*/manifest.json"))
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest.pop("checksum")
    manifest["format"] = "vnsearch-index-3"
    manifest_path.write_text(json.dumps(sealed(manifest)), encoding="utf-8")
    with pytest.raises(IncompatibleIndex, match=r"shard-000.*older vnsearch"):
        Index.open(index_dir)


def test_a_scheduler_that_does_not_answer_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr("indexer.shards.CONNECT_TIMEOUT", "2s")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    build_index([CORPUS], tmp_path / "ix")
    result = CliRunner().invoke(app, ["index", str(CORPUS), "--index", str(tmp_path / "ix"), "--shards", "2",
                                      "--scheduler", f"tcp://127.0.0.1:{port}"])
    assert result.exit_code == 5
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in result.output
    assert "Traceback" not in result.output
    with Index.open(tmp_path / "ix") as index:  # the index that was there is untouched
        assert index.stats().shards == 0 and index.search("sinh hoạt chi bộ").hits[0].id == SEED_ID


def _many_articles(folder: Path, count: int) -> Path:
    """``count`` distinct articles made from the shipped pages (an id and a closing line of
    their own each): enough work for each shard task to run for seconds."""
    with Index.open(_shipped_index(folder)) as index:
        pages = [index.read(hit.id) for hit in index.search("và", limit=100, collapse=False)]
    path = folder / "many.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for n in range(count):
            page = pages[n % len(pages)]
            f.write(json.dumps({"id": f"bai-{n}", "title": page.hit.title,
                                "body": page.body.text + f"\nBài số {n} trong loạt bài tổng hợp."}, ensure_ascii=False) + "\n")
    return path


# The restarted worker's Nanny asks for the default dashboard port, which the other holds.
@pytest.mark.filterwarnings("ignore:Port 8787 is already in use")
def test_a_worker_killed_during_a_sharded_build_leaves_the_previous_index_live(tmp_path):
    import dask

    many = _many_articles(tmp_path, 4000)
    index_dir = tmp_path / "sharded"
    # No retries: a task whose worker dies fails the build (with retries, Dask would rerun it
    # on the other worker and the build would succeed, which a second test run shows below).
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                     silence_logs=logging.ERROR) as cluster, distributed.Client(cluster) as client:
        build_sharded([CORPUS], index_dir, shards=2, scheduler=cluster.scheduler_address)
        before = Index.open(index_dir)
        expected = top(before.search("sinh hoạt chi bộ"))
        failure: list[BaseException] = []

        def build_many():
            try:
                build_sharded([many], index_dir, shards=2, scheduler=cluster.scheduler_address)
            except BaseException as e:  # noqa: BLE001 - the test looks at it
                failure.append(e)

        writer = threading.Thread(target=build_many)
        writer.start()
        # Kill a worker the moment it runs a shard's task: a fixed delay after the build starts
        # raced a fast machine, which could finish 4,000 articles before the kill.
        deadline = time.monotonic() + 60
        busy: list[str] = []
        while not busy and time.monotonic() < deadline:
            busy = [worker for worker, tasks in client.processing().items() if tasks]
            time.sleep(0.02)
        assert busy, "the build never started a task"
        os.kill(client.run(os.getpid)[busy[0]], signal.SIGKILL)
        writer.join(timeout=300)
        assert failure, "the build should have failed with its worker"
        assert "KilledWorker" in type(failure[0]).__name__ or "died" in str(failure[0]).lower()
        # The previous index is live, whole and searchable, in this process and in a new one.
        assert top(before.search("sinh hoạt chi bộ")) == expected
        with Index.open(index_dir) as reopened:
            assert len(reopened) == 15 and top(reopened.search("sinh hoạt chi bộ")) == expected
        assert check_index(index_dir).documents == 15
        # A second run completes, and what the killed one left half-built is gone.
        client.wait_for_workers(2, timeout=60)
        summary = build_sharded([many], index_dir, shards=2, scheduler=cluster.scheduler_address)
        assert summary.indexed == 4000
        with Index.open(index_dir) as rebuilt:
            assert len(rebuilt) == 4000 and rebuilt.search("Bài số 1234").hits[0].id == "bai-1234"
        for shard in ("shard-000", "shard-001"):
            assert len(list((index_dir / shard).glob("gen-*"))) <= 2  # the live one and the previous
        before.close()


@requires_shared
@pytest.mark.realdata
def test_sharded_vntc_gives_the_top_10_of_one_index_for_200_queries(cluster, tmp_path):
    """3,000 real VNTC articles (exact duplicates, HTML leftovers and all), in 2 shards on the
    cluster and in one folder: the same top 10, ids and scores, for 200 queries: titles typed
    with and without diacritics, and their first words."""
    import gzip
    import itertools

    from indexer.analysis import fold_diacritics

    with gzip.open(SHARED / "corpus" / "vntc.jsonl.gz", "rt", encoding="utf-8") as f:
        lines = list(itertools.islice(f, 3000))
    # Plus 60 republished copies under new ids: most of them land in the other shard.
    republished = [json.dumps({**json.loads(line), "id": f"{json.loads(line)['id']}-dang-lai"}, ensure_ascii=False) + "\n"
                   for line in lines[::50]]
    path = tmp_path / "vntc-3000.jsonl"
    path.write_text("".join(lines + republished), encoding="utf-8")
    titles = [t for t in (json.loads(line)["title"].strip() for line in lines) if t]
    titles = titles[:: len(titles) // 200]
    queries = (titles[:70] + [fold_diacritics(t) for t in titles[70:140]] + [" ".join(t.split()[:3]) for t in titles[140:]])[:200]
    assert len(queries) == 200
    single = build_index([path], tmp_path / "one")
    summary = build_sharded([path], tmp_path / "sharded", shards=2, scheduler=cluster.scheduler_address)
    assert (summary.indexed, summary.duplicates, summary.skipped) == (single.indexed, single.duplicates, single.skipped)
    assert summary.duplicates >= 60  # merged across the shards as in one index
    with Index.open(tmp_path / "one") as one, Index.open(tmp_path / "sharded") as sharded, \
            Index.open(tmp_path / "sharded", scheduler=cluster.scheduler_address) as on_cluster:
        # Plus short queries whose match set drops a word: decided on the counts of all shards.
        for query in queries + ["tham nhũng xyzq", "giá vàng hôm xyzq", "bảo lữ"]:
            answer = one.search(query, limit=10)
            expected = top(answer)
            for results in (sharded.search(query, limit=10), on_cluster.search(query, limit=10)):
                same_ranking(top(results), expected)
                assert (results.dropped, results.other_diacritics) == (answer.dropped, answer.other_diacritics)
        assert one.search("tham nhũng xyzq").dropped == ("xyzq",)


def test_the_server_answers_from_a_sharded_index_through_the_cluster_as_from_one_folder(cluster, corpus_with_copies, tmp_path):
    from fastapi.testclient import TestClient

    from search.server import create_app

    build_index(corpus_with_copies, tmp_path / "one")
    build_sharded(corpus_with_copies, tmp_path / "sharded", shards=2, scheduler=cluster.scheduler_address)
    with TestClient(create_app(tmp_path / "one")) as one, \
            TestClient(create_app(tmp_path / "sharded", scheduler=cluster.scheduler_address)) as sharded:
        for query in ["sinh hoat chi bo", "giá lúa gạo"]:
            a = one.get("/api/search", params={"q": query, "facets": "true"}).json()
            b = sharded.get("/api/search", params={"q": query, "facets": "true"}).json()
            same_ranking([(h["id"], h["score"], tuple(h["duplicates"])) for h in b["hits"]],
                         [(h["id"], h["score"], tuple(h["duplicates"])) for h in a["hits"]])
            assert (b["total"], b["facets"]) == (a["total"], a["facets"])
        assert sharded.get(f"/api/articles/{SEED_ID}").json()["title"] == one.get(f"/api/articles/{SEED_ID}").json()["title"]
        assert sharded.get("/healthz").json()["documents"] == 16
