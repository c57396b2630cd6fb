"""Write failures are clean (issue "Nothing lost", items 2 and 3), tested the way Lucene's
MockDirectoryWrapper and SQLite's I/O-error tests do it: fail the Nth file operation of a
build or an update, for every N, and check after each failure that

* the error is one WriteFailed naming the folder and the cause (never a traceback),
* the previous index is live and answers exactly as before,
* nothing the failed writer started is left once the next writer has run.
"""

from __future__ import annotations

import builtins
import errno
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from indexer import build_index
from indexer.build import update_index
from indexer.errors import WriteFailed
from search import Index
from search.cli import app
from tests.conftest import CORPUS

QUERIES = ["sinh hoạt chi bộ", "Tỉnh uỷ Lào Cai", "giá lúa", "lũ quét", "Thương lái Cần Thơ thu mua lúa"]
NEW_PAGE = ("Thương lái Cần Thơ thu mua lúa Đài Thơm 8\n\n"
            "Ngọc Hân   03-12-2026 08:00:00   TTXVN - Thương lái Cần Thơ thu mua lúa Đài Thơm 8 với giá kỷ lục.\n\n"
            "Nông dân phấn khởi vì giá lúa tăng mạnh trong tuần này.\n")


class FailingDisk:
    """Counts the file operations that write (opening a file for writing, each write, fsync,
    rename, link, mkdir) and fails the ``fail_at``-th with ``error`` (ENOSPC: a full disk), or
    with ``from_then_on`` every one from there (a read-only file system)."""

    def __init__(self, fail_at: int, error: int = errno.ENOSPC, from_then_on: bool = False) -> None:
        self.fail_at, self.error, self.from_then_on, self.calls = fail_at, error, from_then_on, 0
        self.failed_on: str | None = None

    def tick(self, what: str, path) -> None:
        self.calls += 1
        if self.calls == self.fail_at or (self.from_then_on and self.calls > self.fail_at):
            self.failed_on = f"{what} {path}"
            raise OSError(self.error, os.strerror(self.error), str(path))

    @contextmanager
    def installed(self):
        real_open, real_os = builtins.open, {name: getattr(os, name) for name in ("open", "replace", "rename", "link", "fsync", "mkdir")}
        disk = self

        class File:
            def __init__(self, f) -> None:
                self._f = f

            def write(self, data):
                disk.tick("write", self._f.name)
                return self._f.write(data)

            def __getattr__(self, name):
                return getattr(self._f, name)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return self._f.__exit__(*exc)

        def failing_open(file, mode="r", *args, **kwargs):
            if any(c in mode for c in "wax+"):
                disk.tick("open", file)
                return File(real_open(file, mode, *args, **kwargs))
            return real_open(file, mode, *args, **kwargs)

        def failing_os_open(path, flags, *args, **kwargs):
            if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                disk.tick("open", path)
            return real_os["open"](path, flags, *args, **kwargs)

        def counted(name):
            def call(*args, **kwargs):
                disk.tick(name, args[0] if args else "")
                return real_os[name](*args, **kwargs)
            return call

        builtins.open = failing_open
        os.open = failing_os_open
        for name in ("replace", "rename", "link", "fsync", "mkdir"):
            setattr(os, name, counted(name))
        try:
            yield self
        finally:
            builtins.open = real_open
            for name, function in real_os.items():
                setattr(os, name, function)


def answers(index_dir: Path) -> list:
    with Index.open(index_dir) as index:
        return [[(h.id, h.score) for h in index.search(q, limit=20)] for q in QUERIES] + [len(index)]


def leftovers(index_dir: Path) -> set[str]:
    """What is in an index folder besides its writer lock, CURRENT and the generations kept."""
    live = (index_dir / "CURRENT").read_text().strip()
    kept = {live, f"gen-{int(live[4:]) - 1:06d}"}
    return {p.name for p in index_dir.iterdir()} - {"writer.lock", "CURRENT"} - kept


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Path:
    """Three of the shipped pages: a small index whose every write is cheap to fail."""
    folder = tmp_path_factory.mktemp("src")
    for name in ("000", "001", "002"):
        [page] = CORPUS.glob(f"{name}_*.txt")
        shutil.copy(page, folder / page.name)
    return folder


def every_failure(run, fresh) -> int:
    """Run ``run`` with the Nth write failing, for N = 1, 2, … until it completes without
    reaching N; ``fresh()`` makes the index folder as it was before each try. Returns N."""
    n = 0
    while True:
        n += 1
        index_dir, before = fresh()
        disk = FailingDisk(n)
        try:
            with disk.installed():
                run(index_dir)
        except WriteFailed as e:
            assert str(index_dir) in str(e) and "No space left on device (ENOSPC)" in str(e), (n, disk.failed_on, e)
            yield n, index_dir, before, disk.failed_on
            continue
        if disk.calls < n:
            return  # every write of the run has been failed once
        yield n, index_dir, before, None  # the failed operation had a fallback (a link copied instead)


def test_every_failed_write_of_an_update_leaves_the_previous_index_live_and_nothing_behind(sources, tmp_path):
    original = tmp_path / "original"
    build_index([sources], original)
    source = tmp_path / "src"
    shutil.copytree(sources, source)
    (source / "099_tin_moi.txt").write_text(NEW_PAGE, encoding="utf-8")
    before = answers(original)
    failures = 0

    def fresh():
        index_dir = tmp_path / "ix"
        shutil.rmtree(index_dir, ignore_errors=True)
        shutil.copytree(original, index_dir)
        return index_dir, before

    for n, index_dir, expected, failed_on in every_failure(lambda ix: update_index([source], ix), fresh):
        if failed_on is None:
            continue
        failures += 1
        live_after_failure = (index_dir / "CURRENT").read_text()
        if live_after_failure == (original / "CURRENT").read_text():
            assert answers(index_dir) == expected, failed_on
        else:  # it failed after publishing: the new index is complete and live
            assert len(Index.open(index_dir)) == 4, failed_on
        assert not list(index_dir.glob(".CURRENT.*")), failed_on
        update_index([source], index_dir)  # the next writer finishes the work
        assert len(Index.open(index_dir)) == 4
        assert leftovers(index_dir) == set(), failed_on
    assert failures > 20  # the update's writes were reached, not only its first


def test_every_failed_write_of_a_first_build_leaves_no_folder(sources, tmp_path):
    def fresh():
        index_dir = tmp_path / "new" / "ix"
        shutil.rmtree(tmp_path / "new", ignore_errors=True)
        (tmp_path / "new").mkdir()
        return index_dir, None

    failures = 0
    for n, index_dir, _, failed_on in every_failure(lambda ix: build_index([sources], ix), fresh):
        if failed_on is None or (index_dir / "CURRENT").exists():
            continue  # completed, or failed after publishing: a complete index
        failures += 1
        assert not index_dir.exists(), failed_on
    assert failures > 20


def test_a_read_only_index_is_one_clear_error_and_stays_searchable(sources, tmp_path):
    index_dir = tmp_path / "ix"
    build_index([sources], index_dir)
    before = answers(index_dir)
    with FailingDisk(1, errno.EROFS, from_then_on=True).installed():
        result = CliRunner().invoke(app, ["update", str(sources), "--index", str(index_dir), "--quiet"])
    assert result.exit_code == 8
    assert result.stderr.startswith(f"vnsearch: error: {index_dir}: cannot write the index: Read-only file system (EROFS)")
    assert "Traceback" not in result.output and len(result.stderr.splitlines()) == 1
    assert answers(index_dir) == before
