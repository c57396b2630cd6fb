"""A bounded memo shared by the analysis, the engine and the suggester."""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

V = TypeVar("V")
_MISSING = object()


class LRUCache(Generic[V]):
    """Keeps the ``size`` most recently used values.

    Safe to share between threads: every step is one dict operation (atomic in CPython), and
    two threads racing for one key at worst compute it twice. (``get`` then ``move_to_end``
    could fail when another thread evicted the key in between.)
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, V] = OrderedDict()

    def get_or_compute(self, key: Hashable, compute: Callable[[], V]) -> V:
        value = self._items.pop(key, _MISSING)
        if value is _MISSING:
            value = compute()
        self._items[key] = value
        while len(self._items) > self.size:
            try:
                self._items.popitem(last=False)
            except KeyError:
                break
        return value

    def __len__(self) -> int:
        return len(self._items)
