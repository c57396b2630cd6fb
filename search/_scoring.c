/*
 * search._scoring: the inner loops of query scoring, compiled.
 *
 * Arrays in, arrays out: every function takes buffers (NumPy arrays) and loops over them with
 * no Python object in the loop. Each has a NumPy reference in search/scoring.py, which the
 * tests use as the oracle: the results must be the same float32 values, bit for bit. So the
 * arithmetic is float32 in the order the reference does it, and the build turns off
 * floating-point contraction (no fused multiply-add) -- see setup.py.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_ALTERNATIVES 64

typedef struct {
    Py_buffer docs;    /* int32, ascending, distinct */
    Py_buffer scores;  /* float32, same length */
} Postings;

static int get_buffer(PyObject *obj, Py_buffer *view, const char *format, int writable, const char *what) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) {
        return -1;
    }
    if (view->itemsize != 4 || view->ndim != 1 || strcmp(view->format, format) != 0) {
        PyErr_Format(PyExc_TypeError, "%s must be a one-dimensional C-contiguous array of %s (format %s), not %s",
                     what, format[0] == 'f' ? "float32" : "int32", format, view->format);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/*
 * add_best(out, docs, scores, tiebreak)
 *
 * A dismax of term postings added into a dense score vector: for every document in any of the
 * alternatives, out[doc] += best + tiebreak * (total - best), where best is its highest score
 * among the alternatives and total their sum, in the order of the reference (each document's
 * scores sorted falling, reduced as NumPy reduces). The alternatives' postings
 * are merged in document order, so the cost is their total length, whatever the archive size.
 */
static PyObject *add_best(PyObject *self, PyObject *args) {
    PyObject *out_obj, *docs_seq, *scores_seq;
    float tiebreak;
    if (!PyArg_ParseTuple(args, "OOOf", &out_obj, &docs_seq, &scores_seq, &tiebreak)) {
        return NULL;
    }
    PyObject *docs_fast = PySequence_Fast(docs_seq, "docs must be a sequence of arrays");
    if (docs_fast == NULL) {
        return NULL;
    }
    PyObject *scores_fast = PySequence_Fast(scores_seq, "scores must be a sequence of arrays");
    if (scores_fast == NULL) {
        Py_DECREF(docs_fast);
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(docs_fast);
    Py_buffer out_view;
    Postings lists[MAX_ALTERNATIVES];
    Py_ssize_t got = 0;
    int ok = 0;
    if (n != PySequence_Fast_GET_SIZE(scores_fast)) {
        PyErr_SetString(PyExc_ValueError, "docs and scores must have as many arrays");
        goto done_seq;
    }
    if (n > MAX_ALTERNATIVES) {
        PyErr_Format(PyExc_ValueError, "at most %d alternatives, not %zd", MAX_ALTERNATIVES, n);
        goto done_seq;
    }
    if (get_buffer(out_obj, &out_view, "f", 1, "out") < 0) {
        goto done_seq;
    }
    for (; got < n; got++) {
        if (get_buffer(PySequence_Fast_GET_ITEM(docs_fast, got), &lists[got].docs, "i", 0, "docs") < 0) {
            goto done;
        }
        if (get_buffer(PySequence_Fast_GET_ITEM(scores_fast, got), &lists[got].scores, "f", 0, "scores") < 0) {
            PyBuffer_Release(&lists[got].docs);
            goto done;
        }
        if (lists[got].docs.len != lists[got].scores.len) {
            PyErr_SetString(PyExc_ValueError, "each docs array must be as long as its scores array");
            PyBuffer_Release(&lists[got].docs);
            PyBuffer_Release(&lists[got].scores);
            goto done;
        }
    }
    {
        float *out = (float *)out_view.buf;
        const Py_ssize_t size = out_view.len / 4;
        Py_ssize_t at[MAX_ALTERNATIVES], length[MAX_ALTERNATIVES];
        const int32_t *docs[MAX_ALTERNATIVES];
        const float *scores[MAX_ALTERNATIVES];
        for (Py_ssize_t i = 0; i < n; i++) {
            at[i] = 0;
            length[i] = lists[i].docs.len / 4;
            docs[i] = (const int32_t *)lists[i].docs.buf;
            scores[i] = (const float *)lists[i].scores.buf;
            for (Py_ssize_t j = 0; j < length[i]; j++) {
                if (docs[i][j] < 0 || docs[i][j] >= size || (j > 0 && docs[i][j] <= docs[i][j - 1])) {
                    PyErr_Format(PyExc_ValueError, "docs[%zd] must be ascending, distinct and below %zd", i, size);
                    goto done;
                }
            }
        }
        Py_BEGIN_ALLOW_THREADS
        for (;;) {
            int32_t doc = INT32_MAX;
            for (Py_ssize_t i = 0; i < n; i++) {
                if (at[i] < length[i] && docs[i][at[i]] < doc) {
                    doc = docs[i][at[i]];
                }
            }
            if (doc == INT32_MAX) {
                break;
            }
            float found[MAX_ALTERNATIVES];
            int count = 0;
            for (Py_ssize_t i = 0; i < n; i++) {
                if (at[i] < length[i] && docs[i][at[i]] == doc) {
                    /* insertion sort, falling: a document has a few alternatives at most */
                    float s = scores[i][at[i]++];
                    int k = count++;
                    while (k > 0 && found[k - 1] < s) {
                        found[k] = found[k - 1];
                        k--;
                    }
                    found[k] = s;
                }
            }
            /* As NumPy reduces a float32 group: the first value plus the others' sum, which it
             * adds up from 0 (pairwise summation, sequential below eight values). */
            float others = 0.0f;
            for (int k = 1; k < count; k++) {
                others += found[k];
            }
            float total = found[0] + others;
            float best = found[0];
            out[doc] += best + tiebreak * (total - best);
        }
        Py_END_ALLOW_THREADS
    }
    ok = 1;
done:
    for (Py_ssize_t i = 0; i < got; i++) {
        PyBuffer_Release(&lists[i].docs);
        PyBuffer_Release(&lists[i].scores);
    }
    PyBuffer_Release(&out_view);
done_seq:
    Py_DECREF(docs_fast);
    Py_DECREF(scores_fast);
    if (!ok) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/*
 * bm25(out, docs, freqs, lengths, average, k1, b, idf)
 *
 * BM25 of one term's postings: out[i] = idf * f * (k1 + 1) / (f + k1 * (1 - b + b * L / average)),
 * f = freqs[i], L = lengths[docs[i]], in float32, each operation in the order and precision
 * NumPy gives Engine._bm25_reference (its Python floats are float32 in array arithmetic).
 */
static PyObject *bm25(PyObject *self, PyObject *args) {
    PyObject *out_obj, *docs_obj, *freqs_obj, *lengths_obj;
    double average, k1, b, idf;
    if (!PyArg_ParseTuple(args, "OOOOdddd", &out_obj, &docs_obj, &freqs_obj, &lengths_obj, &average, &k1, &b, &idf)) {
        return NULL;
    }
    Py_buffer out_view, docs_view, freqs_view, lengths_view;
    if (get_buffer(out_obj, &out_view, "f", 1, "out") < 0) {
        return NULL;
    }
    if (get_buffer(docs_obj, &docs_view, "i", 0, "docs") < 0) {
        PyBuffer_Release(&out_view);
        return NULL;
    }
    if (get_buffer(freqs_obj, &freqs_view, "f", 0, "freqs") < 0) {
        PyBuffer_Release(&out_view);
        PyBuffer_Release(&docs_view);
        return NULL;
    }
    if (get_buffer(lengths_obj, &lengths_view, "f", 0, "lengths") < 0) {
        PyBuffer_Release(&out_view);
        PyBuffer_Release(&docs_view);
        PyBuffer_Release(&freqs_view);
        return NULL;
    }
    const char *error = NULL;
    Py_ssize_t n = docs_view.len / 4, size = lengths_view.len / 4;
    if (out_view.len != docs_view.len || freqs_view.len != docs_view.len) {
        error = "bm25: out, docs and freqs must have one length";
    } else {
        float *out = (float *)out_view.buf;
        const int32_t *docs = (const int32_t *)docs_view.buf;
        const float *freqs = (const float *)freqs_view.buf, *lengths = (const float *)lengths_view.buf;
        const float f_b = (float)b, f_average = (float)average, f_one_minus_b = (float)(1.0 - b), f_k1 = (float)k1,
                    f_idf = (float)idf, f_k1_plus_one = (float)(k1 + 1.0);
        for (Py_ssize_t i = 0; i < n; i++) {
            if (docs[i] < 0 || docs[i] >= size) {
                error = "bm25: a document number past the lengths";
                break;
            }
            const float f = freqs[i];
            const float norm = f_k1 * (f_one_minus_b + (f_b * lengths[docs[i]]) / f_average);
            out[i] = ((f_idf * f) * f_k1_plus_one) / (f + norm);
        }
    }
    PyBuffer_Release(&out_view);
    PyBuffer_Release(&docs_view);
    PyBuffer_Release(&freqs_view);
    PyBuffer_Release(&lengths_view);
    if (error != NULL) {
        PyErr_SetString(PyExc_ValueError, error);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"bm25", bm25, METH_VARARGS,
     "bm25(out, docs, freqs, lengths, average, k1, b, idf): one term's BM25 scores (float32) into out."},
    {"add_best", add_best, METH_VARARGS,
     "add_best(out, docs, scores, tiebreak): out[d] += best + tiebreak * (total - best) over the "
     "alternatives' postings (int32 docs ascending, float32 scores)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "search._scoring", NULL, -1, methods};

PyMODINIT_FUNC PyInit__scoring(void) { return PyModule_Create(&module); }
