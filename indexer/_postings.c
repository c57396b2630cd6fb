/*
 * indexer._postings: reading a segment's term dictionary and postings, compiled.
 *
 * The format is indexer/codec.py's, which holds the NumPy or Python reference of each
 * function here (find_term_reference, decode_postings_reference, decode_positions_reference,
 * encode_positions_reference; np.argsort for order_by_key), the oracles of the tests. Arrays in, arrays out: the caller allocates the output arrays; no Python
 * object is touched inside a loop.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define ALL_ONES 0xFFFFFFFFu

/* n C-contiguous buffers in order (writable where asked); on a failure, the ones already
 * taken are released. */
static int read_buffers(int n, PyObject *const *objs, const int *writable, Py_buffer *views) {
    for (int i = 0; i < n; i++) {
        if (PyObject_GetBuffer(objs[i], &views[i], PyBUF_C_CONTIGUOUS | (writable[i] ? PyBUF_WRITABLE : 0)) < 0) {
            while (--i >= 0) PyBuffer_Release(&views[i]);
            return -1;
        }
    }
    return 0;
}

static void release_buffers(int n, Py_buffer *views) {
    for (int i = 0; i < n; i++) PyBuffer_Release(&views[i]);
}

static uint64_t table_value(const Py_buffer *table, Py_ssize_t index) {
    if (table->itemsize == 4) {
        return ((const uint32_t *)table->buf)[index];
    }
    return (uint64_t)((const int64_t *)table->buf)[index];
}

/*
 * find_term(lex, table, width, lo, hi, key) -> row, or -(insertion row) - 1
 *
 * Binary search of rows [lo, hi) of the term table (flat, ``width`` columns, column 0 the
 * term's offset in ``lex``; row hi's offset ends the last term) for the term ``key`` (UTF-8),
 * in byte order as the dictionary is sorted. Not found: where it would stand, as Java's
 * Arrays.binarySearch says it (from it, the rows the search read can be told again).
 */
static PyObject *find_term(PyObject *self, PyObject *args) {
    PyObject *objs[2];
    Py_ssize_t width, lo, hi;
    const char *key;
    Py_ssize_t key_len;
    if (!PyArg_ParseTuple(args, "OOnnny#", &objs[0], &objs[1], &width, &lo, &hi, &key, &key_len)) {
        return NULL;
    }
    const int writable[2] = {0, 0};
    Py_buffer views[2];
    if (read_buffers(2, objs, writable, views) < 0) {
        return NULL;
    }
    Py_buffer lex = views[0], table = views[1];
    Py_ssize_t found;
    Py_ssize_t rows = table.len / (table.itemsize ? table.itemsize : 1) / (width ? width : 1);
    if ((table.itemsize != 4 && table.itemsize != 8) || width < 1 || lo < 0 || hi > rows - 1 || lo > hi) {
        release_buffers(2, views);
        PyErr_SetString(PyExc_ValueError, "find_term: a term table of 4- or 8-byte values, and rows within it");
        return NULL;
    }
    const unsigned char *bytes = (const unsigned char *)lex.buf;
    Py_ssize_t a = lo, b = hi;
    int bad = 0;
    while (a < b) {
        Py_ssize_t mid = a + (b - a) / 2;
        uint64_t start = table_value(&table, mid * width), end = table_value(&table, (mid + 1) * width);
        if (end < start || end > (uint64_t)lex.len) {
            bad = 1;
            break;
        }
        Py_ssize_t n = (Py_ssize_t)(end - start);
        int c = memcmp(bytes + start, key, (size_t)(n < key_len ? n : key_len));
        if (c < 0 || (c == 0 && n < key_len)) {
            a = mid + 1;
        } else {
            b = mid;
        }
    }
    found = -a - 1;
    if (!bad && a < hi) {
        uint64_t start = table_value(&table, a * width), end = table_value(&table, (a + 1) * width);
        if (end >= start && end <= (uint64_t)lex.len && (Py_ssize_t)(end - start) == key_len &&
            memcmp(bytes + start, key, (size_t)key_len) == 0) {
            found = a;
        }
    }
    release_buffers(2, views);
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "find_term: a term's bytes lie outside the dictionary");
        return NULL;
    }
    return PyLong_FromSsize_t(found);
}

/*
 * decode(docs_out, freqs_out, gaps, gaps_at, first, exception_bytes, freqs, freq_at)
 *
 * One term's postings: ``len(docs_out)`` documents from ``first`` and the one-byte gaps at
 * ``gaps_at`` (255: the gap follows the gap bytes in ``exception_bytes`` bytes, little-endian),
 * and their frequencies from ``freqs`` at ``freq_at`` (ALL_ONES: every one is 1; odd: half
 * bytes from freq_at >> 1; even: bytes from freq_at >> 1), as codec.patched_gaps and
 * codec.packed_frequencies wrote them.
 */
static PyObject *decode(PyObject *self, PyObject *args) {
    PyObject *objs[4]; /* docs_out, freqs_out, gaps, freqs */
    unsigned long long gaps_at, freq_at;
    long long first;
    int exception_bytes;
    if (!PyArg_ParseTuple(args, "OOOKLiOK", &objs[0], &objs[1], &objs[2], &gaps_at, &first, &exception_bytes, &objs[3],
                          &freq_at)) {
        return NULL;
    }
    const int writable[4] = {1, 1, 0, 0};
    Py_buffer views[4];
    if (read_buffers(4, objs, writable, views) < 0) {
        return NULL;
    }
    Py_buffer docs_view = views[0], freqs_out_view = views[1], gaps_view = views[2], freqs_view = views[3];
    const char *error = NULL;
    Py_ssize_t df = docs_view.len / 4;
    int32_t *docs = (int32_t *)docs_view.buf;
    uint8_t *freqs_out = (uint8_t *)freqs_out_view.buf;
    const uint8_t *gaps = (const uint8_t *)gaps_view.buf;
    const uint8_t *freqs = (const uint8_t *)freqs_view.buf;
    if (docs_view.itemsize != 4 || freqs_out_view.len != df || (exception_bytes != 2 && exception_bytes != 4)) {
        error = "decode: docs_out int32 and freqs_out uint8 of one length, exception_bytes 2 or 4";
    } else if (df > 0 && (gaps_at > (unsigned long long)gaps_view.len || (unsigned long long)(df - 1) > gaps_view.len - gaps_at)) {
        error = "decode: the gaps lie outside the postings file";
    }
    if (error == NULL && df > 0) {
        /* the exceptions follow the df - 1 gap bytes, in the order of the gaps they stand for */
        const uint8_t *exceptions = gaps + gaps_at + (df - 1);
        unsigned long long available = gaps_view.len - gaps_at - (df - 1);
        Py_ssize_t used = 0;
        int64_t doc = first;
        docs[0] = (int32_t)doc;
        for (Py_ssize_t i = 1; i < df; i++) {
            uint32_t gap = gaps[gaps_at + i - 1];
            if (gap == 255) {
                if ((unsigned long long)(used + 1) * exception_bytes > available) {
                    error = "decode: an exception lies outside the postings file";
                    break;
                }
                const uint8_t *e = exceptions + used * exception_bytes;
                gap = exception_bytes == 2 ? (uint32_t)e[0] | (uint32_t)e[1] << 8
                                           : (uint32_t)e[0] | (uint32_t)e[1] << 8 | (uint32_t)e[2] << 16 | (uint32_t)e[3] << 24;
                used++;
            }
            doc += gap;
            docs[i] = (int32_t)doc;
        }
    }
    if (error == NULL && df > 0) {
        if (freq_at == ALL_ONES) {
            memset(freqs_out, 1, (size_t)df);
        } else if (freq_at & 1) {
            unsigned long long at = freq_at >> 1;
            if (at > (unsigned long long)freqs_view.len || (unsigned long long)(df + 1) / 2 > freqs_view.len - at) {
                error = "decode: the frequencies lie outside the frequencies file";
            } else {
                for (Py_ssize_t i = 0; i < df; i++) {
                    uint8_t packed = freqs[at + i / 2];
                    freqs_out[i] = (i & 1) ? packed >> 4 : packed & 15;
                }
            }
        } else {
            unsigned long long at = freq_at >> 1;
            if (at > (unsigned long long)freqs_view.len || (unsigned long long)df > freqs_view.len - at) {
                error = "decode: the frequencies lie outside the frequencies file";
            } else {
                memcpy(freqs_out, freqs + at, (size_t)df);
            }
        }
    }
    release_buffers(4, views);
    if (error != NULL) {
        PyErr_SetString(PyExc_ValueError, error);
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ---- positions (codec.encode_positions) ------------------------------------------------------
 * A term's run in the .pos file: (df - 1) / 128 skip entries (uint32, little-endian: where
 * postings 128, 256, ... start, counted from the end of the skip entries), then per posting
 * its count as a varint if its frequency is 255 (capped), else the frequency itself, then that
 * many varints: the first position, then the distance from each to the next.
 */
#define POSITIONS_BLOCK 128

/* The varint at *at (7 bits a byte, low first); 0 if it runs past the end or beyond 32 bits. */
static int read_varint(const uint8_t *data, Py_ssize_t len, Py_ssize_t *at, uint32_t *value) {
    uint32_t v = 0;
    for (int shift = 0; shift < 35; shift += 7) {
        if (*at >= len) return 0;
        uint8_t byte = data[(*at)++];
        v |= (uint32_t)(byte & 127) << shift;
        if (!(byte & 128)) {
            *value = v;
            return 1;
        }
    }
    return 0;
}

/* The number of positions of the posting at *at, its frequency being ``freq``. */
static int read_count(const uint8_t *data, Py_ssize_t len, Py_ssize_t *at, uint8_t freq, uint32_t *count) {
    if (freq < 255) {
        *count = freq;
        return 1;
    }
    return read_varint(data, len, at, count);
}

/* Decode (out != NULL) or skip one posting's positions. Writes at most ``room`` positions
 * and counts all of them in *count. */
static int read_posting(const uint8_t *data, Py_ssize_t len, Py_ssize_t *at, uint8_t freq, int32_t *out,
                        Py_ssize_t room, uint32_t *count) {
    if (!read_count(data, len, at, freq, count)) return 0;
    uint32_t position = 0;
    for (uint32_t k = 0; k < *count; k++) {
        uint32_t step;
        if (out == NULL) {
            /* skipping: find each varint's last byte */
            do {
                if (*at >= len) return 0;
            } while (data[(*at)++] & 128);
            continue;
        }
        if (!read_varint(data, len, at, &step)) return 0;
        position += step;
        if ((Py_ssize_t)k < room) out[k] = (int32_t)position;
    }
    return 1;
}

/*
 * positions_at(data, offset, freqs, wanted, counts_out, positions_out) -> written, or -needed
 *
 * The positions of some postings of one term whose run starts at ``offset``: ``freqs`` are
 * the term's (capped) frequencies, one per posting; ``wanted`` the posting numbers (int64,
 * ascending). The skip entries take the walk to the block of each wanted posting. Each wanted
 * posting's count goes to counts_out (int32), its positions one after another to
 * positions_out (int32); if that is too small, nothing is wrong: the result is minus the
 * length it needs.
 */
static PyObject *positions_at(PyObject *self, PyObject *args) {
    PyObject *objs[5]; /* data, freqs, wanted, counts_out, positions_out */
    unsigned long long offset;
    if (!PyArg_ParseTuple(args, "OKOOOO", &objs[0], &offset, &objs[1], &objs[2], &objs[3], &objs[4])) {
        return NULL;
    }
    const int writable[5] = {0, 0, 0, 1, 1};
    Py_buffer views[5];
    if (read_buffers(5, objs, writable, views) < 0) {
        return NULL;
    }
    const uint8_t *data = (const uint8_t *)views[0].buf;
    Py_ssize_t len = views[0].len;
    const uint8_t *freqs = (const uint8_t *)views[1].buf;
    Py_ssize_t df = views[1].len;
    const int64_t *wanted = (const int64_t *)views[2].buf;
    Py_ssize_t m = views[2].len / 8;
    int32_t *counts = (int32_t *)views[3].buf;
    int32_t *out = (int32_t *)views[4].buf;
    Py_ssize_t room = views[4].len / 4;
    const char *error = NULL;
    if (views[2].itemsize != 8 || views[3].itemsize != 4 || views[3].len / 4 != m || views[4].itemsize != 4) {
        error = "positions_at: wanted int64, counts_out int32 of its length, positions_out int32";
    }
    Py_ssize_t skips = df > 0 ? (df - 1) / POSITIONS_BLOCK : 0;
    if (error == NULL && (offset > (unsigned long long)len || (unsigned long long)skips * 4 > len - offset)) {
        error = "positions_at: the term's positions lie outside the positions file";
    }
    Py_ssize_t written = 0, start = (Py_ssize_t)offset + skips * 4, at = start, posting = 0;
    for (Py_ssize_t i = 0; error == NULL && i < m; i++) {
        int64_t w = wanted[i];
        if (w < posting || w >= df) {
            error = "positions_at: wanted postings out of order or beyond the term";
            break;
        }
        int64_t block = w / POSITIONS_BLOCK;
        if (block > posting / POSITIONS_BLOCK) {
            uint32_t skip;
            memcpy(&skip, data + offset + (block - 1) * 4, 4); /* little-endian hosts only (as NumPy's views) */
            at = start + (Py_ssize_t)skip;
            posting = block * POSITIONS_BLOCK;
        }
        uint32_t count;
        for (; posting < w; posting++) {
            if (!read_posting(data, len, &at, freqs[posting], NULL, 0, &count)) {
                error = "positions_at: a posting's positions run past the positions file";
                break;
            }
        }
        if (error != NULL) break;
        Py_ssize_t left = room - written;
        if (!read_posting(data, len, &at, freqs[posting], out + (left > 0 ? written : 0), left > 0 ? left : 0, &count)) {
            error = "positions_at: a posting's positions run past the positions file";
            break;
        }
        posting++;
        counts[i] = (int32_t)count;
        written += count;
    }
    release_buffers(5, views);
    if (error != NULL) {
        PyErr_SetString(PyExc_ValueError, error);
        return NULL;
    }
    return PyLong_FromSsize_t(written <= room ? written : -written);
}

/*
 * positions_of_terms(data, offsets, dfs, freqs, counts_out, positions_out) -> written, or -needed
 *
 * Every posting's positions of several terms (a merge's slice of the dictionary): term t's
 * run starts at offsets[t] (uint64) and has dfs[t] (int64) postings, whose frequencies follow
 * each other in ``freqs``. Counts (int64) and positions (int32) as positions_at.
 */
static PyObject *positions_of_terms(PyObject *self, PyObject *args) {
    PyObject *objs[6]; /* data, offsets, dfs, freqs, counts_out, positions_out */
    if (!PyArg_ParseTuple(args, "OOOOOO", &objs[0], &objs[1], &objs[2], &objs[3], &objs[4], &objs[5])) {
        return NULL;
    }
    const int writable[6] = {0, 0, 0, 0, 1, 1};
    Py_buffer views[6];
    if (read_buffers(6, objs, writable, views) < 0) {
        return NULL;
    }
    const uint8_t *data = (const uint8_t *)views[0].buf;
    Py_ssize_t len = views[0].len;
    const uint64_t *offsets = (const uint64_t *)views[1].buf;
    const int64_t *dfs = (const int64_t *)views[2].buf;
    Py_ssize_t n = views[1].len / 8;
    const uint8_t *freqs = (const uint8_t *)views[3].buf;
    int64_t *counts = (int64_t *)views[4].buf;
    int32_t *out = (int32_t *)views[5].buf;
    Py_ssize_t room = views[5].len / 4;
    const char *error = NULL;
    if (views[1].itemsize != 8 || views[2].itemsize != 8 || views[2].len != views[1].len || views[4].itemsize != 8 ||
        views[4].len / 8 != views[3].len || views[5].itemsize != 4) {
        error = "positions_of_terms: offsets uint64 and dfs int64 alike, counts_out int64 per frequency, positions_out int32";
    }
    Py_ssize_t written = 0, posting = 0;
    for (Py_ssize_t t = 0; error == NULL && t < n; t++) {
        int64_t df = dfs[t];
        Py_ssize_t skips = df > 0 ? (Py_ssize_t)((df - 1) / POSITIONS_BLOCK) : 0;
        if (df < 0 || posting + df > views[3].len || offsets[t] > (uint64_t)len || (uint64_t)skips * 4 > len - offsets[t]) {
            error = "positions_of_terms: a term's positions lie outside the positions file";
            break;
        }
        Py_ssize_t at = (Py_ssize_t)offsets[t] + skips * 4;
        for (int64_t k = 0; k < df; k++, posting++) {
            uint32_t count;
            Py_ssize_t left = room - written;
            if (!read_posting(data, len, &at, freqs[posting], out + (left > 0 ? written : 0), left > 0 ? left : 0, &count)) {
                error = "positions_of_terms: a posting's positions run past the positions file";
                break;
            }
            counts[posting] = count;
            written += count;
        }
    }
    release_buffers(6, views);
    if (error != NULL) {
        PyErr_SetString(PyExc_ValueError, error);
        return NULL;
    }
    return PyLong_FromSsize_t(written <= room ? written : -written);
}

/* One varint at out + at (room permitting); returns its length. */
static Py_ssize_t write_varint(uint8_t *out, Py_ssize_t room, Py_ssize_t at, uint64_t value) {
    Py_ssize_t n = 0;
    do {
        uint8_t byte = value & 127;
        value >>= 7;
        if (value) byte |= 128;
        if (at + n < room) out[at + n] = byte;
        n++;
    } while (value);
    return n;
}

/*
 * encode_positions(df, counts, positions, offsets_out, out) -> bytes written, or -needed
 *
 * codec.encode_positions_reference, compiled: terms one after another (df[t] postings each,
 * int64), postings' counts (int64) and their positions one after another (int64, ascending
 * within a posting). Each term's byte offset goes to offsets_out (int64); the bytes to out
 * (uint8), or, if it is too small, minus the length it needs.
 */
static PyObject *encode_positions(PyObject *self, PyObject *args) {
    PyObject *objs[5]; /* df, counts, positions, offsets_out, out */
    if (!PyArg_ParseTuple(args, "OOOOO", &objs[0], &objs[1], &objs[2], &objs[3], &objs[4])) {
        return NULL;
    }
    const int writable[5] = {0, 0, 0, 1, 1};
    Py_buffer views[5];
    if (read_buffers(5, objs, writable, views) < 0) {
        return NULL;
    }
    const int64_t *df = (const int64_t *)views[0].buf, *counts = (const int64_t *)views[1].buf,
                  *positions = (const int64_t *)views[2].buf;
    Py_ssize_t terms = views[0].len / 8, postings = views[1].len / 8, total = views[2].len / 8;
    int64_t *offsets = (int64_t *)views[3].buf;
    uint8_t *out = (uint8_t *)views[4].buf;
    Py_ssize_t room = views[4].len;
    const char *error = NULL;
    if (views[0].itemsize != 8 || views[1].itemsize != 8 || views[2].itemsize != 8 || views[3].itemsize != 8 ||
        views[3].len != views[0].len) {
        error = "encode_positions: df, counts, positions and offsets_out int64, offsets_out one per term";
    }
    Py_ssize_t at = 0, posting = 0, position = 0;
    for (Py_ssize_t t = 0; error == NULL && t < terms; t++) {
        if (df[t] < 0 || posting + df[t] > postings) {
            error = "encode_positions: more postings in df than counts";
            break;
        }
        Py_ssize_t skips = df[t] > 0 ? (Py_ssize_t)((df[t] - 1) / POSITIONS_BLOCK) : 0;
        offsets[t] = at;
        Py_ssize_t entries = at, start = at + 4 * skips;
        at = start;
        for (int64_t k = 0; k < df[t]; k++, posting++) {
            int64_t count = counts[posting];
            if (count < 1 || position + count > total) {
                error = "encode_positions: a count below 1, or more counts than positions";
                break;
            }
            if (k > 0 && k % POSITIONS_BLOCK == 0) {
                uint32_t skip = (uint32_t)(at - start); /* little-endian hosts only (as NumPy's views) */
                if (entries + 4 <= room) memcpy(out + entries, &skip, 4);
                entries += 4;
            }
            if (count >= 255) at += write_varint(out, room, at, (uint64_t)count);
            int64_t previous = 0;
            for (int64_t j = 0; j < count; j++, position++) {
                int64_t value = positions[position] - previous;
                if (value < 0 || (j > 0 && value == 0)) {
                    error = "encode_positions: positions not ascending within a posting";
                    break;
                }
                at += write_varint(out, room, at, (uint64_t)value);
                previous = positions[position];
            }
            if (error != NULL) break;
        }
    }
    release_buffers(5, views);
    if (error != NULL) {
        PyErr_SetString(PyExc_ValueError, error);
        return NULL;
    }
    return PyLong_FromSsize_t(at <= room ? at : -at);
}

/*
 * order_by_key(keys, starts, order_out)
 *
 * A stable counting sort: order_out (int64) lists the indexes of ``keys`` (uint32, each below
 * len(starts) - 1) by key, keeping their order within a key; ``starts`` (int64, zeroed, one
 * more than the largest key + 1) is the caller's scratch. np.argsort(keys, kind="stable") is
 * its reference: the same order in O(n) instead of a comparison sort.
 */
static PyObject *order_by_key(PyObject *self, PyObject *args) {
    PyObject *objs[3]; /* keys, starts, order_out */
    if (!PyArg_ParseTuple(args, "OOO", &objs[0], &objs[1], &objs[2])) {
        return NULL;
    }
    const int writable[3] = {0, 1, 1};
    Py_buffer views[3];
    if (read_buffers(3, objs, writable, views) < 0) {
        return NULL;
    }
    const uint32_t *keys = (const uint32_t *)views[0].buf;
    int64_t *starts = (int64_t *)views[1].buf, *order = (int64_t *)views[2].buf;
    Py_ssize_t n = views[0].len / 4, slots = views[1].len / 8;
    const char *error = NULL;
    if (views[0].itemsize != 4 || views[1].itemsize != 8 || views[2].itemsize != 8 || views[2].len / 8 != n || slots < 1) {
        error = "order_by_key: keys uint32, starts int64, order_out int64 as long as keys";
    }
    for (Py_ssize_t i = 0; error == NULL && i < n; i++) {
        if ((Py_ssize_t)keys[i] + 1 >= slots) {
            error = "order_by_key: a key beyond starts";
            break;
        }
        starts[keys[i] + 1]++;
    }
    if (error == NULL) {
        for (Py_ssize_t k = 1; k < slots; k++) starts[k] += starts[k - 1];
        for (Py_ssize_t i = 0; i < n; i++) order[starts[keys[i]]++] = i;
    }
    release_buffers(3, views);
    if (error != NULL) {
        PyErr_SetString(PyExc_ValueError, error);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"find_term", find_term, METH_VARARGS, "find_term(lex, table, width, lo, hi, key) -> row of the term, or -1."},
    {"decode", decode, METH_VARARGS,
     "decode(docs_out, freqs_out, gaps, gaps_at, first, exception_bytes, freqs, freq_at): one term's postings."},
    {"positions_at", positions_at, METH_VARARGS,
     "positions_at(data, offset, freqs, wanted, counts_out, positions_out) -> written, or -needed."},
    {"encode_positions", encode_positions, METH_VARARGS,
     "encode_positions(df, counts, positions, offsets_out, out) -> bytes written, or -needed."},
    {"order_by_key", order_by_key, METH_VARARGS, "order_by_key(keys, starts, order_out): a stable counting sort by key."},
    {"positions_of_terms", positions_of_terms, METH_VARARGS,
     "positions_of_terms(data, offsets, dfs, freqs, counts_out, positions_out) -> written, or -needed."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "indexer._postings", NULL, -1, methods};

PyMODINIT_FUNC PyInit__postings(void) { return PyModule_Create(&module); }
