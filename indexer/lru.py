"""A bounded memo shared by the analysis, the engine and the suggester."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

V = TypeVar("V")
_MISSING = object()


class LRUCache(Generic[V]):
    """Keeps the ``size`` most recently used values, and with ``weigh`` at most ``max_weight``
    of them (bytes, say): a cache of postings must be bounded by memory, not by count, or an
    archive ten times larger fills ten times the memory.

    Safe to share between threads: the dictionary steps are atomic in CPython and the weight
    is kept under a lock; two threads racing for one key at worst compute it twice.
    """

    def __init__(self, size: int, weigh: Callable[[V], int] | None = None, max_weight: int | None = None) -> None:
        self.size = size
        self.weigh = weigh
        self.max_weight = max_weight
        self.weight = 0
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], V]) -> V:
        value = self._items.pop(key, _MISSING)
        if value is _MISSING:
            value = compute()
            if self.weigh is not None:
                with self._lock:
                    self.weight += self.weigh(value)
        self._items[key] = value
        while len(self._items) > self.size or (self.max_weight is not None and self.weight > self.max_weight and len(self._items) > 1):
            try:
                _, evicted = self._items.popitem(last=False)
            except KeyError:
                break
            if self.weigh is not None:
                with self._lock:
                    self.weight -= self.weigh(evicted)
        return value

    def __len__(self) -> int:
        return len(self._items)
