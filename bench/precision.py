"""Answers that mean what was typed: precision of phrases, of short queries and of highlights.

Every hit is checked against its stored text, the way a reader checks it:

* a quoted phrase: the hit's title or body has the phrase's syllables together, in order
  (the typed forms up to tone placement and i/y spelling when it was typed with diacritics,
  folded forms when typed without), or an abbreviation's other form;
* a short query (two or three words, as a journalist types them): every top-10 hit, by
  relevance and by date, has every typed word in such a form, unless the answer lists the
  word as dropped; an abbreviation or an expansion ("Ủy ban nhân dân") counts as one word,
  satisfied by any of its forms whole ("UBND", and "TPHCM" for "TP.HCM");
* a highlight: every marked span of a hit's title and snippet is an accepted form of a typed
  word (a syllable typed with diacritics in its typed form, one typed without in any), or a
  part of an abbreviation's other form.

    python bench/precision.py --index DIR        # an index of VNTC (built if DIR has none)
    python bench/precision.py --docs 3000        # a sample, quick

Queries come from VNTC test-split titles with a fixed seed, half of them typed without
diacritics, plus a fixed list with abbreviations. Nothing here is in the repo but the script.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from indexer import build_index  # noqa: E402
from indexer.analysis import fold_diacritics, normalize_term, syllable_spans  # noqa: E402
from search import Index, QueryError  # noqa: E402
from search.abbreviations import default_abbreviations  # noqa: E402

VNTC = ROOT.parent / "shared" / "corpus" / "vntc.jsonl.gz"
ABBREVIATED = ["UBND TP.HCM", "UBND tỉnh", "HĐND thành phố", "ĐBQH", "ubnd xa", "Ủy ban nhân dân huyện", "TP.HCM kẹt xe",
               "Hà Nội kẹt xe", "bão lũ miền Trung", "giá xăng tăng"]
HITS_CHECKED = 20  # of each phrase query; the top 10 of each short query


def syllables(text: str) -> list[str]:
    return [normalize_term(word) for word, _, _, _ in syllable_spans(text)]


def accented(text: str) -> bool:
    return fold_diacritics(text) != text


def forms(words: list[str], typed_accented: bool) -> list[str]:
    return words if typed_accented else [fold_diacritics(w) for w in words]


def contains_run(text_words: list[str], run: list[str]) -> bool:
    n = len(run)
    return any(text_words[i : i + n] == run for i in range(len(text_words) - n + 1))


class Reader:
    """Checks hits against their stored text (title and body)."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self.abbreviations = default_abbreviations()
        self._texts: dict[str, tuple[list[str], list[str]]] = {}

    def has_phrase(self, doc_id: str, phrase: str) -> bool:
        """Does the article hold the phrase's syllables together, in an accepted form, or one
        of the phrase's abbreviations written the other way ("UBND" for "Ủy ban nhân dân")?"""
        typed = accented(phrase)
        title, body = self.words(doc_id)
        run = forms(syllables(phrase), typed)
        if any(contains_run(forms(part, typed), run) for part in (title, body)):
            return True
        for other in self.other_forms(phrase):
            other_run = forms(syllables(other), False)
            if any(contains_run(forms(part, False), other_run) for part in (title, body)):
                return True
        return False

    def other_forms(self, text: str) -> list[str]:
        """The abbreviation table's other forms of ``text``, and theirs ("TP.HCM" -> "Thành phố
        Hồ Chí Minh" -> "TPHCM")."""
        first = self.abbreviations.alternatives(text)
        return list(dict.fromkeys(first + [o for f in first for o in self.abbreviations.alternatives(f)]))

    def query_words(self, query: str) -> list[str]:
        """The words of a short query as the reader counts them: an abbreviation or an
        expansion ("Ủy ban nhân dân") is one word, which any of its forms satisfies whole;
        the rest are split at spaces."""
        out, at = [], 0
        for start, end, _ in self.abbreviations.spans(query):
            out += query[at:start].split() + [query[start:end]]
            at = end
        return out + query[at:].split()

    def words(self, doc_id: str) -> tuple[list[str], list[str]]:
        if doc_id not in self._texts:
            article = self.index.read(doc_id)
            self._texts[doc_id] = (syllables(article.hit.title), syllables(article.body.text))
        return self._texts[doc_id]

    def highlight_ok(self, span: str, query: str) -> bool:
        """Is every syllable of a marked span an accepted form of a typed word (the typed form
        up to tone placement and i/y where diacritics were typed on it, any form where not),
        or of an abbreviation's other form?"""
        typed = syllables(query)
        marked = {w for w in typed if accented(w)}
        unmarked = {w for w in typed if not accented(w)}
        other_forms = {w for other in self.other_forms(query) for w in forms(syllables(other), False)}
        return all(w in marked or fold_diacritics(w) in unmarked or fold_diacritics(w) in other_forms
                   for w in syllables(span))


def phrase_queries(titles: list[str], rng: random.Random, count: int) -> list[str]:
    out = []
    for title in titles:
        words = title.split()
        if len(words) < 4:
            continue
        size = rng.choice([2, 3, 3, 4])
        start = rng.randrange(len(words) - size + 1)
        phrase = " ".join(w.strip(".,:;!?\"'()“”‘’") for w in words[start : start + size])
        if len(syllables(phrase)) != size:
            continue
        out.append(phrase if len(out) % 2 == 0 else fold_diacritics(phrase))
        if len(out) == count:
            break
    return out


def short_queries(titles: list[str], rng: random.Random, count: int) -> list[str]:
    out = []
    for title in titles:
        words = [w.strip(".,:;!?\"'()“”‘’") for w in title.split()]
        words = [w for w in words if w and w.isalpha()]
        if len(words) < 3:
            continue
        start = rng.randrange(len(words) - 1)
        query = " ".join(words[start : start + rng.choice([2, 3])])
        out.append(query if len(out) % 2 == 0 else fold_diacritics(query))
        if len(out) == count:
            break
    return out


def measure(index: Index, phrases: list[str], shorts: list[str]) -> list[tuple[str, str, str]]:
    reader = Reader(index)
    phrase_hits = phrase_ok = 0
    phrase_queries_all_ok = 0
    phrase_ms = []
    for phrase in phrases:
        started = time.perf_counter()
        hits = index.search(f'"{phrase}"', limit=HITS_CHECKED).hits
        phrase_ms.append((time.perf_counter() - started) * 1000)
        ok = [reader.has_phrase(h.id, phrase) for h in hits]
        phrase_hits += len(ok)
        phrase_ok += sum(ok)
        phrase_queries_all_ok += all(ok)
    short_hits = short_ok = 0
    marks = marks_ok = 0
    for query in shorts + ABBREVIATED:
        for sort in ("relevance", "date"):
            try:
                results = index.search(query, limit=10, sort=sort)
            except QueryError:
                continue
            dropped = set(getattr(results, "dropped", ()) or ())
            for hit in results.hits:
                short_hits += 1
                short_ok += all(reader.has_phrase(hit.id, word) for word in reader.query_words(query) if word not in dropped)
                for span in list(hit.snippet.marked) + (list(hit.title_marked.marked) if hit.title_marked else []):
                    marks += 1
                    marks_ok += reader.highlight_ok(span, query)
    both = index.search("UBND TP.HCM", limit=1)
    every_word = index.search("UBND TP.HCM", limit=1, require_all=True)
    pct = lambda a, b: f"{100 * a / b:.1f}%" if b else "-"  # noqa: E731
    return [
        ("quoted phrases: hits that contain the phrase", f"{pct(phrase_ok, phrase_hits)} ({phrase_ok:,} of {phrase_hits:,})", "100%"),
        ("quoted phrases: queries whose every hit does", f"{phrase_queries_all_ok} of {len(phrases)}", f"{len(phrases)}"),
        ("quoted phrases: p50 / p95 ms (first run, snippets)", f"{_percentile(phrase_ms, 50):.1f} / {_percentile(phrase_ms, 95):.1f}", "no slower"),
        ("short queries: top-10 hits with every word (or dropped)", f"{pct(short_ok, short_hits)} ({short_ok:,} of {short_hits:,})", "100%"),
        ("highlights: marked spans that are accepted forms", f"{pct(marks_ok, marks)} ({marks_ok:,} of {marks:,})", "100%"),
        ("'UBND TP.HCM': total / with both words (--all)", f"{'' if both.total_exact else '≥ '}{both.total:,} / {'' if every_word.total_exact else '≥ '}{every_word.total:,} of {len(index):,}", "equal"),
    ]


def _percentile(values: list[float], q: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, len(ordered) * q // 100)] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, help="an index of VNTC (built here if the folder has none)")
    parser.add_argument("--docs", type=int, default=0, help="with no --index: a sample of N articles (0: all)")
    parser.add_argument("--phrases", type=int, default=60)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--seed", type=int, default=23)
    args = parser.parse_args()
    if not VNTC.exists():
        sys.exit(f"{VNTC} not found: the benchmark reads ../shared")
    with gzip.open(VNTC, "rt", encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    index_dir = args.index
    if index_dir is None or not (index_dir / "CURRENT").exists():
        sample = records if not args.docs else random.Random(args.seed).sample(records, args.docs)
        folder = Path(tempfile.mkdtemp(prefix="vnsearch-precision-"))
        (folder / "sample.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in sample), encoding="utf-8")
        index_dir = index_dir or folder / "ix"
        build_index([folder / "sample.jsonl"], index_dir)
    rng = random.Random(args.seed)
    titles = [" ".join(r["title"].split()) for r in records if r.get("split") == "test" and r.get("title") and "<" not in r["title"]]
    rng.shuffle(titles)
    phrases = phrase_queries(titles, rng, args.phrases)
    shorts = short_queries(titles[len(titles) // 2 :], rng, args.queries)
    with Index.open(index_dir) as index:
        rows = measure(index, phrases, shorts)
        print(f"index: {index_dir} ({len(index):,} articles); {len(phrases)} quoted phrases (half without diacritics), "
              f"{len(shorts) + len(ABBREVIATED)} short queries by relevance and by date")
    print("| measure | now | target |")
    print("|---|---|---|")
    for name, value, target in rows:
        print(f"| {name} | {value} | {target} |")


if __name__ == "__main__":
    main()
