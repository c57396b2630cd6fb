"""The index directory: generations, the atomic switch between them, and the writer lock.

Layout::

    DIR/
      CURRENT             name of the live generation (replaced atomically with os.replace)
      gen-000007/         a complete index: segment files (indexer.codec) plus manifest.json
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
from dataclasses import fields as dataclass_fields
from pathlib import Path

from indexer.analysis import ANALYZER_VERSION
from indexer.checksums import damaged, read_manifest, sealed, verify_files
from indexer.errors import IncompatibleIndex, IndexLocked, NotAnIndex
from indexer.schema import IndexSettings
from indexer.codec import segment_files
from indexer.segment import SegmentSet

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
    return _published_by_sharded_index(index_dir) or generation


def _published_by_sharded_index(shard_dir: Path) -> Generation | None:
    """For a shard folder opened on its own: the generation the sharded index around it
    published. A sharded writer sets each shard's CURRENT before the top-level one; killed in
    between, a shard's CURRENT names a generation that was never published (the next writer
    points it back), and this is what a reader of the shard alone must see meanwhile."""
    top_dir = shard_dir.parent
    if not shard_dir.name.startswith("shard-"):
        return None
    name = live_generation_name(top_dir)
    if name is None or not _GENERATION.match(name):
        return None
    try:
        manifest = Generation(top_dir / name).manifest()
    except (OSError, ValueError, NotAnIndex):
        return None  # the top level is the sharded reader's to judge
    if not is_sharded(manifest):
        return None
    for shard in manifest.get("shards") or []:
        if isinstance(shard, dict) and shard.get("path") == shard_dir.name and _GENERATION.match(str(shard.get("generation"))):
            published = Generation(shard_dir / shard["generation"])
            return published if (published.path / MANIFEST).exists() else None
    return None


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


def generation_names(index_dir: Path) -> set[str]:
    """The names of the generation folders in ``index_dir`` (none if it does not exist)."""
    try:
        return {p.name for p in index_dir.iterdir() if _GENERATION.match(p.name)}
    except OSError:
        return set()


def live_generation_name(index_dir: Path) -> str | None:
    """The generation ``CURRENT`` names, read as it is (None without one)."""
    try:
        return (index_dir / CURRENT).read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def remove_unpublished(index_dir: Path, existing: set[str]) -> None:
    """After a writer failed (under its lock): remove the generations it created — those not in
    ``existing`` and not live, since a failure after the rename of CURRENT leaves the new one
    live — and any half-written CURRENT. Never raises: it runs while another error is raised."""
    live = live_generation_name(index_dir)
    for name in generation_names(index_dir) - existing - {live}:
        shutil.rmtree(index_dir / name, ignore_errors=True)
    remove_temporary_files(index_dir)


def remove_if_never_published(index_dir: Path, existed: bool) -> None:
    """After a first build failed: the folder it created goes too (one that holds no published
    generation would read as a damaged index). Never raises."""
    if not existed and live_generation_name(index_dir) is None:
        shutil.rmtree(index_dir, ignore_errors=True)


def remove_temporary_files(index_dir: Path) -> None:
    """The temporary files of an atomic write (``.CURRENT.<pid>.tmp``) a failed or killed
    writer left behind; only ever called by the holder of the writer lock."""
    try:
        leftovers = list(index_dir.glob(f".{CURRENT}.*.tmp"))
    except OSError:
        return
    for path in leftovers:
        try:
            path.unlink()
        except OSError:
            pass


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
        folder = self.path.parent
        if folder.exists() and not folder.is_dir():
            raise NotAnIndex(f"{folder}: is a file, not an index folder; give --index a folder (new or an index)")
        folder.mkdir(parents=True, exist_ok=True)
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


# --------------------------------------------------------------------------------------------
# Opening a generation for reading
# --------------------------------------------------------------------------------------------

# 4: the manifest lists every file with its size and CRC-32 and carries its own checksum
# (indexer.checksums); stored documents carry their body fingerprint (exact-copy merging).
# 5: segments keep positions (codec format 6) for exact phrases.
INDEX_FORMAT = "vnsearch-index-5"
# Formats earlier versions wrote; their indexes are refused with "rebuild" rather than misread.
OLDER_INDEX_FORMATS = ("vnsearch-index", "vnsearch-index-2", "vnsearch-index-3", "vnsearch-index-4")


def default_index_dir() -> Path:
    """$VNSEARCH_INDEX, else the user's data folder (XDG): the same place from any directory."""
    if os.environ.get("VNSEARCH_INDEX"):
        return Path(os.environ["VNSEARCH_INDEX"])
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data_home / "vnsearch" / "index"


def read_duplicates(generation: Generation, manifest: dict) -> dict[str, list[str]]:
    """The copies table of a generation (kept id -> ids of its exact copies)."""
    return _read_table(generation, manifest.get("duplicates"), "a copies table")


def read_copy_origins(generation: Generation, manifest: dict) -> dict[str, str]:
    """The file each exact copy in the copies table was read from (copy id -> path), so that
    an update can drop a copy whose file no longer holds it. Empty for an index written before
    it was recorded: its copies stay listed until the next build."""
    return _read_table(generation, manifest.get("copy_origins"), "a table of copies' files")


def _read_table(generation: Generation, name: str | None, what: str) -> dict:
    """A JSON object a generation's manifest names (empty when it names none)."""
    if not name:
        return {}
    try:
        with open(generation.path / name, encoding="utf-8") as f:
            table = json.load(f)
    except (OSError, ValueError) as e:
        raise damaged(generation.path / name, f"cannot be read ({e})") from None
    if not isinstance(table, dict):
        raise damaged(generation.path / name, f"not {what}")
    return table


def listed_files(manifest: dict) -> list[str]:
    """Every file a generation uses besides its manifest: segment files, deletion lists, the
    copies table and its copies' files."""
    segments = manifest["segments"]
    wanted = [f for e in segments for f in segment_files(e["name"])]
    wanted += [e["deleted"] for e in segments if e.get("deleted")] + [manifest["duplicates"]]
    if manifest.get("copy_origins"):
        wanted.append(manifest["copy_origins"])
    return wanted


def check_manifest(manifest: dict, where: Path) -> IndexSettings:
    """The settings of an index, or IncompatibleIndex if this version cannot read it correctly."""
    if manifest.get("format") in OLDER_INDEX_FORMATS:
        raise IncompatibleIndex(f"{where}: built by an older vnsearch (format {manifest['format']}); rebuild it with 'vnsearch index'")
    if manifest.get("format") != INDEX_FORMAT:
        raise IncompatibleIndex(f"{where}: not a vnsearch index manifest")
    version = manifest.get("analyzer_version")
    if version != ANALYZER_VERSION:
        raise IncompatibleIndex(
            f"{where}: built with analyzer {version}, this vnsearch uses {ANALYZER_VERSION}; "
            "rebuild it with 'vnsearch index --rebuild'"
        )
    if "checksum" not in manifest:
        raise damaged(where, "malformed: it has no checksum")
    if not isinstance(manifest.get("files"), dict) or not isinstance(manifest.get("segments"), list) or "duplicates" not in manifest:
        raise damaged(where, "malformed: the list of segments or files is missing")
    listed = set(listed_files(manifest))
    if not listed <= set(manifest["files"]):
        missing = sorted(listed - set(manifest["files"]))[0]
        raise damaged(where, f"malformed: {missing} is used but has no checksum")
    known = {f for f in IndexSettings.__dataclass_fields__}
    values = {k: v for k, v in manifest.get("settings", {}).items() if k in known}
    return IndexSettings(**values)


def open_generation(index_dir: str | os.PathLike, verify: bool = True, generation: Generation | None = None) -> tuple[Generation, dict, IndexSettings]:
    """The live generation of an index with its manifest and checked settings.

    Every file the manifest lists is checked: its size always, its CRC-32 with ``verify``
    (once per file and process, see ``indexer.checksums``). A damaged file raises
    CorruptIndex naming it.
    """
    generation = generation or current_generation(Path(index_dir))
    manifest = generation.manifest()
    settings = check_manifest(manifest, generation.path / MANIFEST)
    verify_files(generation.path, manifest["files"], full=verify)
    return generation, manifest, settings


def open_segments(generation: Generation, manifest: dict) -> SegmentSet:
    """The segments of a checked generation (``open_generation``); a file that passed its
    checksum but cannot be read as what it should be is named too."""
    try:
        return SegmentSet(generation.path, manifest["segments"])
    except (OSError, ValueError, KeyError, TypeError, EOFError) as e:
        raise damaged(generation.path, f"a segment cannot be read ({type(e).__name__}: {e})") from None


# --------------------------------------------------------------------------------------------
# Opening a sharded index (indexer.shards builds and updates them)
# --------------------------------------------------------------------------------------------

# The top-level manifest of a sharded index: its shards and the generation of each that is live.
SHARDED_FORMAT = "vnsearch-sharded-1"


def is_sharded(manifest: dict) -> bool:
    return manifest.get("format") == SHARDED_FORMAT



def read_sharded_manifest(top: Generation) -> dict:
    manifest = top.manifest()
    if not is_sharded(manifest):
        raise NotAnIndex(f"{top.path.parent}: not a sharded index")
    if not isinstance(manifest.get("shards"), list) or not manifest["shards"]:
        raise damaged(top.path / MANIFEST, "malformed: the list of shards is missing")
    return manifest


def sharded_settings(manifest: dict, where: Path) -> IndexSettings:
    if manifest.get("analyzer_version") != ANALYZER_VERSION:
        raise IncompatibleIndex(
            f"{where}: built with analyzer {manifest.get('analyzer_version')}, this vnsearch uses {ANALYZER_VERSION}; "
            "rebuild it with 'vnsearch index --rebuild'"
        )
    known = {f.name for f in dataclass_fields(IndexSettings)}
    return IndexSettings(**{k: v for k, v in manifest.get("settings", {}).items() if k in known})


def open_shards(top: Generation, manifest: dict, verify: bool = True) -> tuple[IndexSettings, list[tuple[Generation, dict]]]:
    """The settings of a sharded index and each shard's live generation with its manifest,
    every file checked as for one index. A shard folder missing, damaged or of another
    format is an error naming it."""
    settings = sharded_settings(manifest, top.path / MANIFEST)
    shards = []
    count = len(manifest["shards"])
    for number, entry in enumerate(manifest["shards"], start=1):
        folder = top.path.parent / entry["path"]
        if not folder.is_dir():
            raise damaged(folder, f"shard {number} of {count} is missing")
        generation = Generation(folder / entry["generation"])
        if not (generation.path / MANIFEST).exists():
            raise damaged(generation.path, f"shard {number} of {count}: its live generation is missing")
        generation, shard_manifest, shard_settings = open_generation(folder, verify, generation)
        if shard_settings.to_manifest() != settings.to_manifest():
            raise IncompatibleIndex(f"{folder}: shard {number} of {count} was built with other settings than the index")
        shards.append((generation, shard_manifest))
    return settings, shards
