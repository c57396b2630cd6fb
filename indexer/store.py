"""The index directory: generations, the atomic switch between them, and the writer lock.

Layout::

    DIR/
      CURRENT             name of the live generation (replaced atomically with os.replace)
      gen-000007/         a complete index: segment files (indexer.segment) plus manifest.json
      gen-000006/         the previous generation, kept for readers that still have it open
      writer.lock         held (flock) by the one process writing; contains its PID

A writer never modifies a live generation: it builds the next one (for an update, starting
from hard links to the current one's files, which are never rewritten in place), then
switches CURRENT. A crash at any moment leaves CURRENT naming a complete generation; the
half-built one is removed by the next writer.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from indexer.checksums import damaged, read_manifest, sealed
from indexer.errors import IndexLocked, NotAnIndex

CURRENT = "CURRENT"
MANIFEST = "manifest.json"
LOCK = "writer.lock"
_GENERATION = re.compile(r"^gen-(\d{6,})$")
KEEP_GENERATIONS = 2


@dataclass(frozen=True)
class Generation:
    """One complete index inside an index directory."""

    path: Path

    @property
    def number(self) -> int:
        return int(_GENERATION.match(self.path.name).group(1))

    def manifest(self) -> dict:
        """The manifest, its own checksum checked (CorruptIndex if missing or altered)."""
        return read_manifest(self.path / MANIFEST)

    def write_manifest(self, manifest: dict) -> None:
        """Write the manifest with its checksum (``indexer.checksums``)."""
        _write_atomically(self.path / MANIFEST, json.dumps(sealed(manifest), ensure_ascii=False, indent=2, default=str))


def current_generation(index_dir: Path) -> Generation:
    """The live generation, or NotAnIndex with a message that says what is wrong."""
    index_dir = Path(index_dir)
    if not index_dir.exists():
        raise NotAnIndex(f"{index_dir}: no index here (the folder does not exist); build one with 'vnsearch index'")
    if not index_dir.is_dir():
        raise NotAnIndex(f"{index_dir}: not a folder, so not an index")
    try:
        raw = (index_dir / CURRENT).read_bytes()
    except FileNotFoundError:
        if any(_GENERATION.match(p.name) for p in index_dir.iterdir()):
            raise damaged(index_dir / CURRENT, "missing, so no generation is live") from None
        raise NotAnIndex(f"{index_dir}: not a vnsearch index (no {CURRENT} file); build one with 'vnsearch index'") from None
    try:
        name = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise damaged(index_dir / CURRENT, "not a generation name (unreadable bytes)") from None
    if not _GENERATION.match(name):
        raise damaged(index_dir / CURRENT, f"{name[:40]!r} is not a generation name")
    generation = Generation(index_dir / name)
    if not (generation.path / MANIFEST).exists():
        raise damaged(index_dir / CURRENT, f"names {name!r}, which is not a complete index")
    return generation


def new_generation(index_dir: Path) -> Generation:
    """A fresh, empty generation folder numbered after every existing one."""
    index_dir.mkdir(parents=True, exist_ok=True)
    numbers = [int(m.group(1)) for p in index_dir.iterdir() if (m := _GENERATION.match(p.name))]
    path = index_dir / f"gen-{max(numbers, default=0) + 1:06d}"
    path.mkdir()
    return Generation(path)


def copy_generation(source: Generation, index_dir: Path) -> Generation:
    """A new generation starting as hard links to ``source``'s files (no data is copied)."""
    target = new_generation(index_dir)
    for f in source.path.iterdir():
        if f.is_file() and f.name != MANIFEST:
            try:
                os.link(f, target.path / f.name)
            except OSError:
                shutil.copy2(f, target.path / f.name)
    return target


def publish(index_dir: Path, generation: Generation) -> None:
    """Make ``generation`` the live one in a single atomic rename, then drop old ones."""
    _fsync_tree(generation.path)
    _write_atomically(index_dir / CURRENT, generation.path.name + "\n")
    remove_stale_generations(index_dir)


def remove_stale_generations(index_dir: Path) -> None:
    """Remove generations older than the newest KEEP_GENERATIONS and any unfinished ones."""
    try:
        live = current_generation(index_dir).number
    except NotAnIndex:
        return
    for p in index_dir.iterdir():
        m = _GENERATION.match(p.name)
        if not m:
            continue
        n = int(m.group(1))
        # Newer than live: left by a writer that crashed (the lock guarantees none is running).
        if n > live or n <= live - KEEP_GENERATIONS:
            shutil.rmtree(p, ignore_errors=True)


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    for f in path.iterdir():
        if f.is_file():
            fd = os.open(f, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    _fsync_dir(path)


class WriterLock:
    """Only one writer per index directory.

    An flock is released by the kernel when its holder dies, so a lock left by a killed
    process never blocks the next run; the PID in the file is only for the message.
    """

    def __init__(self, index_dir: Path) -> None:
        self.path = Path(index_dir) / LOCK
        self._fd: int | None = None

    def __enter__(self) -> "WriterLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                os.close(fd)
                raise
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.close(fd)
            pid = int(holder) if holder.isdigit() else None
            raise IndexLocked(
                f"{self.path.parent}: index is being updated by PID {holder or '?'}; try again when it has finished",
                pid=pid,
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
