"""One memoising decorator for the services, with a pluggable backend.

The services are plain functions; the expensive ones (the walking network and
coverage engine, the scorecard, isochrones) are memoised on their arguments.
Every such argument list starts with a ``DataRef``, which names the database,
the district and the exact data versions, so an import or a rollback is a new
key and never serves stale figures.

Outside Streamlit (the CLI, scheduled report exports, benchmarks) the backend
is an in-process LRU with a time-to-live. The dashboard installs Streamlit's own
caches once, in ``app.py`` (``use_backend(StreamlitBackend())``): spinners with
the message given here, ``st.cache_data``'s copies for data, shared objects for
resources. This module imports no Streamlit.
"""

from __future__ import annotations

import functools
import pickle
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

Kind = Literal["data", "resource"]


@dataclass(frozen=True)
class CacheSpec:
    """How one function is memoised."""

    kind: Kind  # "data": a result a caller may hold; "resource": one shared, read-only object (the engine)
    ttl_s: float | None  # seconds an entry lives; None: until evicted
    max_entries: int | None  # least recently used entries beyond this are dropped; None: no bound
    message: str | None  # what the user is told while it computes (Streamlit's spinner)


class Backend(Protocol):
    def wrap(self, fn: Callable, spec: CacheSpec) -> Callable:
        """``fn`` memoised; the returned callable has a ``clear()``."""


class LocalBackend:
    """An in-process LRU with a time-to-live, safe across threads.

    Data entries are kept pickled and every hit gets its own copy (as with
    ``st.cache_data``), so a caller that edits a result cannot change the cache.
    """

    def wrap(self, fn: Callable, spec: CacheSpec) -> Callable:
        return _LocalMemo(fn, spec)


class _LocalMemo:
    def __init__(self, fn: Callable, spec: CacheSpec) -> None:
        self._fn, self._spec = fn, spec
        self._copies = spec.kind == "data"
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[Hashable, threading.Lock] = {}

    def __call__(self, *args, **kwargs):
        key = _key(self._fn, args, kwargs)
        hit, stored = self._get(key)
        if hit:
            return self._thaw(stored)
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # two threads asking for the same key compute it once
            hit, stored = self._get(key)
            if hit:
                value = self._thaw(stored)
            else:
                value = self._fn(*args, **kwargs)
                self._put(key, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL) if self._copies else value)
        with self._lock:
            self._key_locks.pop(key, None)
        return value

    def _thaw(self, stored):
        return pickle.loads(stored) if self._copies else stored  # noqa: S301 (our own bytes, never a client's)

    def _get(self, key) -> tuple[bool, Any]:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return False, None
            expires, value = entry
            if expires < time.monotonic():
                del self._entries[key]
                return False, None
            self._entries.move_to_end(key)
            return True, value

    def _put(self, key, value) -> None:
        ttl = self._spec.ttl_s
        with self._lock:
            self._entries[key] = (time.monotonic() + ttl if ttl is not None else float("inf"), value)
            self._entries.move_to_end(key)
            limit = self._spec.max_entries
            while limit is not None and len(self._entries) > limit:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def _key(fn: Callable, args: tuple, kwargs: dict) -> Hashable:
    key = (args, tuple(sorted(kwargs.items())))
    try:
        hash(key)
    except TypeError as exc:
        msg = (f"{fn.__qualname__}: every argument of a memoised service must be hashable "
               f"(a DataRef, str, number, tuple, bytes); got {exc}")
        raise TypeError(msg) from exc
    return key


_backend: Backend = LocalBackend()
_memos: list[Memo] = []


def use_backend(backend: Backend) -> None:
    """Route every memoised service through ``backend`` from now on (the dashboard: Streamlit's caches)."""
    global _backend
    _backend = backend


def backend() -> Backend:
    return _backend


def clear_all(*, keep: tuple = ()) -> None:
    """Forget every memoised result, in every backend used so far (but those of the memos in ``keep``)."""
    for memo in _memos:
        if memo not in keep:
            memo.clear()


class Memo:
    """A memoised service: a plain function, wrapped by whichever backend is active when it is called."""

    def __init__(self, fn: Callable, spec: CacheSpec) -> None:
        functools.update_wrapper(self, fn)
        self._fn, self.spec = fn, spec
        self._wrapped: dict[int, tuple[Backend, Callable]] = {}
        self._lock = threading.Lock()
        _memos.append(self)

    def _current(self) -> Callable:
        b = _backend
        entry = self._wrapped.get(id(b))
        if entry is None or entry[0] is not b:
            with self._lock:
                entry = self._wrapped.get(id(b))
                if entry is None or entry[0] is not b:
                    entry = (b, b.wrap(self._fn, self.spec))
                    self._wrapped[id(b)] = entry
        return entry[1]

    def __call__(self, *args, **kwargs):
        return self._current()(*args, **kwargs)

    def uncached(self, *args, **kwargs):
        """The computation itself, bypassing every cache (benchmarks, tests of the cache)."""
        return self._fn(*args, **kwargs)

    def clear(self) -> None:
        for _b, wrapped in list(self._wrapped.values()):
            wrapped.clear()


def memo(*, kind: Kind = "data", ttl_s: float | None = 300, max_entries: int | None = None,
         message: str | None = None) -> Callable[[Callable], Memo]:
    """Memoise a service on its (hashable) arguments; see the module's docstring."""

    def decorate(fn: Callable) -> Memo:
        return Memo(fn, CacheSpec(kind, ttl_s, max_entries, message))

    return decorate
