/*
 * search._text: the scans of a stored text that snippets make, compiled.
 *
 * Arrays in, arrays out: texts come in as their code points (UTF-32, uint32), results go out
 * into arrays the caller allocated; no Python object is touched inside a loop. Each function
 * has a reference in Python that the tests use as the oracle (search/snippets.py):
 *
 *   syllables -- the syllables of a text made only of Latin letters, digits, white space and
 *                common punctuation, as the tokenizer (ICU's word breaking) finds them:
 *                indexer.tokenizer.syllable_spans;
 *   runs      -- the maximal runs of letters and digits (what \w+ finds in such a text);
 *   matching  -- which of some words (spans of a folded text) have one of the query's hashes;
 *   best_window -- the window of a snippet's length with the most distinct matches;
 *   fold      -- a text's code points through the folding table (one for one).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static int get_array(PyObject *obj, Py_buffer *view, Py_ssize_t itemsize, int writable, const char *what) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0)) < 0) {
        return -1;
    }
    if (view->len % itemsize != 0) {
        PyErr_Format(PyExc_TypeError, "%s must be an array of %zd-byte items", what, itemsize);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* Acquire the n buffers in order (writable where asked); on a failure, release those held. */
static int get_arrays(int n, PyObject *const *objs, const Py_ssize_t *sizes, const int *writable, const char *const *names,
                      Py_buffer *views) {
    for (int i = 0; i < n; i++) {
        if (get_array(objs[i], &views[i], sizes[i], writable[i], names[i]) < 0) {
            while (--i >= 0) PyBuffer_Release(&views[i]);
            return -1;
        }
    }
    return 0;
}

static void release_arrays(int n, Py_buffer *views) {
    for (int i = 0; i < n; i++) PyBuffer_Release(&views[i]);
}

/* The letters of indexer.tokenizer._LATIN: A-Z a-z and Latin-1, Extended-A/B and Additional
 * without the multiplication and division signs. */
static int is_letter(uint32_t c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= 0xC0 && c <= 0xD6) || (c >= 0xD8 && c <= 0xF6) ||
           (c >= 0xF8 && c <= 0x24F) || (c >= 0x1E00 && c <= 0x1EFF);
}

static int is_digit(uint32_t c) { return c >= '0' && c <= '9'; }

static int is_alnum(uint32_t c) { return is_letter(c) || is_digit(c); }

/* str.isspace() */
static int is_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* indexer.tokenizer._joins: only white space, or one . - / (a code's separator), between two
 * syllables. */
static int joins(const uint32_t *text, Py_ssize_t from, Py_ssize_t to) {
    if (to <= from) return 0;
    if (to - from == 1 && (text[from] == '.' || text[from] == '-' || text[from] == '/')) return 1;
    for (Py_ssize_t i = from; i < to; i++) {
        if (!is_space(text[i])) return 0;
    }
    return 1;
}

/* Within a word, may `mid` join the runs on either side (UAX #29's MidLetter / MidNum)? */
static int joins_runs(uint32_t before, uint32_t mid, uint32_t after) {
    int quote = mid == '\'' || mid == 0x2018 || mid == 0x2019;
    if (is_letter(before) && is_letter(after)) return mid == '.' || quote;
    if (is_digit(before) && is_digit(after)) return mid == '.' || mid == ',' || mid == ';' || quote;
    return 0;
}

/*
 * syllables(text, out_starts, out_ends, out_joined) -> count
 *
 * The tokenizer's syllables of a plain text (indexer.tokenizer: runs of letters and digits,
 * joined across ' . ‘ ’ between two letters or . , ; ' ‘ ’ between two digits; a word with a
 * dot that is not a number, "TP.HCM", split at its dots), with whether only white space or one
 * separator stands between each and the one before. The outputs (int32, int32, uint8) must
 * have room for len(text) // 2 + 1 syllables.
 */
static PyObject *syllables(PyObject *self, PyObject *args) {
    PyObject *objs[4];
    if (!PyArg_ParseTuple(args, "OOOO", &objs[0], &objs[1], &objs[2], &objs[3])) return NULL;
    const Py_ssize_t sizes[4] = {4, 4, 4, 1};
    const int writable[4] = {0, 1, 1, 1};
    const char *const names[4] = {"text", "out_starts", "out_ends", "out_joined"};
    Py_buffer views[4];
    if (get_arrays(4, objs, sizes, writable, names, views) < 0) return NULL;
    PyObject *result = NULL;
    const uint32_t *text = views[0].buf;
    const Py_ssize_t n = views[0].len / 4, room = n / 2 + 1;
    if (views[1].len / 4 < room || views[2].len / 4 < room || views[3].len < room) {
        PyErr_Format(PyExc_ValueError, "syllables: the outputs need room for %zd syllables", room);
        goto done;
    }
    int32_t *starts = views[1].buf, *ends = views[2].buf;
    uint8_t *joined = views[3].buf;
    Py_ssize_t count = 0, i = 0;
    while (i < n) {
        if (!is_alnum(text[i])) {
            i++;
            continue;
        }
        const Py_ssize_t start = i;
        int dotted = 0, number = 1;
        for (;;) {
            while (i < n && is_alnum(text[i])) {
                number &= is_digit(text[i]);
                i++;
            }
            if (i + 1 < n && joins_runs(text[i - 1], text[i], text[i + 1])) {
                dotted |= text[i] == '.';
                number &= text[i] == '.' || text[i] == ',';
                i++;
                continue;
            }
            break;
        }
        /* "TP.HCM" is two syllables joined by its dot; a number ("4.400") stays whole. */
        Py_ssize_t part = start;
        for (Py_ssize_t j = start; j <= i; j++) {
            if (j < i && !(dotted && !number && text[j] == '.')) continue;
            if (j > part) {
                starts[count] = (int32_t)part;
                ends[count] = (int32_t)j;
                joined[count] = count > 0 && joins(text, ends[count - 1], part);
                count++;
            }
            part = j + 1;
        }
    }
    result = PyLong_FromSsize_t(count);
done:
    release_arrays(4, views);
    return result;
}

/*
 * runs(text, out_starts, out_ends) -> count
 *
 * The maximal runs of letters and digits of a plain text (\w+). Outputs: room for
 * len(text) // 2 + 1 runs.
 */
static PyObject *runs(PyObject *self, PyObject *args) {
    PyObject *objs[3];
    if (!PyArg_ParseTuple(args, "OOO", &objs[0], &objs[1], &objs[2])) return NULL;
    const Py_ssize_t sizes[3] = {4, 4, 4};
    const int writable[3] = {0, 1, 1};
    const char *const names[3] = {"text", "out_starts", "out_ends"};
    Py_buffer views[3];
    if (get_arrays(3, objs, sizes, writable, names, views) < 0) return NULL;
    const uint32_t *text = views[0].buf;
    const Py_ssize_t n = views[0].len / 4, room = n / 2 + 1;
    PyObject *result = NULL;
    if (views[1].len / 4 < room || views[2].len / 4 < room) {
        PyErr_Format(PyExc_ValueError, "runs: the outputs need room for %zd runs", room);
    } else {
        int32_t *starts = views[1].buf, *ends = views[2].buf;
        Py_ssize_t count = 0, i = 0;
        while (i < n) {
            if (!is_alnum(text[i])) {
                i++;
                continue;
            }
            starts[count] = (int32_t)i;
            while (i < n && is_alnum(text[i])) i++;
            ends[count++] = (int32_t)i;
        }
        result = PyLong_FromSsize_t(count);
    }
    release_arrays(3, views);
    return result;
}

/* FNV-1a, 64 bits, over the code points of text[start:end] (search.snippets.word_hash). */
static uint64_t word_hash(const uint32_t *text, Py_ssize_t start, Py_ssize_t end) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (Py_ssize_t i = start; i < end; i++) {
        h ^= text[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/*
 * matching(text, starts, ends, hashes, out) -> count
 *
 * The numbers of the words text[starts[k]:ends[k]] whose word_hash is among `hashes` (uint64,
 * sorted), into out (int32, as long as starts), in order. The caller compares the words
 * themselves: a hash only proposes.
 */
static PyObject *matching(PyObject *self, PyObject *args) {
    PyObject *objs[5];
    if (!PyArg_ParseTuple(args, "OOOOO", &objs[0], &objs[1], &objs[2], &objs[3], &objs[4])) return NULL;
    const Py_ssize_t sizes[5] = {4, 4, 4, 8, 4};
    const int writable[5] = {0, 0, 0, 0, 1};
    const char *const names[5] = {"text", "starts", "ends", "hashes", "out"};
    Py_buffer views[5];
    if (get_arrays(5, objs, sizes, writable, names, views) < 0) return NULL;
    PyObject *result = NULL;
    const uint32_t *text = views[0].buf;
    const int32_t *starts = views[1].buf, *ends = views[2].buf;
    const uint64_t *hashes = views[3].buf;
    int32_t *out = views[4].buf;
    const Py_ssize_t n = views[0].len / 4, words = views[1].len / 4, n_hashes = views[3].len / 8;
    if (views[2].len != views[1].len || views[4].len < views[1].len) {
        PyErr_SetString(PyExc_ValueError, "matching: starts, ends and out must be as long");
        goto done;
    }
    Py_ssize_t count = 0;
    for (Py_ssize_t k = 0; k < words; k++) {
        if (starts[k] < 0 || ends[k] < starts[k] || ends[k] > n) {
            PyErr_SetString(PyExc_ValueError, "matching: a word outside the text");
            goto done;
        }
        uint64_t h = word_hash(text, starts[k], ends[k]);
        Py_ssize_t lo = 0, hi = n_hashes;
        while (lo < hi) {
            Py_ssize_t mid = lo + (hi - lo) / 2;
            if (hashes[mid] < h) lo = mid + 1;
            else hi = mid;
        }
        if (lo < n_hashes && hashes[lo] == h) out[count++] = (int32_t)k;
    }
    result = PyLong_FromSsize_t(count);
done:
    release_arrays(5, views);
    return result;
}

/*
 * best_window(starts, ends, forms, joined, n_forms, max_chars) -> (first, score)
 *
 * Among the windows of max_chars characters that start at a match (starts, ends: int32,
 * ascending; forms: int32 form numbers below n_forms; joined: uint8, "stands right after the
 * previous match"), the first best one: the number of its first match, and its score, the
 * distinct forms in it + 0.5 for each match joined to the previous one in it. Two pointers and
 * running counts (search.snippets._best_window is the same in Python).
 */
static PyObject *best_window(PyObject *self, PyObject *args) {
    PyObject *objs[4];
    Py_ssize_t n_forms, max_chars;
    if (!PyArg_ParseTuple(args, "OOOOnn", &objs[0], &objs[1], &objs[2], &objs[3], &n_forms, &max_chars)) return NULL;
    const Py_ssize_t sizes[4] = {4, 4, 4, 1};
    const int writable[4] = {0, 0, 0, 0};
    const char *const names[4] = {"starts", "ends", "forms", "joined"};
    Py_buffer views[4];
    if (get_arrays(4, objs, sizes, writable, names, views) < 0) return NULL;
    PyObject *result = NULL;
    int32_t *counts = NULL;
    const int32_t *starts = views[0].buf, *ends = views[1].buf, *forms = views[2].buf;
    const uint8_t *joined = views[3].buf;
    const Py_ssize_t n = views[0].len / 4;
    if (views[1].len / 4 != n || views[2].len / 4 != n || views[3].len != n || n_forms < 0) {
        PyErr_SetString(PyExc_ValueError, "best_window: starts, ends, forms and joined must be as long");
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (forms[i] < 0 || forms[i] >= n_forms) {
            PyErr_SetString(PyExc_ValueError, "best_window: a form number out of range");
            goto done;
        }
    }
    counts = PyMem_Calloc(n_forms + 1, sizeof(int32_t));
    if (counts == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t distinct = 0, together = 0, right = -1, best = 0;
    double best_score = -1.0;
    for (Py_ssize_t left = 0; left < n; left++) {
        if (right < left - 1) right = left - 1;
        while (right + 1 < n && (Py_ssize_t)ends[right + 1] - starts[left] <= max_chars) {
            right++;
            distinct += ++counts[forms[right]] == 1;
            together += right > left && joined[right];
        }
        double score = (double)distinct + 0.5 * (double)together;
        if (score > best_score) {
            best = left;
            best_score = score;
        }
        if (right >= left) { /* the window loses its first match */
            distinct -= --counts[forms[left]] == 0;
            together -= left + 1 <= right && joined[left + 1];
        }
    }
    result = Py_BuildValue("nd", best, best_score);
done:
    release_arrays(4, views);
    PyMem_Free(counts);
    return result;
}

/*
 * fold(text, table, out)
 *
 * out[i] = table[text[i]] where text[i] is below len(table), else text[i]: one character for
 * one, so offsets stay (indexer.phonology.fold_code_points is the same in NumPy).
 */
static PyObject *fold(PyObject *self, PyObject *args) {
    PyObject *objs[3];
    if (!PyArg_ParseTuple(args, "OOO", &objs[0], &objs[1], &objs[2])) return NULL;
    const Py_ssize_t sizes[3] = {4, 4, 4};
    const int writable[3] = {0, 0, 1};
    const char *const names[3] = {"text", "table", "out"};
    Py_buffer views[3];
    if (get_arrays(3, objs, sizes, writable, names, views) < 0) return NULL;
    const int ok = views[2].len == views[0].len;
    if (ok) {
        const uint32_t *text = views[0].buf, *table = views[1].buf;
        uint32_t *out = views[2].buf;
        const Py_ssize_t n = views[0].len / 4, size = views[1].len / 4;
        for (Py_ssize_t i = 0; i < n; i++) out[i] = text[i] < (uint64_t)size ? table[text[i]] : text[i];
    }
    release_arrays(3, views);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "fold: out must be as long as text");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"syllables", syllables, METH_VARARGS,
     "syllables(text, out_starts, out_ends, out_joined) -> count: the syllables of a plain text (UTF-32)."},
    {"runs", runs, METH_VARARGS, "runs(text, out_starts, out_ends) -> count: the runs of letters and digits."},
    {"matching", matching, METH_VARARGS,
     "matching(text, starts, ends, hashes, out) -> count: the words whose hash is among the sorted hashes."},
    {"fold", fold, METH_VARARGS, "fold(text, table, out): each code point through the folding table."},
    {"best_window", best_window, METH_VARARGS,
     "best_window(starts, ends, forms, joined, n_forms, max_chars) -> (first, score): the first best window of matches."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "search._text", NULL, -1, methods};

PyMODINIT_FUNC PyInit__text(void) { return PyModule_Create(&module); }
