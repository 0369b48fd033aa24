"""大屏 (the wall display): ``/wall[?district=CODE]`` serves a page nobody touches, which reads ``/wall/data`` every
ten seconds (services/wall.py), rotates the scorecard's lights and the open alerts, and reconnects by itself after a
network drop or a server restart (the session lives in the database, so it outlasts a restart).

Signed in like every account (the session cookie; the reverse proxy's header in proxy mode); a ``display`` account
reads the wall and nothing else, and is revoked by disabling it. Its scope is its account's, like any other.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from services import access, wall
from services.engine import database_url
from web.present import HEADERS, _user

PAGE = Path(__file__).resolve().parent / "wall.html"


async def wall_page(request: Request) -> Response:
    user = await anyio.to_thread.run_sync(_user, request)
    if user is None:
        return RedirectResponse("/account/login", status_code=303)
    if not access.may(user, "wall.view"):
        return HTMLResponse(f"<!doctype html><meta charset='utf-8'><p>{access.refusal(user, 'wall.view')}</p>",
                            status_code=403, headers=HEADERS)
    return HTMLResponse(PAGE.read_text(encoding="utf-8"), headers=HEADERS | {
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
                                   "connect-src 'self'; base-uri 'none'; form-action 'none'"})


async def wall_data(request: Request) -> Response:
    user = await anyio.to_thread.run_sync(_user, request)
    if user is None:
        return JSONResponse({"error": "未登录或会话已结束"}, status_code=401, headers=HEADERS)
    if not access.may(user, "wall.view"):
        return JSONResponse({"error": access.refusal(user, "wall.view")}, status_code=403, headers=HEADERS)
    try:
        data = await anyio.to_thread.run_sync(_data, user, request.query_params.get("district") or None)
    except wall.WallError as exc:
        return JSONResponse({"error": str(exc)}, status_code=403, headers=HEADERS)
    return JSONResponse(data, headers=HEADERS)


def _data(user, district: str | None) -> dict:
    url = database_url()
    code = wall.wall_district(url, user, district)
    return wall.wall_data(url, user, code, now=dt.datetime.now(dt.UTC).replace(tzinfo=None))


def wall_routes() -> list[Route]:
    return [Route("/wall", wall_page, methods=["GET"]), Route("/wall/data", wall_data, methods=["GET"])]
