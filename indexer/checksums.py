"""Checksums of index files: a damaged index says so, naming the file, instead of answering wrong.

Lucene ends every file with a checksum footer (``CodecUtil.writeFooter``), checks the small
files fully when a segment is opened and the large ones during merges and ``CheckIndex``.
vnsearch keeps the same information outside the files: the manifest of a generation lists
every file it uses with its size and CRC-32, and the manifest carries a CRC-32 of its own
content. So segment files stay plain arrays (memory-mapped as they are), and a file shared
by hard link between generations is described identically in both.

Opening an index checks every listed file's size (a ``stat``) and, once per process for each
file, its CRC-32: memory-mapped postings with a flipped byte would otherwise give wrong hits
silently. The result is remembered per inode, so the generations an update publishes, which
share most files with the previous one by hard link, cost only their new files. CRC-32 runs
at about 1.9 GB/s here (``bench/speed.py`` reports the cold start that includes it).

The large files a search reads by ranges (a term's gaps and frequencies, a hit's stored
block, the term dictionary it binary-searches) also carry a CRC-32 per block (BLOCK_BYTES;
DICTIONARY_BLOCK_BYTES for the dictionary) in the manifest. For those, opening checks
the size only; each block is checked the first time a search reads from it, and remembered
(``BlockCheck``), as Lucene checks a large file's checksum when a merge or CheckIndex reads it
whole rather than at open. Opening then costs the same at a million articles as at a thousand,
and a damaged block is still never used unchecked. ``vnsearch check`` and merges read them whole.
"""

from __future__ import annotations

import json
import threading
import zlib
from pathlib import Path

from indexer.errors import CorruptIndex

CHUNK = 16 * 2**20
# Checked by blocks, on first read: the files a search reads by ranges, and the term
# dictionary, which a search reads by binary search (the rows it compared, ``SegmentReader``).
LAZY_SUFFIXES = (".gaps", ".tf", ".pos", ".docs", ".lex", ".terms.npy")
BLOCK_BYTES = 256 * 1024
# A binary search reads a row here and a row there: smaller blocks, so that the first lookups
# of a process check little more than they read. Recorded per file ("block_bytes").
DICTIONARY_SUFFIXES = (".lex", ".terms.npy")
DICTIONARY_BLOCK_BYTES = 32 * 1024

# (device, inode, size, mtime) -> CRC-32 of files already checked by this process.
_VERIFIED: dict[tuple[int, int, int, int], str] = {}
_VERIFIED_LOCK = threading.Lock()


def file_crc32(path: Path) -> str:
    """CRC-32 of a file's bytes, as 8 hex digits."""
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            crc = zlib.crc32(chunk, crc)
    return f"{crc:08x}"


def describe_files(directory: Path, names: list[str], known: dict[str, dict] | None = None) -> dict[str, dict]:
    """{name: {"size", "crc32"}} of the files of a generation. A file already described in
    ``known`` (the previous generation's manifest: files are never rewritten in place, and a
    new file never reuses an old name) keeps its description without being read again."""
    known = known or {}
    out = {}
    for name in sorted(set(names)):
        path = Path(directory) / name
        size = path.stat().st_size
        previous = known.get(name)
        if previous is not None and previous.get("size") == size:
            out[name] = previous
        else:
            out[name] = {"size": size, "crc32": file_crc32(path)}
            block_bytes = DICTIONARY_BLOCK_BYTES if name.endswith(DICTIONARY_SUFFIXES) else BLOCK_BYTES
            if name.endswith(LAZY_SUFFIXES) and size > block_bytes:
                out[name]["block_crc32"] = block_crc32s(path, block_bytes)
                if block_bytes != BLOCK_BYTES:
                    out[name]["block_bytes"] = block_bytes
    return out


def block_crc32s(path: Path, block_bytes: int = BLOCK_BYTES) -> list[int]:
    """CRC-32 of each ``block_bytes`` of a file (the last block shorter)."""
    out = []
    with open(path, "rb") as f:
        while block := f.read(block_bytes):
            out.append(zlib.crc32(block))
    return out


class BlockCheck:
    """The blocks of one large file, each checked against its CRC-32 the first time it is read
    (thread-safe: two threads may at worst check one block twice)."""

    def __init__(self, path: Path, crcs: list[int], block_bytes: int = BLOCK_BYTES) -> None:
        self.path = path
        self.crcs = crcs
        self.block_bytes = block_bytes
        self.checked = bytearray(len(crcs))

    def check(self, data, start: int, end: int) -> None:
        """Check the blocks of ``data`` (the file's bytes, memory-mapped) that hold [start, end)."""
        if end <= start:
            return
        size = self.block_bytes
        for block in range(start // size, min(len(self.crcs), (end - 1) // size + 1)):
            if self.checked[block]:
                continue
            actual = zlib.crc32(data[block * size : (block + 1) * size])
            if actual != self.crcs[block]:
                raise damaged(self.path, f"checksum mismatch in bytes {block * size:,}–{(block + 1) * size:,} "
                                         f"(CRC-32 {actual:08x}, written as {self.crcs[block]:08x})")
            self.checked[block] = 1

    def check_all(self, data) -> None:
        self.check(data, 0, len(self.crcs) * self.block_bytes)


# (device, inode, size, mtime) -> the block checks of large files opened lazily by this process.
_BLOCK_CHECKS: dict[tuple[int, int, int, int], BlockCheck] = {}


def _identity(st) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def block_check(path: Path) -> BlockCheck | None:
    """The block check registered for this file when its generation was opened, if any (None:
    the file was checked whole, or by an index written before block checksums)."""
    try:
        return _BLOCK_CHECKS.get(_identity(Path(path).stat()))
    except OSError:
        return None


def damaged(path: Path, why: str) -> CorruptIndex:
    """The error for one damaged file, saying what to do about it."""
    return CorruptIndex(
        f"{path}: {why}; the index is damaged: rebuild it with 'vnsearch index' or restore it from a backup",
        path=str(path),
    )


def verify_files(directory: Path, files: dict[str, dict], full: bool = True, remembered: bool = True,
                 lazy: bool = True) -> None:
    """Check that every file listed exists with its recorded size and (``full``) CRC-32;
    ``remembered=False`` reads every file again even if this process checked it before; with
    ``lazy``, a file with block checksums is checked block by block when read (``BlockCheck``).

    Raises CorruptIndex naming the first damaged file.
    """
    directory = Path(directory)
    for name, expected in sorted(files.items()):
        path = directory / name
        try:
            st = path.stat()
        except FileNotFoundError:
            raise damaged(path, "missing") from None
        if st.st_size != expected["size"]:
            raise damaged(path, f"{st.st_size:,} bytes where {expected['size']:,} were written (truncated or overwritten)")
        if not full:
            continue
        identity = _identity(st)
        block_bytes = expected.get("block_bytes", BLOCK_BYTES)
        if lazy and expected.get("block_crc32") and len(expected["block_crc32"]) == -(-st.st_size // block_bytes):
            with _VERIFIED_LOCK:
                if identity not in _BLOCK_CHECKS and _VERIFIED.get(identity) != expected["crc32"]:
                    if len(_BLOCK_CHECKS) > 100_000:
                        _BLOCK_CHECKS.clear()
                    _BLOCK_CHECKS[identity] = BlockCheck(path, list(expected["block_crc32"]), block_bytes)
            continue
        if remembered and _VERIFIED.get(identity) == expected["crc32"]:
            continue
        actual = file_crc32(path)
        if actual != expected["crc32"]:
            raise damaged(path, f"checksum mismatch (CRC-32 {actual}, written as {expected['crc32']})")
        with _VERIFIED_LOCK:
            if len(_VERIFIED) > 100_000:
                _VERIFIED.clear()
            _VERIFIED[identity] = actual


def manifest_checksum(manifest: dict) -> str:
    """CRC-32 of a manifest's content (without its own "checksum"), in a canonical form."""
    content = {k: v for k, v in manifest.items() if k != "checksum"}
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return f"{zlib.crc32(canonical.encode('utf-8')):08x}"


def sealed(manifest: dict) -> dict:
    """The manifest with its checksum set."""
    return {**{k: v for k, v in manifest.items() if k != "checksum"}, "checksum": manifest_checksum(manifest)}


def read_manifest(path: Path) -> dict:
    """A generation's manifest, or CorruptIndex if it is missing, unreadable or altered."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise damaged(path, "missing") from None
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise damaged(path, f"not readable as JSON ({e})") from None
    if not isinstance(manifest, dict):
        raise damaged(path, "not a manifest (no JSON object)")
    if "checksum" not in manifest:
        return manifest  # written before checksums: the format check names what to do
    if manifest["checksum"] != manifest_checksum(manifest):
        raise damaged(path, "checksum mismatch: its content was altered after it was written")
    return manifest

