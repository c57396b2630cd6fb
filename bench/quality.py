"""Ranking quality on real data: MRR@10 and Recall@10 for three ways of typing the same query.

Known-item search on VNTC: the title of an article is the query, its body the only searched
field, and the article itself the one right answer (an exact or near copy of it counts too:
the index merges exact copies, and search folds near copies into one hit). XQuAD-vi: real
questions against 240 passages.

Each query is run as typed ("exact"), without diacritics ("no diacritics") and with the tone
marks of open vowel pairs moved to the other placement ("other tone style": "hòa" <-> "hoà").

    python bench/quality.py                       # all 84k VNTC articles (builds once, ~25 min)
    python bench/quality.py --docs 5000           # a sample, quick
    python bench/quality.py --index DIR --split train --set bigram_weight=2.5   # tuning
    python bench/quality.py --index DIR --queries 0 --no-xquad   # every test title (~25 min)

Queries come from the split given (default: test; tune on train). Nothing here is in the repo:
queries are drawn from ../shared at run time with a fixed seed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
import unicodedata
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from indexer import IndexSettings, build_index  # noqa: E402
from indexer.analysis import TONE_MARKS, fold_diacritics  # noqa: E402
from search import Index, QueryError  # noqa: E402

SHARED = ROOT.parent / "shared"
VNTC = SHARED / "corpus" / "vntc.jsonl.gz"
XQUAD = SHARED / "eval" / "xquad_vi"
_OPEN_PAIRS = ("oa", "oe", "uy")


def other_tone_style(text: str) -> str:
    """Move tone marks of open "oa", "oe", "uy" to the other vowel: "hòa" <-> "hoà", "ủy" <-> "uỷ"."""
    out = []
    for word in text.split(" "):
        out.append(_swap_word(word))
    return " ".join(out)


def _swap_word(word: str) -> str:
    core = word.rstrip(".,;:!?\"”)'")
    tail = word[len(core):]
    nfc = unicodedata.normalize("NFC", core)
    decomposed = unicodedata.normalize("NFD", nfc)
    tones = [c for c in decomposed if c in TONE_MARKS]
    if len(tones) != 1:
        return word
    base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in TONE_MARKS))
    low = base.lower()
    if len(base) != len(nfc) or not low.endswith(_OPEN_PAIRS) or low.endswith("quy"):
        return word
    carrier = next(i for i, c in enumerate(nfc) if any(m in unicodedata.normalize("NFD", c) for m in TONE_MARKS))
    target = {len(base) - 2: len(base) - 1, len(base) - 1: len(base) - 2}.get(carrier)
    if target is None:
        return word
    return unicodedata.normalize("NFC", base[: target + 1] + tones[0] + base[target + 1 :]) + tail


VARIANTS = {
    "exact": lambda q: q,
    "no diacritics": fold_diacritics,
    "other tone style": other_tone_style,
}


def sample_vntc(n_docs: int | None, seed: int, workdir: Path) -> Path:
    """The VNTC file itself, or a seeded random sample of ``n_docs`` of its lines."""
    if not n_docs:
        return VNTC
    with gzip.open(VNTC, "rt", encoding="utf-8") as f:
        lines = f.readlines()
    random.Random(seed).shuffle(lines)
    out = workdir / f"vntc-sample-{n_docs}-{seed}.jsonl"
    out.write_text("".join(lines[:n_docs]), encoding="utf-8")
    return out


def known_item_queries(source: Path, split: str, n: int, seed: int) -> list[tuple[str, str]]:
    opener = gzip.open if source.suffix == ".gz" else open
    candidates = []
    with opener(source, "rt", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            title = " ".join((d.get("title") or "").split())
            if d.get("split") == split and title and "<" not in title:
                candidates.append((title, d["id"]))
    random.Random(seed).shuffle(candidates)
    return candidates[:n] if n else candidates


def evaluate(index_dir: Path, overrides: dict, queries: list[tuple[str, str | set]], fields: tuple[str, ...], procs: int = 1) -> dict:
    """One row per way of typing the queries; with ``procs`` > 1 the ways run side by side."""
    jobs = [(index_dir, overrides, queries, fields, name) for name in VARIANTS]
    if procs > 1:
        with ProcessPoolExecutor(min(procs, len(jobs))) as pool:
            rows = list(pool.map(_evaluate_variant, *zip(*jobs)))
    else:
        rows = [_evaluate_variant(*job) for job in jobs]
    return dict(zip(VARIANTS, rows))


def _evaluate_variant(index_dir: Path, overrides: dict, queries: list[tuple[str, str | set]], fields: tuple[str, ...], name: str) -> dict:
    rewrite = VARIANTS[name]
    with Index.open(index_dir) as index:
        if overrides:
            index.tune(**overrides)
        reciprocal, own, found, took = [], [], 0, []
        for text, relevant in queries:
            relevant = {relevant} if isinstance(relevant, str) else relevant
            try:
                results = index.search(rewrite(text), limit=10, fields=fields)
            except QueryError:
                reciprocal.append(0.0)
                own.append(0.0)
                continue
            took.append(results.took_ms)
            rank = next(
                (h.rank for h in results.hits if h.id in relevant or relevant & {*h.duplicates, *h.near_duplicates}), None
            )
            # The stricter count: only a hit whose own id is the article's, as a script reading
            # nothing but "id" from --json would count it.
            own_rank = next((h.rank for h in results.hits if h.id in relevant), None)
            reciprocal.append(1.0 / rank if rank else 0.0)
            own.append(1.0 / own_rank if own_rank else 0.0)
            found += rank is not None
    return {
        "mrr@10": statistics.fmean(reciprocal),
        # Half-width of a 95% confidence interval: MRR over 500 queries is ±0.04, so a
        # difference of 0.01 between two runs on different samples means nothing.
        "ci95": 1.96 * statistics.stdev(reciprocal) / len(reciprocal) ** 0.5 if len(reciprocal) > 1 else 0.0,
        "own_mrr@10": statistics.fmean(own),
        "recall@10": found / len(queries),
        "p50_ms": statistics.median(took) if took else 0.0,
        "queries": len(queries),
    }


def xquad_rows(workdir: Path, overrides: dict, procs: int) -> dict:
    passages = XQUAD / "passages.jsonl"
    index_dir = workdir / "xquad-index"
    if not index_dir.exists():
        build_index([passages], index_dir)
    queries = []
    with open(XQUAD / "questions.jsonl", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            queries.append((d["query"], set(d["relevant_ids"])))
    return evaluate(index_dir, overrides, queries, ("title", "body"), procs)


def print_table(title: str, rows: dict) -> None:
    print(f"\n{title}")
    print(f"| {'variant':<17} | {'MRR@10':>7} | {'±95%':>6} | {'own id':>7} | {'Recall@10':>9} | {'p50 ms':>7} | {'queries':>7} |")
    print(f"|{'-' * 19}|{'-' * 9}|{'-' * 8}|{'-' * 9}|{'-' * 11}|{'-' * 9}|{'-' * 9}|")
    for name, r in rows.items():
        print(f"| {name:<17} | {r['mrr@10']:>7.3f} | {r['ci95']:>6.3f} | {r['own_mrr@10']:>7.3f} | {r['recall@10']:>9.3f} "
              f"| {r['p50_ms']:>7.1f} | {r['queries']:>7} |")
    print("MRR@10 counts a hit that is the article or lists it as an exact or near copy; "
          "\"own id\" counts only a hit whose id is the article's.")


def parse_overrides(pairs: list[str]) -> dict:
    fields = IndexSettings.__dataclass_fields__
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key not in fields:
            raise SystemExit(f"--set {pair}: unknown setting; known: {', '.join(fields)}")
        out[key] = type(getattr(IndexSettings(), key))(value)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=0, help="index a random sample of N VNTC articles (0: all)")
    parser.add_argument("--queries", type=int, default=2000,
                        help="known-item queries per variant, 0 for every usable title of the split "
                             "(MRR over 500 is only good to about ±0.04, over 2,000 to ±0.02)")
    parser.add_argument("--split", default="test", choices=["test", "train"])
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--index", type=Path, help="reuse (or create) the VNTC index here")
    parser.add_argument("--procs", type=int, default=2, help="processes for a build, and for the three ways of typing")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="query-time setting to try, e.g. bigram_weight=2.5")
    parser.add_argument("--no-xquad", action="store_true")
    args = parser.parse_args()
    if not VNTC.exists():
        raise SystemExit(f"{VNTC} not found: the benchmark reads ../shared")
    overrides = parse_overrides(args.overrides)
    workdir = Path(tempfile.mkdtemp(prefix="vnsearch-quality-"))
    try:
        source = sample_vntc(args.docs, args.seed, workdir)
        index_dir = args.index or workdir / "vntc-index"
        if not (index_dir / "CURRENT").exists():
            started = time.perf_counter()
            summary = build_index([source], index_dir, IndexSettings(procs=args.procs))
            kept = f" → {index_dir}" if args.index else " (removed afterwards; --index DIR keeps it for the next run)"
            print(f"built {summary.indexed:,} documents in {time.perf_counter() - started:.0f} s{kept}")
        queries = known_item_queries(source, args.split, args.queries, args.seed)
        with Index.open(index_dir) as index:
            n_docs = len(index)
        rows = evaluate(index_dir, overrides, queries, ("body",), args.procs)
        print_table(f"VNTC known-item ({args.split} titles → bodies only), {n_docs:,} documents, settings {overrides or 'as built'}", rows)
        if not args.no_xquad:
            print_table("XQuAD-vi (questions → 240 passages)", xquad_rows(workdir, overrides, args.procs))
    finally:
        # The sample, and the index unless --index named a place for it: ~350 MB for all of VNTC.
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
