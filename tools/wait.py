"""Waiting for a condition (a server answering, a row appearing) instead of sleeping a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable


def http_ok(url: str) -> bool:
    """Whether ``url`` answers 200 now (False while nothing listens there yet)."""
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def wait_until(condition: Callable[[], object], *, timeout_s: float, what: str, poll_s: float = 0.1):
    """Call ``condition`` until it returns something truthy (returned) or ``timeout_s`` passes
    (TimeoutError naming ``what``). Polls quickly at first, then up to every ``poll_s`` × 5."""
    deadline = time.monotonic() + timeout_s
    pause = poll_s / 4
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            msg = f"timed out after {timeout_s:g} s waiting for {what}"
            raise TimeoutError(msg)
        time.sleep(pause)
        pause = min(pause * 2, poll_s * 5)
