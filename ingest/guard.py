"""What the ingest service checks before FastAPI reads a request: who sends it, and how big it is.

FastAPI reads and parses a request's whole JSON body before it resolves the
bearer-token dependency, so without this anyone could make the service read and
parse any amount of data. ``WriteGuard`` is plain ASGI in front of the app: a
write (any method but GET, HEAD, OPTIONS) must carry a known token before a byte
of its body is read, and its body is read only up to ``max_bytes`` (413 beyond,
whether announced by Content-Length or streamed in chunks). The body it read is
handed on unchanged, with the credential, so the app looks the token up once.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool

READS = frozenset({"GET", "HEAD", "OPTIONS"})
CREDENTIAL = "credential"  # the request state's key of the authenticated (role, station)


class WriteGuard:
    def __init__(self, app, *, authenticate: Callable[[str], tuple | None], max_bytes: int) -> None:
        self.app = app
        self.authenticate = authenticate  # token -> (role, station) or None; runs in a worker thread
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] in READS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            await _refuse(send, 401, "missing bearer token (Authorization: Bearer …)")
            return
        found = await run_in_threadpool(self.authenticate, token.strip())
        if found is None:
            await _refuse(send, 401, "unknown or revoked token")
            return
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await _refuse(send, 413, f"request body over {self.max_bytes:,} bytes; send fewer items per request")
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await _refuse(send, 413, f"request body over {self.max_bytes:,} bytes; send fewer items per request")
                return
            if not message.get("more_body", False):
                break
        scope.setdefault("state", {})[CREDENTIAL] = found
        handed = False

        async def replay():
            nonlocal handed
            if not handed:
                handed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()  # after the body: the client's disconnect, if it comes

        await self.app(scope, replay, send)


async def _refuse(send, code: int, detail: str) -> None:
    """The reply FastAPI's HTTPException would give: {"detail": …} (and the Bearer challenge on 401)."""
    content = json.dumps({"detail": detail}, ensure_ascii=False).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())]
    if code == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": code, "headers": headers})
    await send({"type": "http.response.body", "body": content})
