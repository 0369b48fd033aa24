"""会议模式 on the projector: ``/meeting/present?district=CODE[&meeting=ID][&township=CODE]`` serves the meeting's
slides as one full-screen page (reports/deck_html.py): no sidebar, ←/→ and a clicker's PageUp/PageDown, F for full
screen, offline (everything inline).

The signed-in user comes from the session cookie (local mode) or the reverse proxy's header (proxy mode), checked
like every page: a role that may present, the district within the account's area, and a township head's slides of
their own township only. Each opening is a row of the audit trail.
"""

from __future__ import annotations

import datetime as dt
import html

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from services import access, audit, meetings, sessions
from services.base import current_ref, district_list, get_config
from services.engine import database_url
from web.auth_routes import SESSION_COOKIE, _client, listens_on_loopback

HEADERS = {"Cache-Control": "no-store",
           "Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
                                      "script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'",
           "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def _user(request: Request):
    auth = get_config().auth
    url = database_url()
    if auth.mode == "local":
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        return sessions.session_user(url, request.cookies.get(SESSION_COOKIE, ""), now=now)
    if auth.mode == "proxy" and listens_on_loopback():
        login = request.headers.get(auth.proxy_user_header, "").strip().lower()
        return sessions.find_user(url, login=login) if login else None
    return None  # oidc: the identity provider's session lives in Streamlit; present from the page's preview


def _refusal(message: str, status: int) -> Response:
    body = (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>会议模式</title></head>'
            f'<body style="font-family:sans-serif;padding:3em"><h1>会议模式</h1><p>{html.escape(message)}</p>'
            f'<p><a href="/meeting">返回会议模式设置</a></p></body></html>')
    return HTMLResponse(body, status_code=status, headers=HEADERS)


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


async def present(request: Request) -> Response:
    user = await anyio.to_thread.run_sync(_user, request)
    if user is None:
        if get_config().auth.mode == "oidc":
            return _refusal("统一身份认证模式下请在“会议模式”页面中演示（页面内全屏预览）。", 403)
        return RedirectResponse("/account/login", status_code=303)
    return await anyio.to_thread.run_sync(_render, request, user)


def _render(request: Request, user) -> Response:
    from reports.content import ReportError
    from reports.deck import SLIDES, DeckRequest, deck_for
    from reports.deck_html import deck_html

    url = database_url()
    district = request.query_params.get("district", "")
    caller = access.Caller(user, "", _client(request))
    if request.query_params.get("city"):
        return _render_city(request, user, caller, url)
    if district not in set(district_list(url)["code"]):
        return _refusal(f"数据库中没有区县 {district or '（未指定）'}。", 404)
    scope = access.scope_of(user, district)
    township = meetings.presented_township(scope, request.query_params.get("township") or None)
    try:  # the role, the account's area, and a township head's own township
        audit.allowed_area(url, caller, "meeting.present", district, None if scope.whole else township)
    except access.AccessDenied as exc:
        return _refusal(str(exc), 403)
    ref = current_ref(url, district)
    try:
        plan = meetings.meeting(ref, _int(request.query_params.get("meeting")) or -1) \
            if request.query_params.get("meeting") else None
    except meetings.MeetingError as exc:
        return _refusal(str(exc), 404)
    on = dt.datetime.now(get_config().app.zone).date()
    if plan is None:  # no meeting saved yet: today's, compared with the default baseline
        from services import scorecard as sc

        plan = meetings.default_plan("", tuple(SLIDES), on=on, since=sc.default_baseline(ref))
    try:
        request = DeckRequest(township=township, since=plan.since, target_id=plan.target_id,
                              scenario_id=plan.scenario_id, agenda=plan.agenda, as_of=plan.data_date)
        deck = deck_for(meetings.data_ref(ref, plan), request, on)
    except ReportError as exc:
        return _refusal(str(exc), 400)
    audit.record(url, "meeting.present", object=f"{district} {deck.title}", township=township or "",
                 detail={"meeting": plan.id, "slides": [s.id for s in deck.slides]},
                 actor=caller.actor)
    return HTMLResponse(deck_html(deck, present=True), headers=HEADERS)


def present_routes() -> list[Route]:
    return [Route("/meeting/present", present, methods=["GET"])]


def _render_city(request: Request, user, caller: access.Caller, url: str) -> Response:
    """A city's meeting (``?city=CODE[&since=DATE][&target=ID][&agenda=a,b]``), for an account that sees every
    district of the city (services.city.cities_of)."""
    from reports.content import ReportError
    from reports.deck import CITY_SLIDES, DeckRequest, city_deck_for
    from reports.deck_html import deck_html
    from services import city

    code = request.query_params["city"]
    try:
        audit.allowed(url, caller, "meeting.present", object=code)
    except access.AccessDenied as exc:
        return _refusal(str(exc), 403)
    chosen = next((c for c in city.cities_of(url, user) if c.code == code), None)
    if chosen is None:
        audit.record(url, "meeting.present", object=code, actor=caller.actor, outcome="refused",
                     detail={"why": "city out of scope"})
        return _refusal(f"账号 {user.login} 不能查看城市 {code} 的全部区县，无法演示全市会议。", 403)
    params = request.query_params
    try:
        since = dt.date.fromisoformat(params["since"]) if params.get("since") else None
        agenda = tuple(a for a in params.get("agenda", ",".join(CITY_SLIDES)).split(",") if a)
        deck_request = DeckRequest(since=since, target_id=params.get("target") or meetings.DEFAULT_TARGET,
                                   agenda=agenda)
        on = dt.datetime.now(get_config().app.zone).date()
        deck = city_deck_for(url, chosen.code, city.district_refs(url, chosen), deck_request, on)
    except (ValueError, ReportError, city.CityError) as exc:
        return _refusal(str(exc), 400)
    audit.record(url, "meeting.present", object=f"{code} {deck.title}", actor=caller.actor,
                 detail={"city": code, "slides": [s.id for s in deck.slides]})
    return HTMLResponse(deck_html(deck, present=True), headers=HEADERS)

