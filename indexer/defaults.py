"""What the builder and the CLI default to, in a module that imports nothing heavy: a search
process (``vnsearch search``, the server) never imports the builder (tqdm, multiprocessing,
the merger), and the CLI's help needs these values before any command runs."""

from __future__ import annotations

import os
from pathlib import Path

# An update that would remove more than this share of the live articles stops before writing
# (rsync's --max-delete): a source folder whose mount came back empty, or a feed replaced by
# a stub, must not empty the archive's index. ``allow_removals`` lifts it.
MAX_REMOVAL_SHARE = 0.2


def shipped_corpus() -> Path:
    """The sample articles shipped beside the packages (a source checkout), else ./corpus."""
    beside = Path(__file__).resolve().parent.parent / "corpus"
    return beside if beside.is_dir() else Path("corpus")


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity), not every core of the machine:
    the default number of build processes and server workers."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
