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

static int read_buffer(PyObject *obj, Py_buffer *view, int writable, const char *what) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0)) < 0) {
        return -1;
    }
    (void)what;
    return 0;
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
    PyObject *lex_obj, *table_obj;
    Py_ssize_t width, lo, hi;
    const char *key;
    Py_ssize_t key_len;
    if (!PyArg_ParseTuple(args, "OOnnny#", &lex_obj, &table_obj, &width, &lo, &hi, &key, &key_len)) {
        return NULL;
    }
    Py_buffer lex, table;
    if (read_buffer(lex_obj, &lex, 0, "lex") < 0) {
        return NULL;
    }
    if (read_buffer(table_obj, &table, 0, "table") < 0) {
        PyBuffer_Release(&lex);
        return NULL;
    }
    Py_ssize_t found = -1;
    Py_ssize_t rows = table.len / (table.itemsize ? table.itemsize : 1) / (width ? width : 1);
    if ((table.itemsize != 4 && table.itemsize != 8) || width < 1 || lo < 0 || hi > rows - 1 || lo > hi) {
        PyBuffer_Release(&lex);
        PyBuffer_Release(&table);
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
    PyBuffer_Release(&lex);
    PyBuffer_Release(&table);
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
    PyObject *docs_obj, *freqs_out_obj, *gaps_obj, *freqs_obj;
    unsigned long long gaps_at, freq_at;
    long long first;
    int exception_bytes;
    if (!PyArg_ParseTuple(args, "OOOKLiOK", &docs_obj, &freqs_out_obj, &gaps_obj, &gaps_at, &first, &exception_bytes,
                          &freqs_obj, &freq_at)) {
        return NULL;
    }
    Py_buffer docs_view, freqs_out_view, gaps_view, freqs_view;
    if (read_buffer(docs_obj, &docs_view, 1, "docs") < 0) {
        return NULL;
    }
    if (read_buffer(freqs_out_obj, &freqs_out_view, 1, "freqs_out") < 0) {
        PyBuffer_Release(&docs_view);
        return NULL;
    }
    if (read_buffer(gaps_obj, &gaps_view, 0, "gaps") < 0) {
        PyBuffer_Release(&docs_view);
        PyBuffer_Release(&freqs_out_view);
        return NULL;
    }
    if (read_buffer(freqs_obj, &freqs_view, 0, "freqs") < 0) {
        PyBuffer_Release(&docs_view);
        PyBuffer_Release(&freqs_out_view);
        PyBuffer_Release(&gaps_view);
        return NULL;
    }
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
    PyBuffer_Release(&docs_view);
    PyBuffer_Release(&freqs_out_view);
    PyBuffer_Release(&gaps_view);
    PyBuffer_Release(&freqs_view);
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
