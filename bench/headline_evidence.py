"""Count the headline evidence table that search.headline_evidence ships, from VNTC's train split.

    python bench/headline_evidence.py            # writes search/data/headline_evidence.tsv

Only the train split is counted: bench/quality.py measures on test-split titles, which must
not have shaped the weights.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from indexer.sources import Article, read_sources  # noqa: E402
from search.headline_evidence import SHIPPED, count_headline_evidence, write_table  # noqa: E402

VNTC = ROOT.parent / "shared" / "corpus" / "vntc.jsonl.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path, nargs="?", default=VNTC, help="JSONL(.gz) with title and body")
    parser.add_argument("--split", default="train", help="only records whose 'split' field is this ('' for all)")
    parser.add_argument("--out", type=Path, default=SHIPPED)
    args = parser.parse_args()
    if not args.corpus.exists():
        raise SystemExit(f"{args.corpus} not found")
    articles = (
        r for r in read_sources([args.corpus])
        if isinstance(r, Article) and (not args.split or r.meta.get("split") == args.split)
    )
    in_headlines, in_text = count_headline_evidence(articles)
    where = f"{args.corpus.name}, split {args.split or 'all'}"
    rows = write_table(args.out, in_headlines, in_text, where)
    print(f"{args.out}: {rows:,} terms from {where}")


if __name__ == "__main__":
    main()
