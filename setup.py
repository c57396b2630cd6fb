"""The compiled parts of vnsearch: indexer._postings (reading postings), search._scoring
(scoring them) and search._text (scanning a text for its snippet); see README "Design
notes". Everything else about the package is in pyproject.toml."""

import sys

from setuptools import Extension, setup

# Bit-identical float32 results with the NumPy reference need the arithmetic as written: no
# fused multiply-add contraction, no reassociation.
flags = [] if sys.platform == "win32" else ["-O2", "-ffp-contract=off", "-fno-fast-math", "-std=c99"]

setup(ext_modules=[
    Extension("indexer._postings", ["indexer/_postings.c"], extra_compile_args=flags),  # the codec's reading loops
    Extension("search._scoring", ["search/_scoring.c"], extra_compile_args=flags),  # the engine's scoring loops
    Extension("search._text", ["search/_text.c"], extra_compile_args=flags),  # the scans of a text for its snippet
])
