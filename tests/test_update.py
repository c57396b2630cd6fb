"""Scheduled updates: incremental work, the writer lock, and survival of SIGKILL at any moment."""

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest

from indexer import IndexLocked, IndexSettings, IndexWriter, build_index
from indexer.build import update_index
from indexer.schema import INDEX_FIELDS
from indexer.store import WriterLock, current_generation, open_generation, open_segments
from search import Index
from tests.conftest import CORPUS, ROOT, SEED_ID

ADDED_SENTENCE = "Thương lái Cần Thơ thu mua lúa Đài Thơm 8 với giá kỷ lục trong tuần này."


def make_state(src, state):
    """State "A": six sample pages. State "B": one removed, two added, one changed."""
    for f in src.glob("*.txt"):
        f.unlink()
    names = ["000", "001", "002", "003", "004", "005"] if state == "A" else ["000", "002", "003", "004", "005", "006", "007"]
    for name in names:
        [page] = CORPUS.glob(f"{name}_*.txt")
        shutil.copy(page, src / page.name)
    if state == "B":
        page = next(src.glob("002_*.txt"))
        page.write_text(page.read_text(encoding="utf-8").replace("Nông dân được khuyến cáo", ADDED_SENTENCE + "\n\nNông dân được khuyến cáo"), encoding="utf-8")
    return {f.stem for f in src.glob("*.txt")}


def live_state(index_dir):
    with Index.open(index_dir) as index:
        ids = {h.id for word in ("và", "của", "các") for h in index.search(word, limit=100)}
        changed = [h.id for h in index.search(f'"{ADDED_SENTENCE}"')]
        return ids, changed, len(index)


def test_update_adds_changes_and_removes(tmp_path):
    src, ix = tmp_path / "src", tmp_path / "ix"
    src.mkdir()
    make_state(src, "A")
    first = update_index([src], ix)  # no index yet: a full build
    assert first.indexed == 6
    expected = make_state(src, "B")
    summary = update_index([src], ix)
    assert (summary.added, summary.changed, summary.removed, summary.unchanged) == (2, 1, 1, 4)
    ids, changed, count = live_state(ix)
    assert ids == expected and changed == ["002_gia_lua"] and count == 7


def test_an_update_reports_each_article_it_touches_in_the_words_of_a_build(tmp_path):
    # A build is an update of an empty index: one decision path, one report vocabulary.
    src, ix = tmp_path / "src", tmp_path / "ix"
    src.mkdir()
    make_state(src, "A")
    copy = (src / "003_bong_da_u23.txt").read_text(encoding="utf-8")
    (src / "ban-sao.txt").write_text(copy, encoding="utf-8")
    with open(tmp_path / "first.jsonl", "w") as report:
        update_index([src], ix, report=report)
    first = {e["id"]: e for e in map(json.loads, (tmp_path / "first.jsonl").read_text().splitlines())}
    assert {(e["status"], e.get("change")) for e in first.values()} == {("indexed", "added"), ("duplicate", None)}
    assert first["ban-sao"]["duplicate_of"] == "003_bong_da_u23" and first["003_bong_da_u23"]["duplicates"] == ["ban-sao"]
    make_state(src, "B")
    (src / "ban-sao.txt").write_text(copy, encoding="utf-8")
    with open(tmp_path / "second.jsonl", "w") as report:
        update_index([src], ix, report=report)
    second = sorted((e["id"], e["status"], e.get("change")) for e in map(json.loads, (tmp_path / "second.jsonl").read_text().splitlines()))
    assert second == [
        ("001_lu_quet_lao_cai", "removed", None),
        ("002_gia_lua", "indexed", "changed"),
        ("006_giao_duc_ky_thi", "indexed", "added"),
        ("007_kinh_te_fdi", "indexed", "added"),
        ("ban-sao", "duplicate", None),  # read again (its folder is read whole), still a copy
    ]


def test_one_writer_holds_the_index_for_its_block_and_publishes_each_sync(tmp_path):
    src, ix = tmp_path / "src", tmp_path / "ix"
    src.mkdir()
    make_state(src, "A")
    with IndexWriter(ix) as writer:  # no index yet: it starts from an empty one
        assert writer.live() is None
        assert writer.sync([src]).added == 6
        with pytest.raises(IndexLocked):
            update_index([src], ix)
        make_state(src, "B")
        second = writer.sync([src])
        assert (second.added, second.changed, second.removed) == (2, 1, 1)
        assert current_generation(ix).path.name == second.generation
    assert update_index([src], ix).indexed == 0  # released


def test_update_with_nothing_changed_does_no_work(tmp_path):
    src, ix = tmp_path / "src", tmp_path / "ix"
    src.mkdir()
    make_state(src, "A")
    update_index([src], ix)
    generation = (ix / "CURRENT").read_text()
    again = update_index([src], ix)
    assert (again.indexed, again.removed, again.unchanged) == (0, 0, 6)
    assert (ix / "CURRENT").read_text() == generation


def test_keep_missing_keeps_articles_whose_file_is_gone(tmp_path):
    src, ix = tmp_path / "src", tmp_path / "ix"
    src.mkdir()
    make_state(src, "A")
    update_index([src], ix)
    next(src.glob("001_*.txt")).unlink()
    assert update_index([src], ix, keep_missing=True).removed == 0
    assert update_index([src], ix).removed == 1


def test_a_second_update_is_refused_while_one_runs(tmp_path):
    src, ix = tmp_path / "src", tmp_path / "ix"
    src.mkdir()
    make_state(src, "A")
    update_index([src], ix)
    with WriterLock(ix):
        with pytest.raises(IndexLocked, match="being updated by PID"):
            update_index([src], ix)
        result = subprocess.run([sys.executable, "-c", "from search.cli import main; main()", "update", str(src), "--index", str(ix)],
                                cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 4 and f"being updated by PID {os.getpid()}" in result.stderr


def test_sigkill_at_any_moment_leaves_the_old_or_the_new_index(tmp_path):
    """Kill `vnsearch update` at 50 random moments; every time the index must open and answer
    exactly as the old or the new corpus, and the next run must complete the work."""
    src, ix = tmp_path / "src", tmp_path / "ix"
    src.mkdir()
    states = {"A": make_state(src, "A")}
    update_index([src], ix)
    states["B"] = make_state(src, "B")
    make_state(src, "A")
    # Between states A and B a third of the articles come and go: allowed, on purpose.
    command = [sys.executable, "-c", "from search.cli import main; main()", "update", str(src), "--index", str(ix), "-q",
               "--allow-removals"]

    started = time.perf_counter()
    make_state(src, "B")
    subprocess.run(command, cwd=ROOT, check=True)
    full_run = time.perf_counter() - started
    current = "B"

    rng = random.Random(20211202)
    outcomes = {"old": 0, "new": 0}
    for _ in range(50):
        target = "A" if current == "B" else "B"
        make_state(src, target)
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0, full_run * 1.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        ids, changed, count = live_state(ix)
        assert ids in (states["A"], states["B"]), "a mix of old and new documents"
        now = "A" if ids == states["A"] else "B"
        assert count == len(states[now])
        assert changed == (["002_gia_lua"] if now == "B" else [])
        outcomes["new" if now == target else "old"] += 1
        current = now
    # The next, uninterrupted run completes whatever was left.
    target = "A" if current == "B" else "B"
    make_state(src, target)
    subprocess.run(command, cwd=ROOT, check=True)
    assert live_state(ix)[0] == states[target]
    assert outcomes["old"] > 0  # the kills did land mid-update


def test_many_small_updates_merge_their_segments(tmp_path):
    # Each update that adds or changes articles writes a segment; when MERGE_FACTOR small
    # segments stand side by side, the merge policy merges their postings into one, keeping
    # every article once and its latest text.
    import json

    from indexer.merge import MERGE_FACTOR

    src, ix = tmp_path / "src", tmp_path / "ix"
    src.mkdir()
    pages = sorted(CORPUS.glob("*.txt"))
    shutil.copy(pages[0], src / pages[0].name)
    update_index([src], ix)
    counts = []
    for page in pages[1:]:
        shutil.copy(page, src / page.name)
        update_index([src], ix)
        counts.append(len(json.loads((current_generation(ix).path / "manifest.json").read_text())["segments"]))
    # 2, 3, … MERGE_FACTOR - 1 segments; the update that would make MERGE_FACTOR merges them.
    assert counts[: MERGE_FACTOR - 2] == list(range(2, MERGE_FACTOR))
    assert counts[MERGE_FACTOR - 2] == 1 and max(counts) == MERGE_FACTOR - 1
    changed = src / pages[1].name
    changed.write_text(changed.read_text(encoding="utf-8") + "\n\n" + ADDED_SENTENCE + "\n", encoding="utf-8")
    update_index([src], ix)
    with Index.open(ix) as index:
        assert len(index) == len(pages)
        assert [h.id for h in index.search(f'"{ADDED_SENTENCE}"')] == [pages[1].stem]
        found = {h.id for word in ("và", "của", "các") for h in index.search(word, limit=100)}
        assert sorted(found) == sorted(p.stem for p in pages)


# -- one index whichever way it was reached --------------------------------------------------


def _records_from_corpus() -> list[dict]:
    records = []
    for page in sorted(CORPUS.glob("*.txt")):
        title, _, body = page.read_text(encoding="utf-8").partition("\n")
        records.append({"id": page.stem, "title": title, "body": body.strip(), "source": "corpus"})
    return records


def _write_jsonl(path, records) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def _index_contents(index_dir) -> tuple:
    """What an index holds, whichever way it was written: its articles with their copies, the
    top 10 of some queries with scores, and a digest of every field's postings and lengths."""
    queries = ["sinh hoạt chi bộ", "tinh uy lao cai", "giá lúa", "đảng viên", "lũ quét", "U23", "ca trù", "vắc xin"]
    with Index.open(index_dir) as index:
        every = {hit.id: hit.duplicates for word in ("và", "của", "các", "là", "có") for hit in index.search(word, limit=5000, collapse=False)}
        documents = sorted(every.items())
        ranked = {q: [(h.id, round(h.score, 4)) for h in index.search(q, limit=10, collapse=False)] for q in queries}
        return len(index), documents, ranked, _postings_by_article(index_dir)


def _postings_by_article(index_dir) -> dict[str, str]:
    """Per index field, a digest of every term's postings and every article's field length,
    with articles named by id: equal whatever the segments, their order and the deletions."""
    generation, manifest, _ = open_generation(index_dir)
    segments = open_segments(generation, manifest)
    article = {docnum: stored["id"] for docnum, stored in segments.iter_live()}
    digests = {}
    for field in INDEX_FIELDS:
        digest = hashlib.sha1()
        for term in sorted({t for reader in segments.readers for t in reader.terms(field)}):
            docs, freqs = segments.postings(field, term)
            postings = sorted((article[d], f) for d, f in zip(docs.tolist(), freqs.tolist()) if d in article)
            if postings:
                digest.update(repr((term, postings)).encode())
        lengths = segments.field_lengths(field)
        digest.update(repr(sorted((doc_id, int(lengths[d])) for d, doc_id in article.items())).encode())
        digests[field] = digest.hexdigest()
    return digests


def test_build_at_once_in_two_processes_and_update_in_three_steps_give_one_index(tmp_path):
    records = _records_from_corpus()
    seed = next(r for r in records if r["id"] == SEED_ID)
    # Exact copies in other tone placement, case and spacing; one in the same part as its
    # original, one in a later part; and an id used again in a later part.
    copy_later = {**seed, "id": "copy-tong-ket", "body": seed["body"].replace("Tỉnh ủy", "Tỉnh uỷ").upper()}
    copy_same = {**records[2], "id": "copy-gia-lua", "body": "  ".join(records[2]["body"].split(" "))}
    same_id = {**records[5], "body": "Một bài khác hẳn mang cùng mã số: Hội nông dân xã tổ chức tập huấn."}
    parts = [records[:6] + [copy_same], records[6:11] + [copy_later], records[11:] + [same_id]]
    files = []
    for n, part in enumerate(parts, start=1):
        files.append(tmp_path / f"part{n}.jsonl")
        _write_jsonl(files[-1], part)

    build_index(files, tmp_path / "at-once")
    build_index(files, tmp_path / "two-procs", IndexSettings(procs=2))
    for f in files:
        update_index([f], tmp_path / "in-steps")

    at_once = _index_contents(tmp_path / "at-once")
    assert at_once[0] == 15
    assert (SEED_ID, ("copy-tong-ket",)) in at_once[1] and (records[2]["id"], ("copy-gia-lua",)) in at_once[1]
    assert _index_contents(tmp_path / "two-procs") == at_once
    assert _index_contents(tmp_path / "in-steps") == at_once


def test_when_an_original_is_removed_or_rewritten_its_copies_become_articles_as_in_a_build(tmp_path):
    records = _records_from_corpus()
    seed = next(r for r in records if r["id"] == SEED_ID)
    gia_lua = next(r for r in records if r["id"] == "002_gia_lua")
    originals, reposts = tmp_path / "originals.jsonl", tmp_path / "reposts.jsonl"
    _write_jsonl(originals, [seed, gia_lua])
    _write_jsonl(reposts, [{**seed, "id": "dang-lai-tong-ket", "source": "Báo khác"},
                           {**gia_lua, "id": "dang-lai-gia-lua", "source": "Báo khác"}])
    update_index([originals, reposts], tmp_path / "ix")
    with Index.open(tmp_path / "ix") as index:
        assert len(index) == 2 and index.get(SEED_ID).duplicates == ("dang-lai-tong-ket",)
    # The seed is taken down; the price story is rewritten. Their reposts stay as they were.
    _write_jsonl(originals, [{**gia_lua, "body": gia_lua["body"] + "\nGiá lúa hôm nay giảm nhẹ so với tuần trước."}])
    summary = update_index([originals, reposts], tmp_path / "ix", allow_removals=True)  # 1 of 2 articles
    build_index([originals, reposts], tmp_path / "rebuilt")
    assert (summary.added, summary.changed, summary.removed) == (2, 1, 1)  # both reposts are articles now
    assert _index_contents(tmp_path / "ix") == _index_contents(tmp_path / "rebuilt")
    with Index.open(tmp_path / "ix") as index:
        assert index.search("sinh hoạt chi bộ").hits[0].id == "dang-lai-tong-ket"
        assert index.get("dang-lai-gia-lua").id == "dang-lai-gia-lua" and index.get("002_gia_lua").duplicates == ()


def test_a_copy_whose_file_is_gone_or_no_longer_holds_it_is_no_longer_listed(tmp_path):
    records = _records_from_corpus()
    seed = next(r for r in records if r["id"] == SEED_ID)
    originals, reposts, mirror = tmp_path / "originals.jsonl", tmp_path / "reposts.jsonl", tmp_path / "mirror.jsonl"
    _write_jsonl(originals, [seed])
    _write_jsonl(reposts, [{**seed, "id": "dang-lai-1", "source": "Báo khác"}, {**seed, "id": "dang-lai-2", "source": "Báo khác"}])
    _write_jsonl(mirror, [{**seed, "id": "ban-sao-mirror", "source": "Trang sao chép"}])
    update_index([originals, reposts, mirror], tmp_path / "ix")
    with Index.open(tmp_path / "ix") as index:
        assert index.get(SEED_ID).duplicates == ("dang-lai-1", "dang-lai-2", "ban-sao-mirror")
    # One repost taken down (its file updated on its own), the mirror's file deleted.
    _write_jsonl(reposts, [{**seed, "id": "dang-lai-2", "source": "Báo khác"}])
    mirror.unlink()
    with open(tmp_path / "report.jsonl", "w") as report:
        summary = update_index([reposts], tmp_path / "ix", report=report)
    assert summary.removed == 0  # copies are not articles of their own
    removed = sorted(e["id"] for e in map(json.loads, (tmp_path / "report.jsonl").read_text().splitlines()) if e["status"] == "removed")
    assert removed == ["ban-sao-mirror", "dang-lai-1"]
    build_index([originals, reposts], tmp_path / "rebuilt")
    assert _index_contents(tmp_path / "ix") == _index_contents(tmp_path / "rebuilt")
    with Index.open(tmp_path / "ix") as index:
        assert index.get(SEED_ID).duplicates == ("dang-lai-2",)


def test_an_update_that_only_touches_files_publishes_a_new_generation_not_an_edited_one(tmp_path):
    src, ix = tmp_path / "src", tmp_path / "ix"
    src.mkdir()
    make_state(src, "A")
    update_index([src], ix)
    live = current_generation(ix)
    manifest_bytes = (live.path / "manifest.json").read_bytes()
    for page in src.glob("*.txt"):
        os.utime(page, (time.time() + 60, time.time() + 60))  # touched, not changed
    summary = update_index([src], ix)
    assert summary.unchanged == 6 and summary.indexed == 0
    assert (live.path / "manifest.json").read_bytes() == manifest_bytes  # never rewritten in place
    assert current_generation(ix).number == live.number + 1
    assert update_index([src], ix).generation == current_generation(ix).path.name  # and then nothing to do


def test_a_build_flushed_in_many_small_segments_and_merged_equals_one_built_whole(tmp_path):
    # 1,300 articles made of the sample pages' paragraphs (some exact copies among them). A
    # tiny memory budget flushes a segment after every batch of 128; the merge policy then
    # merges ten of them: the postings are merged, not analysed again, and must score the same.
    paragraphs = [p.strip() for page in sorted(CORPUS.glob("*.txt")) for p in page.read_text(encoding="utf-8").split("\n\n")[1:] if len(p.strip()) > 80]
    n = len(paragraphs)
    records = [{"id": f"bai-{i}", "title": paragraphs[(i * 7) % n][:60],
                "body": paragraphs[i % n] + "\n\n" + paragraphs[(i // n) % n]} for i in range(1300)]
    for i in range(50, 1300, 100):  # an exact copy of the article before, now and then
        records[i]["body"] = records[i - 1]["body"]
    _write_jsonl(tmp_path / "bai.jsonl", records)
    build_index([tmp_path / "bai.jsonl"], tmp_path / "whole")
    build_index([tmp_path / "bai.jsonl"], tmp_path / "flushed", IndexSettings(memory_mb=0.001))
    segments = json.loads((current_generation(tmp_path / "flushed").path / "manifest.json").read_text())["segments"]
    assert 1 < len(segments) < 11  # flushed eleven times, ten of them merged
    whole = _index_contents(tmp_path / "whole")
    assert whole[0] > 1000 and any(copies for _, copies in whole[1])
    assert _index_contents(tmp_path / "flushed") == whole
