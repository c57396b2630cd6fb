"""Reading segments: one segment memory-mapped (``SegmentReader``), and the segments of a
generation seen as one index (``SegmentSet``). The format is ``indexer.codec``'s."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Iterator

import numpy as np

from indexer.analysis import metadata_key
from indexer.checksums import block_check, damaged
from indexer.codec import (
    ALL_ONES,
    DF,
    FORMAT,
    LEX,
    LONGEST_FIXED_WIDTH_TERM,
    decode_postings,
    decode_positions,
    decode_positions_of_terms,
    decode_positions_reference,
    decode_postings_reference,
    decode_rows,
    exclusive_cumsum,
    find_term,
    find_term_reference,
    found_in_sorted,
    map_file,
    rows_searched,
    search_term,
)
from indexer.near_duplicates import EMPTY, SIGNATURE_SCHEME, SIGNATURE_SIZE

__all__ = ["SegmentReader", "SegmentSet", "deleted_docs"]


# The postings of a term a segment does not have (read-only: shared by every such answer).
_NO_DOCS = np.zeros(0, dtype=np.int32)
_NO_FREQS = np.zeros(0, dtype=np.uint8)
_NO_DOCS.flags.writeable = _NO_FREQS.flags.writeable = False


class SegmentReader:
    """One segment opened for reading; arrays are memory-mapped, documents read on demand."""

    def __init__(self, directory: Path, name: str) -> None:
        prefix = Path(directory) / name
        self._prefix = prefix
        self.name = name
        with open(f"{prefix}.json", encoding="utf-8") as f:
            self.description = json.load(f)
        if self.description.get("format") != FORMAT:
            raise ValueError(f"{prefix}.json: not a {FORMAT} segment")
        self.docs: int = self.description["docs"]
        self.fields: dict[str, list[int]] = self.description["fields"]
        self.field_order = list(self.fields)
        self.sources: list[str] = self.description["sources"]
        self.categories: list[str] = self.description["categories"]
        self._lex = map_file(f"{prefix}.lex")
        terms = np.load(f"{prefix}.terms.npy", mmap_mode="r")
        # A flat memoryview: the binary search reads single values, which a memoryview gives
        # as Python ints ten times faster than indexing a memory-mapped array does.
        self._table = memoryview(np.ascontiguousarray(np.asarray(terms)).reshape(-1)) if terms.size else memoryview(b"").cast("I")
        self._width = terms.shape[1] if terms.ndim == 2 else 5
        self._gaps = map_file(f"{prefix}.gaps")
        self._exception_dtype = np.dtype(f"<u{self.description['exception_bytes']}")
        self._freqs = map_file(f"{prefix}.tf")
        self._positions = map_file(f"{prefix}.pos")
        self._position_offsets = np.load(f"{prefix}.pos.npy", mmap_mode="r")
        # Per positional field: where its rows' offsets start in .pos.npy.
        self.positional: dict[str, int] = self.description["positions"]
        self.lengths = np.load(f"{prefix}.len.npy", mmap_mode="r")
        self.dates = np.load(f"{prefix}.date.npy", mmap_mode="r")
        self.signatures = np.load(f"{prefix}.sig.npy", mmap_mode="r")
        self.signature_scheme = int(self.description.get("signature_scheme", 1))
        self.source_ids = np.load(f"{prefix}.source.npy", mmap_mode="r")
        self.category_ids = np.load(f"{prefix}.category.npy", mmap_mode="r")
        self._docs = map_file(f"{prefix}.docs")
        self._block_offsets = np.load(f"{prefix}.docs.npy")
        with open(f"{prefix}.zdict", "rb") as f:
            self._dictionary = f.read()
        self._per_block = int(self.description["docs_per_block"])
        # Large files opened with block checksums are checked where they are read (checksums.BlockCheck).
        self._gaps_check, self._freqs_check, self._positions_check, self._docs_check, self._lex_check, self._table_check = (
            block_check(Path(f"{prefix}.{suffix}")) for suffix in ("gaps", "tf", "pos", "docs", "lex", "terms.npy"))
        # The table's file as bytes (its .npy header first), which its block checksums cover.
        self._table_file = map_file(f"{prefix}.terms.npy") if self._table_check is not None else None
        self._table_header = len(self._table_file) - self._table.nbytes if self._table_file is not None else 0

    def _term_row(self, field: str, text: str, find=find_term) -> int | None:
        """The table row of a term of a field, or None. The dictionary rows the search read
        are checked against their blocks' checksums first (``check_dictionary`` for all)."""
        bounds = self.fields.get(field)
        if bounds is None:
            return None
        key = text.encode("utf-8")
        if find is not find_term:  # a reference implementation (the oracle of the tests)
            return find(self._lex, self._table, self._width, bounds[0], bounds[1], key)
        answer = self._search(bounds, key)
        return answer if answer >= 0 else None

    def _search(self, bounds: list[int], key: bytes) -> int:
        """``codec.search_term`` over a field's rows, on checked bytes only: found, the row
        holds the key's bytes, whatever rows led there; not found, every row compared must be
        sound, or a damaged one could have hidden the term."""
        try:
            answer = search_term(self._lex, self._table, self._width, bounds[0], bounds[1], key)
        except ValueError:
            self.check_dictionary()  # offsets out of bounds: a damaged dictionary is named
            raise
        if self._table_check is not None or self._lex_check is not None:
            self._check_rows([answer] if answer >= 0 else rows_searched(bounds[0], bounds[1], answer), bounds[1])
        return answer

    def _check_rows(self, rows: list[int], hi: int) -> None:
        """Check the blocks of these dictionary rows: each row and the next one's LEX (its end),
        and the term's bytes in .lex."""
        table, width = self._table, self._width
        row_bytes = width * table.itemsize
        for row in dict.fromkeys(rows):
            if self._table_check is not None:
                at = self._table_header + row * row_bytes
                self._table_check.check(self._table_file, at, at + 2 * row_bytes)
            if self._lex_check is not None and row < hi:
                self._lex_check.check(self._lex, table[row * width + LEX], table[(row + 1) * width + LEX])

    def prefixed_terms(self, field: str, prefix: str, most: int) -> list[tuple[str, int]]:
        """The ``most`` terms of a field that start with ``prefix`` found in the most documents
        (deleted ones included), with those counts: two binary searches bound the run of rows
        (the dictionary is sorted by bytes) and only their table rows are read."""
        bounds = self.fields.get(field)
        key = prefix.encode("utf-8")
        if bounds is None or not key:
            return []
        lo_answer = self._search(bounds, key)
        # The least byte string past every one that starts with the prefix.
        end = key.rstrip(b"\xff")
        end = end[:-1] + bytes([end[-1] + 1]) if end else None
        hi_answer = self._search(bounds, end) if end else -bounds[1] - 1
        lo = lo_answer if lo_answer >= 0 else -lo_answer - 1
        hi = hi_answer if hi_answer >= 0 else -hi_answer - 1
        if self._table_check is not None:  # the rows of the run, whose counts are compared
            row_bytes = self._width * self._table.itemsize
            self._table_check.check(self._table_file, self._table_header + lo * row_bytes, self._table_header + (hi + 1) * row_bytes)
        if hi <= lo:
            return []
        rows = np.frombuffer(self._table, dtype=self._table.format).reshape(-1, self._width)
        dfs = rows[lo:hi, DF]
        best = np.argsort(-dfs.astype(np.int64), kind="stable")[:most]
        out = []
        for row in (lo + best).tolist():
            start, stop = int(rows[row, LEX]), int(rows[row + 1, LEX])
            if self._lex_check is not None:
                self._lex_check.check(self._lex, start, stop)
            out.append((bytes(self._lex[start:stop]).decode("utf-8"), int(rows[row, DF])))
        return out

    def check_dictionary(self) -> None:
        """Check the whole term dictionary against its block checksums: for what reads all of
        it (a merge, the suggester's vocabulary)."""
        if self._table_check is not None:
            self._table_check.check_all(self._table_file)
        if self._lex_check is not None:
            self._lex_check.check_all(self._lex)

    def postings(self, field: str, text: str, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(document numbers + ``offset``, frequencies) of a term in a field; empty arrays if
        absent. (The offset is added as the gaps are summed: a set of segments numbers its
        documents one segment after another.)"""
        return self._postings(field, text, offset, find_term, decode_postings)

    def postings_reference(self, field: str, text: str, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``postings`` through the codec's NumPy references: the oracle of the compiled ones."""
        return self._postings(field, text, offset, find_term_reference, decode_postings_reference)

    def _postings(self, field: str, text: str, offset: int, find, decode) -> tuple[np.ndarray, np.ndarray]:
        row = self._term_row(field, text, find)
        if row is None:
            return _NO_DOCS, _NO_FREQS
        at = row * self._width
        _, df, first, gaps_at, freq_at = self._table[at : at + 5].tolist()
        exception_bytes = self._exception_dtype.itemsize
        if self._gaps_check is not None:  # the gap bytes, and at most as many exceptions
            self._gaps_check.check(self._gaps, gaps_at, gaps_at + (df - 1) * (1 + exception_bytes))
        if self._freqs_check is not None and freq_at != ALL_ONES:
            start = freq_at >> 1
            self._freqs_check.check(self._freqs, start, start + ((df + 1) // 2 if freq_at & 1 else df))
        return decode(self._gaps, gaps_at, df, first + offset, exception_bytes, self._freqs, freq_at)

    def positions(self, field: str, text: str, docs: np.ndarray, reference: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Where a term stands in the documents ``docs`` (segment numbers, ascending) of a
        positional field (codec.POSITIONAL_FIELDS): (document, position) pairs, documents
        ascending, positions ascending within each. Documents without the term give nothing."""
        row = self._term_row(field, text) if field in self.positional else None
        if row is None:
            return _NO_DOCS, _NO_DOCS
        term_docs, freqs = self.postings(field, text)
        at, found = found_in_sorted(term_docs, docs)
        wanted = at[found].astype(np.int64)
        if wanted.size == 0:
            return _NO_DOCS, _NO_DOCS
        start, end = self._positions_span(field, row)
        if self._positions_check is not None:
            self._positions_check.check(self._positions, start, end)
        decode = decode_positions_reference if reference else decode_positions
        counts, positions = decode(memoryview(self._positions)[start:end], 0, freqs, wanted)
        return np.repeat(term_docs[wanted], counts), positions

    def _positions_span(self, field: str, row: int) -> tuple[int, int]:
        """The bytes of a term's positions in .pos: they are written in table order, so a
        term's end is the next term's start (or the end of the file)."""
        k = self.positional[field] + row - self.fields[field][0]
        offsets = self._position_offsets
        start = int(offsets[k])
        end = int(offsets[k + 1]) if k + 1 < len(offsets) else len(self._positions)
        if not start <= end <= len(self._positions):
            raise damaged(Path(f"{self._prefix}.pos.npy"), f"positions of {field} row {row} lie outside .pos")
        return start, end

    def positions_of_rows(self, field: str, a: int, b: int, freqs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every posting's positions of term rows [a, b) of a positional field (a merge,
        which has decoded their frequencies ``freqs`` with ``postings_of_rows``): (count per
        posting, positions one after another)."""
        if self._positions_check is not None:
            self._positions_check.check_all(self._positions)
        table = self.term_table()
        start = self.positional[field] + a - self.fields[field][0]
        offsets = np.asarray(self._position_offsets[start : start + b - a], dtype=np.uint64)
        return decode_positions_of_terms(self._positions, offsets, table[a:b, DF].astype(np.int64), freqs)

    def field_lengths(self, field: str) -> np.ndarray:
        return self.lengths[self.field_order.index(field)]

    def terms(self, field: str) -> Iterator[str]:
        """Every term of a field, in byte order."""
        lo, hi = self.fields.get(field, (0, 0))
        self.check_dictionary()
        table, width, lex = self._table, self._width, self._lex
        for row in range(lo, hi):
            yield bytes(lex[table[row * width + LEX] : table[(row + 1) * width + LEX]]).decode("utf-8")

    def column(self, name: str) -> tuple[list[str], np.ndarray]:
        """The value table and per-document value numbers (-1: none) of "source" or "category"."""
        if name == "source":
            return self.sources, self.source_ids
        if name == "category":
            return self.categories, self.category_ids
        raise ValueError(f"no column {name!r}")

    def stored(self, docnum: int) -> dict:
        """The stored fields of one document."""
        block = docnum // self._per_block
        # Decode only the one document's line (JSON never has a raw newline inside).
        return json.loads(self._block(block).split(b"\n")[docnum % self._per_block])

    def comparable_signatures(self) -> np.ndarray:
        """The near-copy signature of every document, or EMPTY rows (near copies of nothing)
        for a segment of an older signature scheme, which are not compared with anything:
        they fold articles that merely share a trigram (see near_duplicates.SIGNATURE_SCHEME).
        No near copies are folded in such a segment until the index is rebuilt."""
        if self.signature_scheme == SIGNATURE_SCHEME:
            return np.asarray(self.signatures)
        return np.tile(EMPTY, (self.docs, 1))

    def term_table(self) -> np.ndarray:
        """The term table as rows of [LEX, DF, FIRST, GAPS, FREQS] (codec), with the extra row
        that ends the last term's bytes (all of it checked: for merges and checks)."""
        self.check_dictionary()
        return np.frombuffer(self._table, dtype=self._table.format).reshape(-1, self._width)

    def term_at(self, row: int) -> bytes:
        """The UTF-8 bytes of the term of a table row."""
        self._check_rows([row], row + 1)
        table = self._table
        return bytes(self._lex[table[row * self._width + LEX] : table[(row + 1) * self._width + LEX]])

    @property
    def file_sizes(self) -> dict[str, int]:
        """Bytes of the dictionary (lex), the gaps and the frequencies: what table offsets
        must stay within."""
        return {"lex": len(self._lex), "gaps": len(self._gaps), "tf": len(self._freqs), "pos": len(self._positions)}

    def postings_of_rows(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every posting of term rows [a, b), decoded in bulk (``codec.decode_rows``): a merge,
        which first checks the large files whole."""
        for check, data in ((self._gaps_check, self._gaps), (self._freqs_check, self._freqs)):
            if check is not None:
                check.check_all(data)
        return decode_rows(self.term_table()[a:b], self._gaps, self._freqs, self._exception_dtype.itemsize)

    def term_bytes(self, lo: int, hi: int) -> np.ndarray:
        """The terms of rows [lo, hi) as a fixed-width byte-string array (Python byte strings
        when one is long), in byte order: how a merge compares dictionaries."""
        table = self.term_table()
        starts = table[lo:hi, LEX].astype(np.int64)
        lengths = table[lo + 1 : hi + 1, LEX].astype(np.int64) - starts
        width = max(1, int(lengths.max(initial=0)))
        if width > LONGEST_FIXED_WIDTH_TERM:
            # A long code or URL would make every row that wide: Python byte strings instead.
            terms = np.empty(lengths.size, dtype=object)
            terms[:] = [bytes(self._lex[a : a + n]) for a, n in zip(starts.tolist(), lengths.tolist())]
            return terms
        lex = np.frombuffer(self._lex, dtype=np.uint8) if len(self._lex) else np.zeros(0, dtype=np.uint8)
        out = np.zeros((lengths.size, width), dtype=np.uint8)
        row = np.repeat(np.arange(lengths.size), lengths)
        column = np.arange(row.size) - np.repeat(exclusive_cumsum(lengths), lengths)
        out[row, column] = lex[starts[row] + column]
        # Terms never hold a NUL byte, so the padding NumPy strips is only padding.
        return out.view(f"S{width}").reshape(lengths.size)

    def stored_lines(self) -> Iterator[bytes]:
        """Every document's stored JSON line, in document order, not parsed: what a merge
        copies."""
        for block in range(len(self._block_offsets) - 1):
            yield from self._block(block).split(b"\n")

    def iter_stored(self) -> Iterator[dict]:
        """Every document's stored fields, in document order."""
        for line in self.stored_lines():
            yield json.loads(line)

    def _block(self, block: int) -> bytes:
        start, end = int(self._block_offsets[block]), int(self._block_offsets[block + 1])
        if self._docs_check is not None:
            self._docs_check.check(self._docs, start, end)
        if not self._dictionary:
            return zlib.decompress(self._docs[start:end])
        return zlib.decompressobj(zdict=self._dictionary).decompress(self._docs[start:end])


class SegmentSet:
    """The segments of one generation seen as one index: global document numbers follow the
    segments in order, and documents deleted by later updates are masked out."""

    def __init__(self, directory: Path, entries: list[dict]) -> None:
        self.directory = Path(directory)
        self.entries = entries
        self.readers = [SegmentReader(self.directory, e["name"]) for e in entries]
        self.offsets = np.cumsum([0] + [r.docs for r in self.readers], dtype=np.int64)
        self._offsets = self.offsets.tolist()
        self.size = int(self.offsets[-1])
        self.live = np.ones(self.size, dtype=bool)
        for entry, reader, offset in zip(entries, self.readers, self.offsets):
            if entry.get("deleted"):
                self.live[offset + deleted_docs(self.directory, entry)] = False
        self._dates: np.ndarray | None = None
        self._signatures: np.ndarray | None = None

    @classmethod
    def joined(cls, parts: "list[SegmentSet]") -> "SegmentSet":
        """Several indexes' segments seen as one (the shards of a sharded index, in shard
        order), as Lucene's MultiReader: statistics are those of all of them together."""
        joined = cls.__new__(cls)
        joined.directory = parts[0].directory if parts else Path(".")
        joined.entries = [e for p in parts for e in p.entries]
        joined.readers = [r for p in parts for r in p.readers]
        joined.offsets = np.cumsum([0] + [r.docs for r in joined.readers], dtype=np.int64)
        joined._offsets = joined.offsets.tolist()
        joined.size = int(joined.offsets[-1])
        joined.live = np.concatenate([p.live for p in parts]) if parts else np.ones(0, dtype=bool)
        joined._dates = joined._signatures = None
        return joined

    def prefixed_terms(self, field: str, prefix: str, most: int) -> list[tuple[str, int]]:
        """``SegmentReader.prefixed_terms`` over every segment: the ``most`` terms with the
        largest document counts, added up (a term may be among the best of one segment only)."""
        counts: dict[str, int] = {}
        for reader in self.readers:
            for term, n in reader.prefixed_terms(field, prefix, most):
                counts[term] = counts.get(term, 0) + n
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:most]

    def postings(self, field: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Global (document numbers, frequencies) of a term, deleted documents included."""
        parts = [part for part in (reader.postings(field, text, offset) for reader, offset in zip(self.readers, self._offsets))
                 if part[0].size]
        if len(parts) < 2:
            return parts[0] if parts else (_NO_DOCS, _NO_FREQS)
        return np.concatenate([d for d, _ in parts]), np.concatenate([f for _, f in parts])

    def field_lengths(self, field: str) -> np.ndarray:
        return np.concatenate([r.field_lengths(field) for r in self.readers]) if self.readers else np.zeros(0, dtype=np.uint32)

    def locate(self, docnum: int) -> tuple[SegmentReader, int]:
        i = int(np.searchsorted(self.offsets, docnum, side="right")) - 1
        return self.readers[i], docnum - int(self.offsets[i])

    def stored(self, docnum: int) -> dict:
        reader, local = self.locate(docnum)
        return reader.stored(local)

    def signatures(self) -> np.ndarray:
        """The near-duplicate signature of every document (indexer.near_duplicates); joined
        from the segments once, since a search may ask several times."""
        if self._signatures is None:
            parts = [r.comparable_signatures() for r in self.readers]
            self._signatures = np.concatenate(parts) if parts else np.zeros((0, SIGNATURE_SIZE), dtype=np.uint16)
        return self._signatures

    def dates(self) -> np.ndarray:
        """Seconds since 1970 of every document, NO_DATE where it has none (joined once)."""
        if self._dates is None:
            self._dates = np.concatenate([r.dates for r in self.readers]) if self.readers else np.zeros(0, dtype=np.int64)
        return self._dates

    def column_counts(self, column: str, mask: np.ndarray) -> dict[str, int]:
        """How many of the documents in ``mask`` have each source (or category)."""
        counts: dict[str, int] = {}
        for r, offset in zip(self.readers, self.offsets):
            table, all_ids = r.column(column)
            ids = np.asarray(all_ids)[mask[offset : offset + r.docs]]
            for i, n in enumerate(np.bincount(ids[ids >= 0], minlength=len(table))):
                if n:
                    counts[table[i]] = counts.get(table[i], 0) + int(n)
        return counts

    def column_mask(self, column: str, keys: set[str]) -> np.ndarray:
        """Documents whose source (or category) compares equal to one of ``keys``
        (``indexer.analysis.metadata_key``: case, spacing and diacritics do not matter)."""
        mask = np.zeros(self.size, dtype=bool)
        for r, offset in zip(self.readers, self.offsets):
            table, ids = r.column(column)
            wanted = [i for i, value in enumerate(table) if metadata_key(value) in keys]
            if wanted:
                mask[offset : offset + r.docs] = np.isin(ids, wanted)
        return mask

    def iter_live(self) -> Iterator[tuple[int, dict]]:
        """(global number, stored fields) of every live document."""
        for reader, offset in zip(self.readers, self.offsets):
            for local, stored in enumerate(reader.iter_stored()):
                if self.live[offset + local]:
                    yield int(offset) + local, stored


def deleted_docs(directory: Path, entry: dict) -> np.ndarray:
    """The deleted document numbers (local to the segment) recorded for a segment entry."""
    if not entry.get("deleted"):
        return np.zeros(0, dtype=np.int64)
    return np.load(Path(directory) / entry["deleted"]).astype(np.int64)
