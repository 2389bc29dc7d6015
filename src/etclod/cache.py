"""Cache layer: answers worked out from an immutable release, kept in memory, bounded in bytes.

A release never changes, so an answer computed from it is valid until the service serves
another: entries are keyed by the release with the rest of the request, and every entry of
an older release is dropped as soon as a newer one is asked for. Least recently used
entries go first when the bound is reached; an answer larger than a quarter of the bound is
never kept (one huge answer must not flush every small one).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
ENTRY_OVERHEAD = 256
"""Bytes counted for an entry besides its body: the key, the entry, the dictionary slot."""


def cache_key(*parts: str) -> str:
    """One key (hex sha256) for the parts, with no two part lists giving the same key.

    >>> cache_key("a", "bc") == cache_key("ab", "c")
    False
    """
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    stored: int = 0
    evicted: int = 0


class AnswerCache(Generic[T]):
    """A byte-bounded LRU of answers of one release at a time (thread-safe).

    >>> cache = AnswerCache(1, size=len)
    >>> cache.put("r1", "k", b"answer")
    True
    >>> cache.get("r1", "k"), cache.get("r2", "k"), cache.get("r1", "k")
    (b'answer', None, None)
    """

    def __init__(self, max_mb: float, size: Callable[[T], int]) -> None:
        self.max_bytes = int(max_mb * 1024 * 1024)
        self.size = size
        self.stats = CacheStats()
        self._entries: OrderedDict[str, tuple[T, int]] = OrderedDict()
        self._bytes = 0
        self._release: str | None = None
        self._lock = threading.Lock()

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def _follow(self, release: str) -> None:
        if release != self._release:
            self._entries.clear()
            self._bytes = 0
            self._release = release

    def get(self, release: str, key: str) -> T | None:
        with self._lock:
            self._follow(release)
            entry = self._entries.get(key)
            if entry is None:
                self.stats.misses += 1
                return None
            self._entries.move_to_end(key)
            self.stats.hits += 1
            return entry[0]

    def put(self, release: str, key: str, value: T) -> bool:
        """Keep ``value``; False when it is too large to keep (or the cache is off)."""
        cost = self.size(value) + ENTRY_OVERHEAD
        if cost > self.max_bytes // 4:
            return False
        with self._lock:
            self._follow(release)
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._entries[key] = (value, cost)
            self._bytes += cost
            self.stats.stored += 1
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped
                self.stats.evicted += 1
            return True
