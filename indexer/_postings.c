/*
 * indexer._postings: reading a segment's term dictionary and postings, compiled.
 *
 * The format is indexer/codec.py's; indexer/segment.py holds the NumPy reference of each
 * function here (SegmentReader._term_row_reference, _decode_reference), which the tests use
 * as the oracle. Arrays in, arrays out: the caller allocates the output arrays; no Python
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
 * find_term(lex, table, width, lo, hi, key) -> row or -1
 *
 * Binary search of rows [lo, hi) of the term table (flat, ``width`` columns, column 0 the
 * term's offset in ``lex``; row hi's offset ends the last term) for the term ``key`` (UTF-8),
 * in byte order as the dictionary is sorted.
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
    Py_ssize_t found = -1;
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

static PyMethodDef methods[] = {
    {"find_term", find_term, METH_VARARGS, "find_term(lex, table, width, lo, hi, key) -> row of the term, or -1."},
    {"decode", decode, METH_VARARGS,
     "decode(docs_out, freqs_out, gaps, gaps_at, first, exception_bytes, freqs, freq_at): one term's postings."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "indexer._postings", NULL, -1, methods};

PyMODINIT_FUNC PyInit__postings(void) { return PyModule_Create(&module); }
