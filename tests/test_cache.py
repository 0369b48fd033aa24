"""The services' memo: an LRU with a time-to-live outside Streamlit, and a backend the dashboard can swap."""

from __future__ import annotations

import pytest

from services import cache


@pytest.fixture()
def local_backend():
    before = cache.backend()
    cache.use_backend(cache.LocalBackend())
    yield
    cache.use_backend(before)


def counting(kind="data", **spec):
    calls = []

    @cache.memo(kind=kind, **spec)
    def f(x, *, y=0):
        calls.append((x, y))
        return [x, y]

    return f, calls


def test_same_arguments_compute_once_and_others_again(local_backend):
    f, calls = counting()
    assert f(1) == [1, 0] and f(1) == [1, 0]
    assert f(1, y=2) == [1, 2] and f(2) == [2, 0]
    assert calls == [(1, 0), (1, 2), (2, 0)]


def test_data_results_are_copies_a_caller_cannot_spoil(local_backend):
    f, _ = counting()
    first = f(1)
    first.append("edited")
    assert f(1) == [1, 0]
    assert f(1) is not f(1)


def test_a_resource_is_one_shared_object(local_backend):
    f, calls = counting(kind="resource")
    assert f(1) is f(1)
    assert len(calls) == 1


def test_least_recently_used_entry_is_dropped_beyond_max_entries(local_backend):
    f, calls = counting(max_entries=2)
    f(1), f(2), f(1), f(3)  # 2 is now the least recently used of three: dropped
    calls.clear()
    f(1), f(3), f(2)
    assert calls == [(2, 0)]


def test_entries_expire_after_their_time_to_live(local_backend, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(cache.time, "monotonic", lambda: clock[0])
    f, calls = counting(ttl_s=300)
    f(1)
    clock[0] += 299
    f(1)
    assert len(calls) == 1
    clock[0] += 2  # 301 s after it was computed
    f(1)
    assert len(calls) == 2


def test_an_unhashable_argument_is_an_error_naming_the_service(local_backend):
    f, _ = counting()
    with pytest.raises(TypeError, match=r"f: every argument of a memoised service must be hashable"):
        f([1, 2])


def test_clear_all_forgets_every_result(local_backend):
    f, calls = counting(ttl_s=None)
    f(1)
    cache.clear_all()
    f(1)
    assert len(calls) == 2


def test_the_active_backend_wraps_the_function_with_its_spec():
    seen = []

    class Recording:
        def wrap(self, fn, spec):
            seen.append((fn.__name__, spec))
            wrapped = cache.LocalBackend().wrap(fn, spec)
            return wrapped

    before = cache.backend()
    cache.use_backend(Recording())
    try:
        @cache.memo(kind="resource", ttl_s=None, max_entries=4, message="正在构建 …")
        def engine(ref):
            return object()

        assert engine("a") is engine("a")
        assert seen == [("engine", cache.CacheSpec("resource", None, 4, "正在构建 …"))]  # wrapped once per backend
    finally:
        cache.use_backend(before)
