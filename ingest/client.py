"""The sender's side of the ingest contract: re-send a batch, with the same event ids, until it is accepted.

A 201 means committed. A dropped connection or a 502 / 503 / 504 means "not
known to be stored": the same items are sent again (a re-sent event is stored
once). Any other status is the sender's mistake and is not retried.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx2 as httpx

RETRY_STATUS = (502, 503, 504)


class IngestRejected(Exception):
    """The service refused the items (4xx): retrying would not help."""

    def __init__(self, path: str, status: int, text: str) -> None:
        super().__init__(f"{path}: HTTP {status} {text[:300]}")
        self.path, self.status, self.text = path, status, text


class IngestUnavailable(Exception):
    """No 201 after ``max_attempts``."""


def post_until_accepted(client: httpx.Client, path: str, token: str, items: list[dict], *, pause_s: float,
                        backoff: float = 1.0, max_attempts: int | None = None,
                        on_retry: Callable[[], None] | None = None) -> dict:
    """POST ``items`` until a 201; its JSON body. Waits ``pause_s`` × ``backoff``^attempt between tries."""
    attempt = 0
    while max_attempts is None or attempt < max_attempts:
        try:
            r = client.post(path, json=items, headers={"Authorization": f"Bearer {token}"})
        except httpx.TransportError:
            r = None
        if r is not None and r.status_code == 201:
            return r.json()
        if r is not None and r.status_code not in RETRY_STATUS:
            raise IngestRejected(path, r.status_code, r.text)
        if on_retry:
            on_retry()
        time.sleep(pause_s * backoff ** attempt)
        attempt += 1
    msg = f"{path}: no 201 after {max_attempts} attempts"
    raise IngestUnavailable(msg)
