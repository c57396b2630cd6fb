"""The in-memory segment writer: analysed documents collected as flat arrays, then written as
one segment in the format of ``indexer.codec``."""

from __future__ import annotations

import json
from array import array
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from indexer.codec import (
    ALL_ONES,
    DF,
    DOCS_PER_BLOCK,
    EMPTY_SIGNATURE,
    FIRST,
    FORMAT,
    FREQS,
    GAPS,
    LEX,
    NO_DATE,
    POSITIONAL_FIELDS,
    StoredBlocks,
    concatenated_ranges,
    encode_positions,
    order_by_key,
    packed_frequencies,
    patched_gaps,
    save_array,
    write_bytes,
)
from indexer.near_duplicates import SIGNATURE_SCHEME, SIGNATURE_SIZE


class SegmentWriter:
    """Collects analysed documents in memory, then writes them as one segment.

    Terms arrive as integer keys (``indexer.analysis.TermKeys``) and ``term_text`` turns a key
    back into its text when the segment is written. Per field, each document adds its distinct
    keys and their frequencies to flat arrays; ``write`` turns them into postings with NumPy
    (unique, stable sort), so memory is about a dozen bytes per posting and no Python object
    is made per term until the dictionary is written.
    """

    def __init__(self, fields: tuple[str, ...], term_text: Callable[[int], str]) -> None:
        self.fields = fields
        self.term_text = term_text
        self.docs = 0
        self.postings = 0
        # Syllable keys fit 32 bits; a field's keys become 64-bit when the first bigram key
        # (``first << 32 | second``) comes. Most postings are syllables: this halves them.
        self._keys = {f: array("I") for f in fields}
        self._freqs = {f: array("B") for f in fields}
        self._per_doc = {f: array("I") for f in fields}  # distinct terms of each document
        self._lengths = {f: array("I") for f in fields}
        # Every occurrence of a positional field's terms, document after document: its key
        # and position (the documents follow from the lengths).
        self.positional = tuple(f for f in POSITIONAL_FIELDS if f in fields)
        self._occurrences = {f: array("I") for f in self.positional}
        self._positions = {f: array("I") for f in self.positional}
        self._dates = array("q")
        self._signatures = array("H")
        self._sources: dict[str, int] = {}
        self._categories: dict[str, int] = {}
        self._source_ids = array("i")
        self._category_ids = array("i")
        self._stored = StoredBlocks()

    def add(
        self, terms: dict[str, Sequence[int]], stored: dict, date: datetime | None, source: str | None,
        category: str | None, signature: np.ndarray | None = None,
    ) -> int:
        """Add one document (term keys per field, in text order: their positions are 0, 1, 2,
        ...; near-duplicate signature) and return its number in the segment."""
        batch = {name: (np.asarray(keys, dtype=np.int64), np.zeros(len(keys), dtype=np.int64), np.arange(len(keys)))
                 for name, keys in terms.items()}
        self.add_batch(batch, [(stored, date, source, category, signature)])
        return self.docs - 1

    def add_batch(
        self, terms: dict[str, tuple[np.ndarray, ...]],
        documents: Sequence[tuple[dict, datetime | None, str | None, str | None, np.ndarray | None]],
    ) -> None:
        """Add a batch of documents: per field, every term key of the batch and the number of
        the document (0 up, within the batch, ascending) it comes from, and for the positional
        fields each key's position in its text; per document, its stored fields, date, source,
        category and near-duplicate signature."""
        n = len(documents)
        empty = np.zeros(0, dtype=np.int64)
        for name in self.fields:
            keys, docs, *positions = terms.get(name, (empty, empty, empty))
            if name in self._occurrences:
                if not positions:
                    raise ValueError(f"field {name!r} keeps positions: give each key's position in its text")
                self._occurrences[name].frombytes(keys.astype(np.uint32).tobytes())
                self._positions[name].frombytes(np.asarray(positions[0]).astype(np.uint32).tobytes())
            self._add_postings(name, keys, docs, n)
        for stored, date, source, category, signature in documents:
            self._signatures.extend(EMPTY_SIGNATURE if signature is None else signature.tolist())
            self._dates.append(_seconds(date))
            self._source_ids.append(_table_id(self._sources, source))
            self._category_ids.append(_table_id(self._categories, category))
            self._stored.add(json.dumps(stored, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8"))
            self.docs += 1

    def _add_postings(self, name: str, keys: np.ndarray, docs: np.ndarray, n_docs: int) -> None:
        """Count a batch's keys per document and append (key, frequency) postings, document
        after document."""
        self._lengths[name].frombytes(np.bincount(docs, minlength=n_docs).astype(np.uint32).tobytes())
        if keys.size == 0:
            self._per_doc[name].frombytes(np.zeros(n_docs, dtype=np.uint32).tobytes())
            return
        distinct, counts = _distinct_per_document(keys, docs, n_docs)
        self._per_doc[name].frombytes(np.bincount(distinct[1], minlength=n_docs).astype(np.uint32).tobytes())
        # A term more than 255 times in a document: BM25 has long saturated.
        self._freqs[name].frombytes(np.minimum(counts, 255).astype(np.uint8).tobytes())
        collected = self._keys[name]
        if collected.typecode == "I" and int(distinct[0].max()) >= 2**32:
            # A bigram key: this field's keys take 64 bits from now on.
            collected = self._keys[name] = array("q", collected)
        collected.frombytes(distinct[0].astype(np.uint32 if collected.typecode == "I" else np.int64).tobytes())
        self.postings += distinct[0].size

    # What writing costs beyond the collected arrays, per posting of the largest field: its
    # keys as int64, the packed sort key, documents and the sorted copies (see write()).
    WRITE_BYTES_PER_POSTING = 40

    def memory_bytes(self) -> int:
        """About how much memory this writer needs to hold and then write what it has
        collected: the buffer a writer flushes on reaching (Lucene's RAM buffer)."""
        groups = (self._keys, self._freqs, self._per_doc, self._lengths, self._occurrences, self._positions)
        collected = sum(len(a) * a.itemsize for group in groups for a in group.values())
        largest = max((len(a) for a in self._keys.values()), default=0)
        stored = self._stored.bytes_held()
        return collected + stored + largest * self.WRITE_BYTES_PER_POSTING + len(self._signatures) * 2 + len(self._dates) * 16

    def write(self, directory: Path, name: str) -> dict:
        """Write the segment's files as ``directory/name.*``; returns its description."""
        prefix = Path(directory) / name
        # A gap that does not fit a byte is written after the term's gap bytes in this many
        # bytes: enough for any gap inside this segment.
        exception_bytes = 2 if self.docs <= 65536 else 4
        lex_parts: list[bytes] = []
        gap_parts: list[bytes] = []
        freq_parts: list[bytes] = []
        tables: list[np.ndarray] = []
        lex_size = gap_size = freq_size = 0
        field_rows = {}
        rows_by_key = {}  # per field: which term (in key order) each table row is
        row = 0
        for field in self.fields:
            table, lex, gaps, freqs, rows_by_key[field] = self._field_postings(field, exception_bytes)
            n = table.shape[0]
            table[:, LEX] += lex_size
            table[:, GAPS] += gap_size
            table[table[:, FREQS] != ALL_ONES, FREQS] += 2 * freq_size
            field_rows[field] = [row, row + n]
            row += n
            lex_parts.append(lex)
            gap_parts.append(gaps)
            freq_parts.append(freqs)
            lex_size += len(lex)
            gap_size += len(gaps)
            freq_size += len(freqs)
            tables.append(table)
        positions = [self._field_positions(field, rows_by_key[field]) for field in self.positional]
        terms = np.concatenate(tables + [np.array([[lex_size, 0, 0, 0, 0]], dtype=np.int64)])
        if int(terms.max()) <= ALL_ONES:  # 20 bytes a term instead of 40
            terms = terms.astype(np.uint32)
        write_bytes(f"{prefix}.lex", b"".join(lex_parts))
        save_array(f"{prefix}.terms.npy", terms)
        write_bytes(f"{prefix}.gaps", b"".join(gap_parts))
        write_bytes(f"{prefix}.tf", b"".join(freq_parts))
        position_starts = write_positions(prefix, positions)
        lengths = np.vstack([np.frombuffer(self._lengths[f], dtype=np.uint32) for f in self.fields]) if self.docs else np.zeros((len(self.fields), 0), dtype=np.uint32)
        # Two bytes a length unless a document is longer than 65,535 terms.
        save_array(f"{prefix}.len.npy", lengths.astype(np.uint16 if lengths.size == 0 or lengths.max() < 65536 else np.uint32))
        save_array(f"{prefix}.sig.npy", np.array(self._signatures, dtype=np.uint16).reshape(self.docs, SIGNATURE_SIZE))
        save_array(f"{prefix}.date.npy", np.array(self._dates, dtype=np.int64))
        save_array(f"{prefix}.source.npy", np.array(self._source_ids, dtype=np.int32))
        save_array(f"{prefix}.category.npy", np.array(self._category_ids, dtype=np.int32))
        self._stored.write(str(prefix))
        description = {
            "format": FORMAT,
            "name": name,
            "docs": self.docs,
            "fields": field_rows,
            "sources": list(self._sources),
            "categories": list(self._categories),
            "exception_bytes": exception_bytes,
            "docs_per_block": DOCS_PER_BLOCK,
            "signature_scheme": SIGNATURE_SCHEME,
            "positions": dict(zip(self.positional, position_starts)),
        }
        write_bytes(f"{prefix}.json", json.dumps(description, ensure_ascii=False).encode("utf-8"))
        return description

    def _field_postings(self, field: str, exception_bytes: int) -> tuple[np.ndarray, bytes, bytes, bytes, np.ndarray]:
        """The term table rows, lex bytes, gap bytes and frequency bytes of one field, and
        which term (in key order, as the postings are laid out) each table row is."""
        collected = self._keys[field]
        keys = np.frombuffer(collected, dtype=np.uint32 if collected.typecode == "I" else np.int64).astype(np.int64, copy=False)
        del collected
        total = keys.size
        docs = np.repeat(np.arange(self.docs, dtype=np.int32), np.frombuffer(self._per_doc[field], dtype=np.uint32))
        freqs = np.frombuffer(self._freqs[field], dtype=np.uint8)
        # One sort by key makes the postings lists, each key's documents ascending. The lists
        # are stored in key order; the term table, which is searched, is in byte order of the
        # terms and points into them.
        keys, docs, freqs = _sorted_by_key(keys, docs, freqs, self.docs)
        # The collected arrays are no longer needed: free them before the next field's sort.
        self._keys[field], self._freqs[field], self._per_doc[field] = array("I"), array("B"), array("I")
        first_posting = np.ones(total, dtype=bool)
        first_posting[1:] = keys[1:] != keys[:-1]
        starts = np.flatnonzero(first_posting)
        distinct = keys[starts]
        del keys
        n = distinct.size
        df = np.diff(np.append(starts, total))
        table = np.zeros((n, 5), dtype=np.int64)
        table[:, DF] = df
        table[:, FIRST] = docs[starts]
        gaps = np.diff(docs, prepend=np.int32(0))[~first_posting]
        table[:, GAPS], gap_bytes = patched_gaps(gaps, df - 1, exception_bytes)
        table[:, FREQS], freq_bytes = packed_frequencies(freqs, starts, df)
        encoded = [text.encode("utf-8") for text in map(self.term_text, distinct.tolist())]
        by_bytes = sorted(range(n), key=encoded.__getitem__)
        table = table[by_bytes]
        encoded = [encoded[i] for i in by_bytes]
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=n)
        if n:
            np.cumsum(lengths[:-1], out=table[1:, LEX])
        lex = b"".join(encoded)
        return table, lex, gap_bytes, freq_bytes, np.array(by_bytes, dtype=np.int64)

    def _field_positions(self, field: str, rows_by_key: np.ndarray) -> tuple[np.ndarray, bytes]:
        """The positions of a positional field, encoded (``codec.encode_positions``) in the
        order of its term table (byte order): each row's offset in the bytes, and the bytes."""
        keys = np.frombuffer(self._occurrences[field], dtype=np.uint32)
        positions = np.frombuffer(self._positions[field], dtype=np.uint32)
        self._occurrences[field], self._positions[field] = array("I"), array("I")
        lengths = np.frombuffer(self._lengths[field], dtype=np.uint32)
        # Occurrences come document after document, each document's in text order: a stable
        # sort by key puts them in posting order (key, document), positions ascending within.
        # (Peak memory here counts: a body field holds ~10 million occurrences per segment.)
        order = order_by_key(keys, int(keys.max(initial=0)))
        docs = np.repeat(np.arange(self.docs, dtype=np.int32), lengths)[order]
        keys, positions = keys[order], positions[order]
        del order
        new_posting = np.ones(keys.size, dtype=bool)
        new_posting[1:] = (keys[1:] != keys[:-1]) | (docs[1:] != docs[:-1])
        posting_starts = np.flatnonzero(new_posting)
        counts = np.diff(np.append(posting_starts, keys.size))
        posting_keys = keys[posting_starts]
        term_starts = np.flatnonzero(np.concatenate(([True], posting_keys[1:] != posting_keys[:-1]))) if posting_keys.size else posting_keys
        df = np.diff(np.append(term_starts, posting_keys.size))
        # Terms are in key order here, the table's rows in byte order: ``rows_by_key`` says
        # which term each row is. Encode in row order, so that offset r is row r's.
        if rows_by_key.size != df.size:
            raise ValueError(f"field {field!r}: positions given for other terms than the postings")
        row_df = df[rows_by_key]
        postings_in_row_order = concatenated_ranges(term_starts[rows_by_key], row_df)
        del keys, docs, new_posting
        occurrence_counts = counts[postings_in_row_order]
        gather = concatenated_ranges(posting_starts[postings_in_row_order], occurrence_counts)
        del postings_in_row_order, posting_starts
        return encode_positions(row_df, occurrence_counts, positions[gather])


def write_positions(prefix, fields: list[tuple[np.ndarray, bytes]]) -> list[int]:
    """Write ``prefix.pos`` and ``prefix.pos.npy`` from each positional field's (offsets, bytes),
    in field order; returns where each field's offsets start in ``.pos.npy``."""
    starts, offsets, size = [], [], 0
    with open(f"{prefix}.pos", "wb") as f:
        for field_offsets, data in fields:
            starts.append(sum(o.size for o in offsets))
            offsets.append(field_offsets + size)
            f.write(data)
            size += len(data)
    every = np.concatenate(offsets) if offsets else np.zeros(0, dtype=np.int64)
    save_array(f"{prefix}.pos.npy", every.astype(np.uint32 if size < 2**32 else np.uint64))
    return starts


def _syllable_bits(keys: np.ndarray) -> tuple[int, bool]:
    """How many bits the largest syllable number in ``keys`` needs, and whether any key is a
    bigram (``first << 32 | second``). Written as its two syllable numbers side by side in that
    many bits each, a bigram key keeps its order in far fewer than 64 bits."""
    largest_first = int((keys >> 32).max())
    return max(largest_first, int((keys & 0xFFFFFFFF).max())).bit_length(), largest_first > 0


def _compact(keys: np.ndarray, syllable_bits: int) -> np.ndarray:
    """Bigram keys with their syllable numbers side by side in ``syllable_bits`` each (a new array)."""
    compact = keys >> 32
    compact <<= syllable_bits
    compact |= keys & 0xFFFFFFFF
    return compact


def _expand(compact: np.ndarray, syllable_bits: int) -> np.ndarray:
    """``_compact`` undone, in place."""
    low = compact & ((1 << syllable_bits) - 1)
    compact >>= syllable_bits
    compact <<= 32
    compact |= low
    return compact


def _distinct_per_document(keys: np.ndarray, docs: np.ndarray, n_docs: int) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """((distinct keys, their documents), counts), ordered by document, then key."""
    syllable_bits, pairs = _syllable_bits(keys)
    key_bits = 2 * syllable_bits if pairs else syllable_bits
    doc_bits = max(1, (n_docs - 1).bit_length())
    if key_bits + doc_bits <= 63:
        # Key and document in one number: np.unique counts them in one sort.
        combined, counts = np.unique(docs << key_bits | (_compact(keys, syllable_bits) if pairs else keys), return_counts=True)
        distinct = combined & ((1 << key_bits) - 1)
        return ((_expand(distinct, syllable_bits) if pairs else distinct), combined >> key_bits), counts
    order = np.lexsort((keys, docs))
    keys, docs = keys[order], docs[order]
    starts = np.flatnonzero(np.concatenate(([True], (keys[1:] != keys[:-1]) | (docs[1:] != docs[:-1]))))
    return (keys[starts], docs[starts]), np.diff(np.append(starts, keys.size))


def _sorted_by_key(keys: np.ndarray, docs: np.ndarray, freqs: np.ndarray, n_docs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Postings (key, document, frequency) ordered by key, then document.

    Where they fit, key, document and frequency are packed into one 64-bit number and sorted
    together: about twice as fast as a stable argsort of the keys and three gathers. Bigram
    keys are packed ``_compact``, which keeps their order.
    """
    if keys.size == 0:
        return keys, docs.astype(np.int32), freqs
    syllable_bits, pairs = _syllable_bits(keys)
    key_bits = 2 * syllable_bits if pairs else syllable_bits
    doc_bits = max(1, (n_docs - 1).bit_length())
    if key_bits + doc_bits + 8 > 64:  # documents were added in order: a stable sort keeps them so
        order = np.argsort(keys, kind="stable")
        return keys[order], docs[order].astype(np.int32), freqs[order]
    # Built in place: the postings of a large field are hundreds of megabytes per array.
    packed = (_compact(keys, syllable_bits) if pairs else keys.copy()).view(np.uint64)
    packed <<= np.uint64(doc_bits + 8)
    shifted_docs = docs.astype(np.uint64)
    shifted_docs <<= np.uint64(8)
    packed |= shifted_docs
    del shifted_docs
    packed |= freqs
    packed.sort(kind="stable")  # timsort: measured faster than quicksort on these runs
    freqs = (packed & np.uint64(0xFF)).astype(np.uint8)
    packed >>= np.uint64(8)
    docs = (packed & np.uint64((1 << doc_bits) - 1)).astype(np.int32)
    packed >>= np.uint64(doc_bits)
    keys = packed.view(np.int64)
    return (_expand(keys, syllable_bits) if pairs else keys), docs, freqs


def _seconds(date: datetime | None) -> int:
    if date is None:
        return int(NO_DATE)
    if date.tzinfo is None:
        date = date.replace(tzinfo=timezone.utc)
    return int(date.timestamp())


def _table_id(table: dict[str, int], key: str | None) -> int:
    if not key:
        return -1
    return table.setdefault(key, len(table))
