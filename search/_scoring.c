/*
 * search._scoring: the inner loops of query scoring, compiled.
 *
 * Arrays in, arrays out: every function takes buffers (NumPy arrays) and loops over them with
 * no Python object in the loop. Each has a NumPy reference in search/engine.py, which the
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

/* get_buffer for n arrays in order; on a failure, the ones already taken are released. */
static int get_buffers(int n, PyObject *const *objs, const char *const *formats, const int *writable,
                       const char *const *names, Py_buffer *views) {
    for (int i = 0; i < n; i++) {
        if (get_buffer(objs[i], &views[i], formats[i], writable[i], names[i]) < 0) {
            while (--i >= 0) PyBuffer_Release(&views[i]);
            return -1;
        }
    }
    return 0;
}

static void release_buffers(int n, Py_buffer *views) {
    for (int i = 0; i < n; i++) PyBuffer_Release(&views[i]);
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
    PyObject *objs[4];
    double average, k1, b, idf;
    if (!PyArg_ParseTuple(args, "OOOOdddd", &objs[0], &objs[1], &objs[2], &objs[3], &average, &k1, &b, &idf)) {
        return NULL;
    }
    const char *const formats[4] = {"f", "i", "f", "f"}, *const names[4] = {"out", "docs", "freqs", "lengths"};
    const int writable[4] = {1, 0, 0, 0};
    Py_buffer views[4];
    if (get_buffers(4, objs, formats, writable, names, views) < 0) {
        return NULL;
    }
    Py_buffer out_view = views[0], docs_view = views[1], freqs_view = views[2], lengths_view = views[3];
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
    release_buffers(4, views);
    if (error != NULL) {
        PyErr_SetString(PyExc_ValueError, error);
        return NULL;
    }
    Py_RETURN_NONE;
}

/*
 * top_k(kinds, firsts, counts, children, leaf_of, tiebreaks, docs, scores, boosts, block_maxima,
 *       bound_boosts, block, allowed, size, out_docs, out_scores) -> (found, matched, exact)
 *
 * The best len(out_docs) documents of a query tree, document at a time with block-max MaxScore
 * (Turtle & Flood's MaxScore; Lucene's MaxScoreBulkScorer with per-block impacts). Documents
 * are taken in windows of `block` numbers. In each window every term ("leaf") has a best
 * score there; sorted by it, the weakest leaves whose best scores together cannot lift a
 * document above the current k-th best score are "non-essential": they propose no candidates,
 * they are only probed for the candidates the essential leaves propose, and a candidate is
 * dropped as soon as its bound falls to the k-th score. A window whose leaves together cannot
 * reach it is skipped whole. The surviving candidates are scored exactly as
 * search.engine.Engine.add_scores scores arrays (the NumPy oracle of the tests): the same float32
 * operations in the same order, so the same values bit for bit.
 *
 * The tree: node i has kind kinds[i] (NODE_*), children children[firsts[i] .. +counts[i]]
 * (each after its parent), a leaf number leaf_of[i] if a term, a tiebreak (0..1) if a Best.
 * Node 0 is the root. Leaf j: docs[j] (int32 ascending, distinct, live documents), scores[j]
 * (float32 BM25 at boost 1), boosts[j]; block_maxima[j] (float32, one per window: at least
 * every score of the leaf there, at boost 1), bound_boosts[j] (boosts[j], or 0 for a leaf that
 * only restricts, as a Gate's condition does). allowed: uint8 per document, or None (all).
 *
 * Ties rank by document number, as Engine.top does; the k-th place is strict (a later document
 * with the k-th score does not enter). matched counts the allowed documents that scored > 0
 * among those evaluated; exact is 1 when that was every one of them (nothing was skipped).
 */
enum { NODE_TERM = 0, NODE_SUM = 1, NODE_BEST = 2, NODE_ALL_OF = 3, NODE_GATE = 4, NODE_BEST_TERMS = 5 };
#define MAX_LEAVES 4096
#define MAX_NODES 16384

typedef struct {
    const int32_t *kinds, *firsts, *counts, *children, *leaf_of;
    const float *tiebreaks;
    const int32_t **docs;
    const float **scores;
    const float *boosts;
    Py_ssize_t *length, *at;
    float *value;
    char *present;
} Tree;

/* The first position at or after `from` whose document is >= doc (galloping, then bisecting). */
static Py_ssize_t advance(const int32_t *docs, Py_ssize_t length, Py_ssize_t from, int32_t doc) {
    if (from >= length || docs[from] >= doc) {
        return from;
    }
    Py_ssize_t step = 1, lo = from, hi = from + 1;
    while (hi < length && docs[hi] < doc) {
        lo = hi;
        step <<= 1;
        hi = from + step;
    }
    if (hi > length) {
        hi = length;
    }
    while (lo + 1 < hi) { /* docs[lo] < doc; docs[hi] >= doc or hi == length */
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (docs[mid] < doc) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return hi;
}

static void load_leaf(Tree *t, int j, int32_t doc) {
    Py_ssize_t at = t->at[j] = advance(t->docs[j], t->length[j], t->at[j], doc);
    t->present[j] = at < t->length[j] && t->docs[j][at] == doc;
    t->value[j] = t->present[j] ? t->scores[j][at] * t->boosts[j] : 0.0f;
}

static int tree_matches(const Tree *t, int node) {
    const int32_t *child = t->children + t->firsts[node];
    int n = t->counts[node];
    switch (t->kinds[node]) {
    case NODE_TERM:
        return t->present[t->leaf_of[node]];
    case NODE_ALL_OF:
        for (int i = 0; i < n; i++) {
            if (!tree_matches(t, child[i])) {
                return 0;
            }
        }
        return 1;
    case NODE_GATE:
        return tree_matches(t, child[0]) && tree_matches(t, child[1]);
    default: /* Sum and Best match what any child matches */
        for (int i = 0; i < n; i++) {
            if (tree_matches(t, child[i])) {
                return 1;
            }
        }
        return 0;
    }
}

/* acc plus node's score, as Engine.add_scores adds it into its array. */
static float add_into(const Tree *t, int node, float acc) {
    const int32_t *child = t->children + t->firsts[node];
    int n = t->counts[node];
    switch (t->kinds[node]) {
    case NODE_TERM: {
        int j = t->leaf_of[node];
        return t->present[j] ? acc + t->value[j] : acc;
    }
    case NODE_SUM:
        for (int i = 0; i < n; i++) {
            acc = add_into(t, child[i], acc);
        }
        return acc;
    case NODE_BEST_TERMS: { /* as add_best: the present scores sorted falling */
        float found[MAX_ALTERNATIVES];
        int count = 0;
        for (int i = 0; i < n && i < MAX_ALTERNATIVES; i++) {
            int j = t->leaf_of[child[i]];
            if (t->present[j]) {
                float s = t->value[j];
                int k = count++;
                while (k > 0 && found[k - 1] < s) {
                    found[k] = found[k - 1];
                    k--;
                }
                found[k] = s;
            }
        }
        if (count == 0) {
            return acc;
        }
        float others = 0.0f;
        for (int k = 1; k < count; k++) {
            others += found[k];
        }
        float total = found[0] + others, best = found[0];
        return acc + (best + t->tiebreaks[node] * (total - best));
    }
    case NODE_BEST: { /* each child scored on its own, then best + tiebreak * (total - best) */
        float best = 0.0f, total = 0.0f;
        for (int i = 0; i < n; i++) {
            float s = add_into(t, child[i], 0.0f);
            if (s > best) {
                best = s;
            }
            total += s;
        }
        return acc + (best + t->tiebreaks[node] * (total - best));
    }
    case NODE_GATE:
        return tree_matches(t, child[0]) ? acc + add_into(t, child[1], 0.0f) : acc;
    default:
        return acc; /* AllOf only restricts; Python refuses to score it */
    }
}

typedef struct {
    int32_t doc;
    float score;
} Entry;

/* a ranks below b: a lower score, or the same score and a later document */
static int below(Entry a, Entry b) { return a.score < b.score || (a.score == b.score && a.doc > b.doc); }

static void sift_down(Entry *heap, Py_ssize_t n, Py_ssize_t i) {
    for (;;) {
        Py_ssize_t low = i, l = 2 * i + 1, r = l + 1;
        if (l < n && below(heap[l], heap[low])) low = l;
        if (r < n && below(heap[r], heap[low])) low = r;
        if (low == i) return;
        Entry tmp = heap[i];
        heap[i] = heap[low];
        heap[low] = tmp;
        i = low;
    }
}

static void sift_up(Entry *heap, Py_ssize_t i) {
    while (i > 0) {
        Py_ssize_t parent = (i - 1) / 2;
        if (!below(heap[i], heap[parent])) return;
        Entry tmp = heap[i];
        heap[i] = heap[parent];
        heap[parent] = tmp;
        i = parent;
    }
}

static int ranked_first(const void *a, const void *b) {
    const Entry *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return (x->doc > y->doc) - (x->doc < y->doc);
}

/* Can a document whose leaves add up to at most `bound` beat the k-th score? The margin covers
 * float32 rounding of the tree's sums (a hundred additions at most ~1e-5 relative). */
static int may_enter(double bound, int full, float kth) { return !full || bound * (1.0 + 1e-4) + 1e-6 > (double)kth; }

typedef struct {
    double bound;
    int leaf;
} Ranked;

static PyObject *top_k(PyObject *self, PyObject *args) {
    PyObject *kinds_o, *firsts_o, *counts_o, *children_o, *leaf_of_o, *tiebreaks_o, *docs_seq, *scores_seq, *boosts_o,
        *maxima_seq, *bound_boosts_o, *allowed_o, *out_docs_o, *out_scores_o;
    Py_ssize_t block, size;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOOnOnOO", &kinds_o, &firsts_o, &counts_o, &children_o, &leaf_of_o, &tiebreaks_o,
                          &docs_seq, &scores_seq, &boosts_o, &maxima_seq, &bound_boosts_o, &block, &allowed_o, &size,
                          &out_docs_o, &out_scores_o)) {
        return NULL;
    }
    enum { N_VIEWS = 10 };
    PyObject *objs[N_VIEWS] = {kinds_o, firsts_o, counts_o, children_o, leaf_of_o, tiebreaks_o, boosts_o, bound_boosts_o,
                               out_scores_o, out_docs_o};
    const char *formats[N_VIEWS] = {"i", "i", "i", "i", "i", "f", "f", "f", "f", "i"};
    const char *names[N_VIEWS] = {"kinds", "firsts", "counts", "children", "leaf_of", "tiebreaks", "boosts", "bound_boosts",
                                  "out_scores", "out_docs"};
    Py_buffer views[N_VIEWS], allowed_view;
    int held = 0, have_allowed = 0;
    PyObject *result = NULL, *seqs[3] = {NULL, NULL, NULL};
    Py_buffer *leaf_views = NULL; /* per leaf: docs, scores, block maxima */
    Py_ssize_t leaves_held = 0, n_leaves = 0;
    Tree t;
    Py_ssize_t *length = NULL, *at = NULL, *scan = NULL;
    float *value = NULL;
    char *present = NULL;
    const int32_t **docs = NULL;
    const float **scores = NULL, **maxima = NULL;
    Ranked *ranked = NULL;
    int *order = NULL;
    double *partial = NULL, *prefix = NULL, *window_max = NULL;
    unsigned char *marked = NULL;
    Entry *heap = NULL;

    for (; held < N_VIEWS; held++) {
        if (get_buffer(objs[held], &views[held], formats[held], held >= 8, names[held]) < 0) goto done;
    }
    if (allowed_o != Py_None) {
        if (PyObject_GetBuffer(allowed_o, &allowed_view, PyBUF_C_CONTIGUOUS) < 0) goto done;
        have_allowed = 1;
        if (allowed_view.len != size) {
            PyErr_SetString(PyExc_ValueError, "top_k: allowed must have one byte per document");
            goto done;
        }
    }
    Py_ssize_t n_nodes = views[0].len / 4, k = views[9].len / 4, n_blocks = block > 0 ? (size + block - 1) / block : 0;
    n_leaves = views[6].len / 4;
    if (n_nodes < 1 || n_nodes > MAX_NODES || views[1].len / 4 != n_nodes || views[2].len / 4 != n_nodes ||
        views[4].len / 4 != n_nodes || views[5].len / 4 != n_nodes || n_leaves > MAX_LEAVES ||
        views[7].len / 4 != n_leaves || views[8].len != views[9].len || block < 1 || size < 0) {
        PyErr_SetString(PyExc_ValueError, "top_k: the tree's arrays disagree in length");
        goto done;
    }
    {
        const int32_t *kinds = views[0].buf, *firsts = views[1].buf, *counts = views[2].buf, *children = views[3].buf,
                      *leaf_of = views[4].buf;
        Py_ssize_t n_children = views[3].len / 4;
        for (Py_ssize_t i = 0; i < n_nodes; i++) {
            if (kinds[i] < 0 || kinds[i] > NODE_BEST_TERMS || counts[i] < 0 || firsts[i] < 0 ||
                firsts[i] + (Py_ssize_t)counts[i] > n_children || (kinds[i] == NODE_TERM && (leaf_of[i] < 0 || leaf_of[i] >= n_leaves)) ||
                (kinds[i] == NODE_GATE && counts[i] != 2) || (kinds[i] == NODE_BEST_TERMS && counts[i] > MAX_ALTERNATIVES)) {
                PyErr_Format(PyExc_ValueError, "top_k: node %zd is malformed", i);
                goto done;
            }
            for (int c = 0; c < counts[i]; c++) {
                int32_t child = children[firsts[i] + c];
                if (child <= i || child >= n_nodes || (kinds[i] == NODE_BEST_TERMS && kinds[child] != NODE_TERM)) {
                    PyErr_Format(PyExc_ValueError, "top_k: node %zd has a bad child", i);
                    goto done;
                }
            }
        }
    }
    PyObject *given[3] = {docs_seq, scores_seq, maxima_seq};
    for (int i = 0; i < 3; i++) {
        seqs[i] = PySequence_Fast(given[i], "top_k: docs, scores and block_maxima must be sequences of arrays");
        if (seqs[i] == NULL) goto done;
        if (PySequence_Fast_GET_SIZE(seqs[i]) != n_leaves) {
            PyErr_SetString(PyExc_ValueError, "top_k: one docs, scores and block_maxima array per leaf");
            goto done;
        }
    }
    leaf_views = PyMem_Calloc(3 * n_leaves + 1, sizeof(Py_buffer));
    length = PyMem_Calloc(n_leaves + 1, sizeof(Py_ssize_t));
    at = PyMem_Calloc(n_leaves + 1, sizeof(Py_ssize_t));
    scan = PyMem_Calloc(n_leaves + 1, sizeof(Py_ssize_t));
    value = PyMem_Calloc(n_leaves + 1, sizeof(float));
    present = PyMem_Calloc(n_leaves + 1, 1);
    docs = PyMem_Calloc(n_leaves + 1, sizeof(int32_t *));
    scores = PyMem_Calloc(n_leaves + 1, sizeof(float *));
    maxima = PyMem_Calloc(n_leaves + 1, sizeof(float *));
    ranked = PyMem_Calloc(n_leaves + 1, sizeof(Ranked));
    order = PyMem_Calloc(n_leaves + 1, sizeof(int));
    prefix = PyMem_Calloc(n_leaves + 2, sizeof(double));
    window_max = PyMem_Calloc(n_leaves + 1, sizeof(double));
    partial = PyMem_Calloc(block, sizeof(double));
    marked = PyMem_Calloc(block, 1);
    heap = PyMem_Calloc(k + 1, sizeof(Entry));
    if (!leaf_views || !length || !at || !scan || !value || !present || !docs || !scores || !maxima || !ranked || !order || !prefix ||
        !window_max || !partial || !marked || !heap) {
        PyErr_NoMemory();
        goto done;
    }
    for (; leaves_held < n_leaves; leaves_held++) {
        Py_ssize_t j = leaves_held;
        Py_buffer *v = &leaf_views[3 * j];
        if (get_buffer(PySequence_Fast_GET_ITEM(seqs[0], j), &v[0], "i", 0, "docs") < 0) goto done;
        if (get_buffer(PySequence_Fast_GET_ITEM(seqs[1], j), &v[1], "f", 0, "scores") < 0) {
            PyBuffer_Release(&v[0]);
            goto done;
        }
        if (get_buffer(PySequence_Fast_GET_ITEM(seqs[2], j), &v[2], "f", 0, "block_maxima") < 0) {
            PyBuffer_Release(&v[0]);
            PyBuffer_Release(&v[1]);
            goto done;
        }
        docs[j] = v[0].buf;
        scores[j] = v[1].buf;
        maxima[j] = v[2].buf;
        length[j] = v[0].len / 4;
        if (v[1].len != v[0].len || v[2].len / 4 != n_blocks) {
            PyErr_SetString(PyExc_ValueError, "top_k: a leaf's scores or block maxima have the wrong length");
            leaves_held++;
            goto done;
        }
        /* The first and last documents here; the order in between where the postings are
         * scanned (a leaf that is only probed is searched by bisection, in bounds whatever
         * its order: the engine's postings are sorted as they are decoded). */
        if (length[j] > 0 && (docs[j][0] < 0 || docs[j][length[j] - 1] >= size || docs[j][0] > docs[j][length[j] - 1])) {
            PyErr_Format(PyExc_ValueError, "top_k: docs[%zd] must be ascending, distinct and below %zd", j, size);
            leaves_held++;
            goto done;
        }
    }
    {
        const unsigned char *allowed = have_allowed ? allowed_view.buf : NULL;
        const float *bound_boosts = views[7].buf;
        t.kinds = views[0].buf;
        t.firsts = views[1].buf;
        t.counts = views[2].buf;
        t.children = views[3].buf;
        t.leaf_of = views[4].buf;
        t.tiebreaks = views[5].buf;
        t.boosts = views[6].buf;
        t.docs = docs;
        t.scores = scores;
        t.length = length;
        t.at = at;
        t.value = value;
        t.present = present;
        float *out_scores = views[8].buf;
        int32_t *out_docs = views[9].buf;
        Py_ssize_t filled = 0, matched = 0;
        int exact = 1, unordered = 0;
        for (int j = 0; j < n_leaves; j++) order[j] = j;

        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t w = 0; w < n_blocks && k > 0; w++) {
            const Py_ssize_t base = w * block, end = base + block < size ? base + block : size;
            int full = filled == k;
            float kth = full ? heap[0].score : 0.0f;
            /* The leaves that score in this window, by rising best score there: the last
             * window's order, insertion-sorted (it changes little from window to window). */
            for (int j = 0; j < n_leaves; j++) window_max[j] = (double)(maxima[j][w] * bound_boosts[j]);
            for (int i = 1; i < n_leaves; i++) {
                int leaf = order[i], at_ = i;
                while (at_ > 0 && window_max[order[at_ - 1]] > window_max[leaf]) {
                    order[at_] = order[at_ - 1];
                    at_--;
                }
                order[at_] = leaf;
            }
            int n_ranked = 0;
            for (int i = 0; i < n_leaves; i++) {
                if (window_max[order[i]] > 0) {
                    ranked[n_ranked].bound = window_max[order[i]];
                    ranked[n_ranked++].leaf = order[i];
                }
            }
            if (n_ranked == 0) continue;
            for (int r = 0; r < n_ranked; r++) prefix[r + 1] = prefix[r] + ranked[r].bound;
            int essential_from = 0; /* ranked[essential_from ..] propose candidates */
            while (full && essential_from < n_ranked && !may_enter(prefix[essential_from + 1], full, kth)) {
                essential_from++;
            }
            if (essential_from > 0) exact = 0; /* documents only the others have are not counted */
            if (essential_from == n_ranked) continue; /* nothing here can enter */
            for (int r = essential_from; r < n_ranked; r++) {
                int j = ranked[r].leaf;
                Py_ssize_t i = scan[j] = advance(docs[j], length[j], scan[j], (int32_t)base);
                const float boost = t.boosts[j];
                for (; i < length[j] && docs[j][i] < end; i++) {
                    Py_ssize_t slot = docs[j][i] - base;
                    if (slot < 0 || (i > 0 && docs[j][i] <= docs[j][i - 1])) {
                        unordered = 1;
                        break;
                    }
                    marked[slot] = 1;
                    partial[slot] += (double)(scores[j][i] * boost);
                }
                scan[j] = i;
            }
            if (unordered) break;
            for (Py_ssize_t slot = 0; slot < end - base; slot++) {
                if (!marked[slot]) continue;
                double bound = partial[slot] + prefix[essential_from];
                marked[slot] = 0;
                partial[slot] = 0.0;
                int32_t doc = (int32_t)(base + slot);
                if (allowed != NULL && !allowed[doc]) continue;
                full = filled == k;
                kth = full ? heap[0].score : 0.0f;
                /* probe the non-essential leaves, strongest first, while the document may enter */
                int refused = !may_enter(bound, full, kth);
                for (int r = essential_from - 1; r >= 0 && !refused; r--) {
                    int j = ranked[r].leaf;
                    load_leaf(&t, j, doc);
                    bound += (double)t.value[j] - window_max[j];
                    refused = !may_enter(bound, full, kth);
                }
                if (refused) {
                    exact = 0;
                    continue;
                }
                for (int j = 0; j < n_leaves; j++) load_leaf(&t, j, doc);
                float score = add_into(&t, 0, 0.0f);
                if (!(score > 0.0f)) continue;
                matched++;
                Entry entry = {doc, score};
                if (filled < k) {
                    heap[filled] = entry;
                    sift_up(heap, filled++);
                } else if (below(heap[0], entry)) {
                    heap[0] = entry;
                    sift_down(heap, k, 0);
                }
            }
        }
        qsort(heap, filled, sizeof(Entry), ranked_first);
        for (Py_ssize_t i = 0; i < filled; i++) {
            out_docs[i] = heap[i].doc;
            out_scores[i] = heap[i].score;
        }
        Py_END_ALLOW_THREADS
        if (unordered) {
            PyErr_SetString(PyExc_ValueError, "top_k: docs must be ascending, distinct and below the size");
        } else {
            result = Py_BuildValue("nni", filled, matched, exact);
        }
    }
done:
    for (Py_ssize_t j = 0; j < leaves_held; j++) {
        for (int i = 0; i < 3; i++) PyBuffer_Release(&leaf_views[3 * j + i]);
    }
    for (int i = 0; i < held; i++) PyBuffer_Release(&views[i]);
    if (have_allowed) PyBuffer_Release(&allowed_view);
    for (int i = 0; i < 3; i++) Py_XDECREF(seqs[i]);
    PyMem_Free(leaf_views);
    PyMem_Free(length);
    PyMem_Free(at);
    PyMem_Free(scan);
    PyMem_Free(value);
    PyMem_Free(present);
    PyMem_Free(docs);
    PyMem_Free(scores);
    PyMem_Free(maxima);
    PyMem_Free(ranked);
    PyMem_Free(order);
    PyMem_Free(prefix);
    PyMem_Free(window_max);
    PyMem_Free(partial);
    PyMem_Free(marked);
    PyMem_Free(heap);
    return result;
}

/*
 * block_maxima(out, docs, scores, block)
 *
 * out[w] = the largest scores[i] with docs[i] in [w * block, (w + 1) * block), or 0: one term's
 * best score in each window of top_k (search.engine.block_maxima_reference in NumPy).
 */
static PyObject *block_maxima(PyObject *self, PyObject *args) {
    PyObject *objs[3];
    Py_ssize_t block;
    if (!PyArg_ParseTuple(args, "OOOn", &objs[0], &objs[1], &objs[2], &block)) {
        return NULL;
    }
    const char *const formats[3] = {"f", "i", "f"}, *const names[3] = {"out", "docs", "scores"};
    const int writable[3] = {1, 0, 0};
    Py_buffer views[3];
    if (get_buffers(3, objs, formats, writable, names, views) < 0) return NULL;
    Py_buffer out_view = views[0], docs_view = views[1], scores_view = views[2];
    const char *error = NULL;
    if (block < 1 || scores_view.len != docs_view.len) {
        error = "block_maxima: block must be positive and scores as long as docs";
    } else {
        float *out = out_view.buf;
        const int32_t *docs = docs_view.buf;
        const float *scores = scores_view.buf;
        Py_ssize_t n = docs_view.len / 4, windows = out_view.len / 4;
        memset(out, 0, out_view.len);
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_ssize_t w = docs[i] / block;
            if (docs[i] < 0 || w >= windows) {
                error = "block_maxima: a document past the windows";
                break;
            }
            if (scores[i] > out[w]) out[w] = scores[i];
        }
    }
    release_buffers(3, views);
    if (error != NULL) {
        PyErr_SetString(PyExc_ValueError, error);
        return NULL;
    }
    Py_RETURN_NONE;
}

/*
 * count_union(docs, allowed, size, limit) -> (count, complete)
 *
 * How many distinct documents the postings docs (a sequence of int32 arrays) hold among the
 * allowed ones (uint8 per document, or None), counting up to limit: Elasticsearch's
 * track_total_hits, so that a common word's count costs at most `limit` postings beyond the
 * first array's. complete is 0 when it stopped at the limit.
 */
static PyObject *count_union(PyObject *self, PyObject *args) {
    PyObject *docs_seq, *allowed_o;
    Py_ssize_t size, limit;
    if (!PyArg_ParseTuple(args, "OOnn", &docs_seq, &allowed_o, &size, &limit)) {
        return NULL;
    }
    PyObject *fast = PySequence_Fast(docs_seq, "count_union: docs must be a sequence of arrays");
    if (fast == NULL) return NULL;
    Py_buffer allowed_view;
    int have_allowed = 0;
    unsigned char *seen = NULL;
    PyObject *result = NULL;
    if (allowed_o != Py_None) {
        if (PyObject_GetBuffer(allowed_o, &allowed_view, PyBUF_C_CONTIGUOUS) < 0) goto done;
        have_allowed = 1;
        if (allowed_view.len != size) {
            PyErr_SetString(PyExc_ValueError, "count_union: allowed must have one byte per document");
            goto done;
        }
    }
    seen = PyMem_Calloc(size + 1, 1);
    if (seen == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    {
        const unsigned char *allowed = have_allowed ? allowed_view.buf : NULL;
        Py_ssize_t count = 0;
        int complete = 1;
        for (Py_ssize_t j = 0; j < PySequence_Fast_GET_SIZE(fast) && complete; j++) {
            Py_buffer view;
            if (get_buffer(PySequence_Fast_GET_ITEM(fast, j), &view, "i", 0, "docs") < 0) goto done;
            const int32_t *docs = view.buf;
            Py_ssize_t n = view.len / 4;
            for (Py_ssize_t i = 0; i < n; i++) {
                int32_t doc = docs[i];
                if (doc < 0 || doc >= size) {
                    PyBuffer_Release(&view);
                    PyErr_Format(PyExc_ValueError, "count_union: a document number (%d) past %zd", doc, size);
                    goto done;
                }
                if (seen[doc] || (allowed != NULL && !allowed[doc])) continue;
                seen[doc] = 1;
                if (++count >= limit) {
                    complete = 0;
                    break;
                }
            }
            PyBuffer_Release(&view);
        }
        result = Py_BuildValue("ni", count, complete);
    }
done:
    if (have_allowed) PyBuffer_Release(&allowed_view);
    PyMem_Free(seen);
    Py_DECREF(fast);
    return result;
}

static PyMethodDef methods[] = {
    {"bm25", bm25, METH_VARARGS,
     "bm25(out, docs, freqs, lengths, average, k1, b, idf): one term's BM25 scores (float32) into out."},
    {"add_best", add_best, METH_VARARGS,
     "add_best(out, docs, scores, tiebreak): out[d] += best + tiebreak * (total - best) over the "
     "alternatives' postings (int32 docs ascending, float32 scores)."},
    {"block_maxima", block_maxima, METH_VARARGS,
     "block_maxima(out, docs, scores, block): each window's largest score (float32) into out."},
    {"count_union", count_union, METH_VARARGS,
     "count_union(docs, allowed, size, limit) -> (count, complete): distinct allowed documents, up to limit."},
    {"top_k", top_k, METH_VARARGS,
     "top_k(kinds, firsts, counts, children, leaf_of, tiebreaks, docs, scores, boosts, block_maxima, bound_boosts, block, "
     "allowed, size, out_docs, out_scores) -> (found, matched, exact): the best documents of a query tree, block-max MaxScore."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "search._scoring", NULL, -1, methods};

PyMODINIT_FUNC PyInit__scoring(void) { return PyModule_Create(&module); }
