"""A damaged source never deletes articles (issue "Nothing lost", item 1).

Articles leave the index only when their file was read to the end without error and no longer
holds them, or when their file is gone; and an update that would remove more than
MAX_REMOVAL_SHARE of the index stops before writing unless told otherwise.
"""

from __future__ import annotations

import gzip
import json
import os
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from indexer.build import MAX_REMOVAL_SHARE, update_index
from indexer.errors import TooManyRemovals
from indexer.store import open_generation, open_segments
from search import Index
from search.cli import app
from tests.conftest import write_page

TOPICS = [
    ("Giá xăng dầu tăng lần thứ ba trong tháng", "Liên Bộ Công Thương - Tài chính điều chỉnh giá xăng RON 95 tăng thêm 400 đồng mỗi lít từ 15 giờ chiều nay."),
    ("Lũ quét ở Bát Xát cuốn trôi nhiều nhà dân", "Mưa lớn kéo dài khiến lũ quét xảy ra tại xã Y Tý, huyện Bát Xát, tỉnh Lào Cai."),
    ("Đội tuyển U23 Việt Nam thắng đậm Lào", "Đội tuyển U23 Việt Nam giành chiến thắng 4-0 trước U23 Lào trên sân Mỹ Đình tối qua."),
    ("Tỉnh uỷ chỉ đạo sinh hoạt chi bộ định kỳ", "Ban Thường vụ Tỉnh ủy yêu cầu các chi bộ duy trì nền nếp sinh hoạt chi bộ hằng tháng."),
    ("Giá lúa gạo Đồng bằng sông Cửu Long đi lên", "Thương lái thu mua lúa tươi với giá 6.400 đồng mỗi ký, cao hơn tuần trước 200 đồng."),
]


def feed_records(count: int, edition: int = 1) -> list[dict]:
    """``count`` distinct articles of a news feed; ``edition`` changes every tenth body."""
    records = []
    for n in range(count):
        title, body = TOPICS[n % len(TOPICS)]
        text = f"{body} Bài số {n} của chuyên mục thời sự."
        if edition > 1 and n % 10 == 0:
            text += f" Cập nhật lần {edition}: số liệu mới được bổ sung."
        records.append({"id": f"bai-{n:03d}", "title": f"{title} ({n})", "body": text, "source": "Báo Mẫu"})
    return records


def write_feed(path: Path, records: list[dict]) -> Path:
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def article_ids(index_dir: Path) -> set[str]:
    generation, manifest, _ = open_generation(index_dir)
    return {stored["id"] for _, stored in open_segments(generation, manifest).iter_live()}


@pytest.fixture
def feed_index(tmp_path):
    """A gzipped feed of 40 articles, indexed."""
    (tmp_path / "src").mkdir()
    feed = write_feed(tmp_path / "src" / "feed.jsonl.gz", feed_records(40))
    index_dir = tmp_path / "ix"
    update_index([feed], index_dir)
    return feed, index_dir


def test_a_truncated_gzip_feed_removes_nothing_and_says_which_file(feed_index):
    feed, index_dir = feed_index
    before = article_ids(index_dir)
    data = feed.read_bytes()
    feed.write_bytes(data[: len(data) // 2])  # a half-copied file

    summary = update_index([feed], index_dir)

    assert summary.removed == 0
    assert summary.unreadable_sources == [os.path.abspath(feed)]
    assert any("cannot read further" in p.reason for p in summary.problems)
    assert article_ids(index_dir) == before
    assert summary.kept == len(before) - summary.unchanged


def test_random_bytes_in_place_of_a_feed_remove_nothing(feed_index):
    feed, index_dir = feed_index
    before = article_ids(index_dir)
    feed.write_bytes(random.Random(7).randbytes(5000))

    summary = update_index([feed], index_dir)

    assert (summary.removed, summary.kept) == (0, 40)
    assert article_ids(index_dir) == before


def test_one_broken_line_keeps_its_article_while_the_rest_of_the_file_is_updated(tmp_path):
    (tmp_path / "src").mkdir()
    feed = write_feed(tmp_path / "src" / "feed.jsonl", feed_records(40))
    index_dir = tmp_path / "ix"
    update_index([feed], index_dir)
    lines = write_feed(feed, feed_records(40, edition=2)).read_text(encoding="utf-8").splitlines()
    lines[7] = lines[7][:50]  # bai-007 cut off in the middle of its JSON
    feed.write_text("\n".join(lines) + "\n", encoding="utf-8")

    summary = update_index([feed], index_dir)

    assert summary.removed == 0 and summary.changed == 4  # bai-000, -010, -020, -030 re-indexed
    [problem] = summary.problems
    assert problem.origin.endswith("feed.jsonl:8") and problem.reason.startswith("invalid JSON: ")
    assert " at at " not in problem.reason
    with Index.open(index_dir) as index:
        assert index.get("bai-007") is not None
        assert "Cập nhật lần 2" in index.read("bai-010").body.text


def test_a_damaged_file_is_read_again_by_the_next_run_and_reported_again(feed_index):
    feed, index_dir = feed_index
    data = feed.read_bytes()
    feed.write_bytes(data[: len(data) // 2])
    update_index([feed], index_dir)

    again = update_index([feed], index_dir)

    assert again.unreadable_sources == [os.path.abspath(feed)]  # not "nothing changed"
    write_feed(feed, feed_records(40, edition=2))  # repaired upstream
    repaired = update_index([feed], index_dir)
    assert (repaired.unreadable_sources, repaired.changed, repaired.removed) == ([], 4, 0)


def test_an_article_removed_from_a_file_read_to_the_end_is_still_removed(feed_index):
    feed, index_dir = feed_index
    write_feed(feed, feed_records(40)[:-3])

    summary = update_index([feed], index_dir)

    assert (summary.removed, summary.unreadable_sources) == (3, [])
    assert "bai-039" not in article_ids(index_dir)


def test_a_page_with_a_nul_byte_after_its_first_8_kb_is_refused_and_its_article_kept(tmp_path):
    src, index_dir = tmp_path / "src", tmp_path / "ix"
    long_body = "\n".join(f"Đoạn {n}: Hội nghị sơ kết công tác sinh hoạt chi bộ quý III tại Lào Cai." for n in range(200))
    page = write_page(src, "hoi-nghi.txt", f"Hội nghị sơ kết sinh hoạt chi bộ\n{long_body}\n")
    write_page(src, "gia-lua.txt", "Giá lúa tăng\nThương lái thu mua lúa tươi với giá 6.400 đồng.\n")
    update_index([src], index_dir, allow_removals=True)
    data = page.read_bytes()
    page.write_bytes(data[:9000] + b"\x00" + data[9000:])

    summary = update_index([src], index_dir)

    [problem] = summary.problems
    assert "NUL byte at offset 9000" in problem.reason
    assert summary.removed == 0 and article_ids(index_dir) == {"hoi-nghi", "gia-lua"}


def test_a_source_folder_that_came_back_empty_stops_the_update_before_writing(feed_index, tmp_path):
    feed, index_dir = feed_index
    current = (index_dir / "CURRENT").read_text()
    feed.unlink()  # the mount is there, its files are not

    with pytest.raises(TooManyRemovals, match=r"would remove 40 of 40 articles .*--allow-removals"):
        update_index([tmp_path / "src"], index_dir)

    assert (index_dir / "CURRENT").read_text() == current
    assert len(article_ids(index_dir)) == 40
    assert update_index([tmp_path / "src"], index_dir, allow_removals=True).removed == 40


def test_removals_up_to_the_limit_need_no_permission(feed_index):
    feed, index_dir = feed_index
    allowed = int(MAX_REMOVAL_SHARE * 40)
    write_feed(feed, feed_records(40)[: 40 - allowed])
    assert update_index([feed], index_dir).removed == allowed


def test_the_cli_exits_6_for_a_damaged_source_and_7_for_too_many_removals(feed_index, tmp_path):
    feed, index_dir = feed_index
    runner = CliRunner()
    data = feed.read_bytes()
    feed.write_bytes(data[: len(data) // 2])

    damaged = runner.invoke(app, ["update", str(feed), "--index", str(index_dir)])
    assert damaged.exit_code == 6, damaged.output
    assert "could not be read completely" in damaged.stderr and "feed.jsonl.gz" in damaged.stderr
    assert "Traceback" not in damaged.output

    feed.unlink()
    refused = runner.invoke(app, ["update", str(tmp_path / "src"), "--index", str(index_dir)])
    assert refused.exit_code == 7
    assert "would remove 40 of 40 articles" in refused.stderr
    assert runner.invoke(app, ["update", str(tmp_path / "src"), "--index", str(index_dir), "--allow-removals"]).exit_code == 0
