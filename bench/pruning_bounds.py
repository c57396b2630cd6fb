"""Would block-max dynamic pruning pay off for vnsearch's queries? Measures how much of the
collection a top-10 query must still score exactly when every block of documents is skipped
whose score upper bound (the sum over the query's terms of each term's best score in the
block, as block-max WAND / MaxScore use) is below the 10th best score.

The bound is computed from the exact scores, so this is the best any block-max scheme over
document-number blocks could do (real ones also pay for reading the bounds). A fraction near 1
means nearly every block must be scored anyway.

    python bench/pruning_bounds.py --index DIR               # an index of VNTC (vnsearch index)
    python bench/pruning_bounds.py --docs 5000               # builds a sample first
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from indexer import build_index  # noqa: E402
from search import Index  # noqa: E402
from search.engine import Gate, Term  # noqa: E402
from search.query import parse_query  # noqa: E402
from search.rank import build_query  # noqa: E402

VNTC = ROOT.parent / "shared" / "corpus" / "vntc.jsonl.gz"


def block_bounds(engine, node, block: int, blocks: int) -> np.ndarray:
    """Per block of ``block`` documents: an upper bound of ``node``'s score there."""
    if isinstance(node, Term):
        docs, unit = engine.unit_scores(node.field, node.text, node.k1, node.b)
        bound = np.zeros(blocks, dtype=np.float64)
        if docs.size:
            np.maximum.at(bound, docs // block, unit.astype(np.float64) * node.boost)
        return bound
    if isinstance(node, Gate):
        return block_bounds(engine, node.scored, block, blocks)
    # Sum adds its children; Best (best + tiebreak × the others, tiebreak ≤ 1) is at most their sum.
    return sum((block_bounds(engine, child, block, blocks) for child in node.children), np.zeros(blocks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, help="an index of VNTC; default: build --docs articles first")
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()
    with gzip.open(VNTC, "rt", encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    titles = [" ".join(r["title"].split()) for r in records if r["title"] and "<" not in r["title"]]
    random.Random(13).shuffle(titles)
    index_dir = args.index
    if index_dir is None:
        index_dir = Path(tempfile.mkdtemp(prefix="vnsearch-pruning-")) / "ix"
        sample = index_dir.parent / "sample.jsonl"
        sample.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records[: args.docs]), encoding="utf-8")
        build_index([sample], index_dir)
    kinds = {"title": titles[: args.queries], "first 3 words": [" ".join(t.split()[:3]) for t in titles[: args.queries]],
             "first 2 words": [" ".join(t.split()[:2]) for t in titles[: args.queries]]}
    with Index.open(index_dir) as index:
        engine = index._engine
        print(f"Blocks a top-10 query must score exactly under block-max bounds ({engine.documents:,} documents)\n")
        print("| queries | block size | blocks | median share to score | mean |")
        print("|---|---|---|---|---|")
        for kind, queries in kinds.items():
            for block in (128, 1024, 4096):
                blocks = -(-engine.size // block)
                shares = []
                for text in queries:
                    built = build_query(parse_query(text), index.settings)
                    scores = engine.scores(built.scored)
                    kth = np.sort(scores)[-10] if scores.size >= 10 else 0.0
                    shares.append(float((block_bounds(engine, built.scored, block, blocks) >= kth).mean()))
                print(f"| {kind} | {block} | {blocks:,} | {statistics.median(shares):.2f} | {statistics.mean(shares):.2f} |")


if __name__ == "__main__":
    main()
