"""The bounded memo behind the tokenizer, the engine's term caches and the suggester."""

import threading

from indexer.lru import LRUCache


def test_keeps_the_most_recently_used_values():
    cache, computed = LRUCache(2), []

    def get(key):
        return cache.get_or_compute(key, lambda: computed.append(key) or key.upper())

    assert [get("bộ"), get("chi"), get("bộ"), get("đảng"), get("bộ"), get("chi")] == ["BỘ", "CHI", "BỘ", "ĐẢNG", "BỘ", "CHI"]
    # "chi" was the least recently used when "đảng" came, so it was computed again.
    assert computed == ["bộ", "chi", "đảng", "chi"] and len(cache) == 2


def test_threads_sharing_it_never_fail():
    cache, errors = LRUCache(8), []

    def hammer(offset):
        try:
            for n in range(5000):
                key = (n * 7 + offset) % 13
                assert cache.get_or_compute(key, lambda: key * 2) == key * 2
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(cache) <= 8


def test_a_weighed_cache_keeps_its_weight_under_the_bound():
    cache = LRUCache(100, weigh=len, max_weight=10)
    for word in ["sinh", "hoạt", "chi", "bộ", "đảng", "viên"]:
        cache.get_or_compute(word, lambda w=word: w * 2)  # "sinhsinh" weighs 8
    assert cache.weight <= 10 and cache.weight == sum(len(v) for v in cache._items.values())
    assert len(cache) < 6
