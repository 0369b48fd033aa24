"""The sign-in gate in front of the dashboard (local mode): a browser opening a page without a live session is
sent to /account/login before any of the app is served, and Streamlit's upload, media and metrics routes answer
nobody without one.

Plain ASGI, so it sees every request first. Only page navigations (a GET asking for HTML, outside the
sign-in forms and Streamlit's own asset and health routes) are checked; each page run checks the session
again in the app itself (dashboard/auth.py), which is what guards the data: this gate is what a person sees.
"""

from __future__ import annotations

import datetime as dt
from http.cookies import SimpleCookie

from services import sessions
from services.engine import database_url, get_config
from web.auth_routes import SESSION_COOKIE

# Streamlit's own routes that hand out or take in data: refused (403) to a request without a signed-in session,
# whatever it asks for (an upload PUT, a media file, the metrics)
SESSION_PREFIXES = ("/_stcore/upload_file", "/media/", "/_stcore/metrics")
OPEN_PREFIXES = ("/account/", "/auth/", "/oauth2callback", "/_stcore/", "/static/", "/app/static/", "/component/",
                 "/media/", "/favicon")


def _cookie(headers: list[tuple[bytes, bytes]], name: str) -> str:
    for key, value in headers:
        if key == b"cookie":
            jar = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # noqa: BLE001  (a malformed cookie header is no session)
                return ""
            if name in jar:
                return jar[name].value
    return ""


def _wants_html(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(k == b"accept" and b"text/html" in v for k, v in headers)


def _signed_in(token: str) -> bool:
    return sessions.signed_in(database_url(), token, now=dt.datetime.now(dt.UTC).replace(tzinfo=None))


class SignInGate:
    """ASGI middleware: page navigations without a session are redirected to the sign-in form."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if (scope["type"] == "http" and scope["path"].startswith(SESSION_PREFIXES) and get_config().auth.mode == "local"
                and not _signed_in(_cookie(scope["headers"], SESSION_COOKIE))):
            await send({"type": "http.response.start", "status": 403,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"cache-control", b"no-store")]})
            await send({"type": "http.response.body", "body": "请先登录（sign in first）".encode()})
            return
        if (scope["type"] == "http" and scope["method"] == "GET" and get_config().auth.mode == "local"
                and not scope["path"].startswith(OPEN_PREFIXES) and _wants_html(scope["headers"])
                and not _signed_in(_cookie(scope["headers"], SESSION_COOKIE))):
            await send({"type": "http.response.start", "status": 303,
                        "headers": [(b"location", b"/account/login"), (b"cache-control", b"no-store"),
                                    (b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        await self.app(scope, receive, send)
