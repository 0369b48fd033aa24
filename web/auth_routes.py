"""Sign-in, sign-out and password change as plain HTTP forms (issue 16, local mode), under /account/ (Streamlit
keeps /auth/ and /oauth2callback for st.login, the oidc mode).

Served by ``server.py`` (``st.App(routes=…)``) beside the dashboard. The session
token goes to the browser only as an HttpOnly, SameSite=Strict cookie (Secure
behind HTTPS), so no script of the page can read it and no other site can send
it; the database keeps only its SHA-256 (data/accounts.py). Each form carries a
CSRF token matched against a cookie of its own. Every attempt, refused or not,
is a row of the audit trail. Bodies are read only up to 4 KB.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import secrets
from urllib.parse import parse_qs

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from services import sessions
from services.engine import database_url

SESSION_COOKIE = "eldercare_session"
CSRF_COOKIE = "eldercare_csrf"
MAX_FORM_BYTES = 4096

_PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{title} · 养老服务一张图</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:"Noto Sans CJK SC",sans-serif;background:#f5f3ee;margin:0}}
main{{max-width:360px;margin:12vh auto;background:#fff;padding:28px 32px;border-radius:8px;
box-shadow:0 1px 4px rgba(0,0,0,.15)}}h1{{font-size:20px;margin:0 0 4px}}p.sub{{color:#666;margin:0 0 20px}}
label{{display:block;margin:12px 0 4px;font-size:14px}}input{{width:100%;box-sizing:border-box;padding:8px;
font-size:15px;border:1px solid #bbb;border-radius:4px}}button{{margin-top:20px;width:100%;padding:10px;
background:#c62828;color:#fff;border:0;border-radius:4px;font-size:15px}}.msg{{background:#fdecea;color:#b71c1c;
padding:8px 10px;border-radius:4px;margin-top:12px;font-size:14px}}.ok{{background:#e8f5e9;color:#1b5e20}}
.demo{{margin-top:20px;background:#fff8e1;border:1px solid #ffcc80;padding:8px 12px;border-radius:4px;font-size:13px}}
.demo ul{{margin:6px 0 0;padding-left:18px}}code{{background:#f5f5f5;padding:0 3px}}
</style></head><body><main><h1>养老服务一张图</h1><p class="sub">{title}</p>{message}
<form method="post" action="{action}" autocomplete="off">{fields}
<input type="hidden" name="csrf" value="{csrf}"><button type="submit">{button}</button></form>{after}</main></body></html>"""

_DEMO = ('<div class="demo" role="note"><b>演示账号</b>（仅本机试用演示数据；密码均为 <code>{password}</code>）：'
         '<ul>{items}</ul></div>')


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _peer(request: Request) -> str:
    return request.client.host if request.client else ""


def _client(request: Request) -> str:
    """The address a request comes from: the peer, or behind the reverse proxy on this machine (a loopback peer)
    the address it names last in X-Forwarded-For (the one it saw itself), so that sign-in limits and the audit
    trail tell the intranet's users apart rather than all being the proxy."""
    import ipaddress

    peer = _peer(request)
    forwarded = request.headers.get("x-forwarded-for", "")
    try:
        trusted = ipaddress.ip_address(peer).is_loopback
    except ValueError:
        trusted = False
    if trusted and forwarded.strip():
        return forwarded.split(",")[-1].strip()[:64]
    return peer


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "") == "https"


def _page(request: Request, *, title: str, action: str, fields: str, button: str, message: str = "",
          ok: bool = False, status: int = 200, after: str = "") -> Response:
    csrf = secrets.token_urlsafe(24)
    text = f'<div class="msg{" ok" if ok else ""}" role="alert">{html.escape(message)}</div>' if message else ""
    response = HTMLResponse(_PAGE.format(title=html.escape(title), action=action, fields=fields, button=button,
                                         message=text, csrf=csrf, after=after), status_code=status)
    response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict", secure=_secure(request), path="/account")
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(FORM_HEADERS)
    return response


# The sign-in forms may not be framed (clickjacking), run no script, load nothing from elsewhere and post only here.
FORM_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


async def _form(request: Request) -> dict[str, str] | None:
    """The posted form's fields (first value each), or None when it is too big, or its CSRF token is missing or
    not the one its cookie holds."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(fields.get("csrf", ""), expected):
        return None
    return fields


_LOGIN_FIELDS = ('<label for="login">登录名</label><input id="login" name="login" autofocus required maxlength="40">'
                 '<label for="password">密码</label>'
                 '<input id="password" name="password" type="password" required maxlength="200">')
_PASSWORD_FIELDS = ('<label for="old">原密码</label><input id="old" name="old" type="password" required maxlength="200">'
                    '<label for="new">新密码（至少 8 位，含大写、小写、数字、符号中的三类）</label>'
                    '<input id="new" name="new" type="password" required maxlength="200">'
                    '<label for="again">再次输入新密码</label>'
                    '<input id="again" name="again" type="password" required maxlength="200">')


def listens_on_loopback() -> bool:
    """Whether the server is bound to this machine only (the proxy mode trusts its header only then)."""
    from streamlit import config

    return str(config.get_option("server.address") or "") in ("127.0.0.1", "localhost", "::1")


PROXY_HEADERS = ("x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-real-ip", "forwarded")


def from_this_machine(request: Request) -> bool:
    """Whether the request itself comes from this machine: a loopback peer that no proxy forwarded (behind the
    README's reverse proxy every request has a loopback peer, but carries the proxy's headers). The demo accounts
    sign in, and are listed, only then."""
    import ipaddress

    try:
        loopback = ipaddress.ip_address(_peer(request)).is_loopback
    except ValueError:
        return False
    return loopback and not any(h in request.headers for h in PROXY_HEADERS)


def _demo_banner(request: Request) -> str:
    """The demo accounts, listed on the sign-in page while the database has enabled ones and the request comes
    from this machine."""
    if not from_this_machine(request):
        return ""
    listed = sessions.demo_accounts(database_url())
    if listed is None:
        return ""
    items = "".join(f"<li><code>{html.escape(login)}</code> {html.escape(role)}</li>" for login, role in listed)
    return _DEMO.format(password=html.escape(sessions.DEMO_PASSWORD), items=items)


def login_page(request: Request, message: str = "", *, status: int = 200, ok: bool = False) -> Response:
    return _page(request, title="登录", action="/account/login", fields=_LOGIN_FIELDS, button="登录", message=message,
                 status=status, ok=ok, after=_demo_banner(request))


async def login(request: Request) -> Response:
    if request.method == "GET":
        said = {"logout": "已退出登录", "timeout": "会话已超时，请重新登录"}.get(request.query_params.get("m", ""), "")
        return login_page(request, said, ok=bool(said))
    fields = await _form(request)
    if fields is None:
        return login_page(request, "表单已过期，请重新输入", status=400)
    login_name = fields.get("login", "").strip()[:40]
    # the password hash is slow on purpose: it runs in a worker thread, at most HASHING at a time, so a burst of
    # sign-ins waits its turn while every other request (the dashboard's own) is answered
    result = await anyio.to_thread.run_sync(_sign_in, login_name, fields.get("password", ""), _client(request),
                                            from_this_machine(request), limiter=_hashing())
    if result.user is None:
        return login_page(request, result.message, status=401)
    target = ("/account/password" if result.user.must_change_password else
              "/wall" if result.user.roles == ("display",) else "/")  # a screen's account goes to its wall
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION_COOKIE, result.token, httponly=True, samesite="strict", secure=_secure(request),
                        path="/")
    response.delete_cookie(CSRF_COOKIE, path="/account")
    return response


HASHING = 2  # sign-ins verified at once (the machine's cores); more wait in line


@functools.cache
def _hashing() -> anyio.CapacityLimiter:
    return anyio.CapacityLimiter(HASHING)


def _sign_in(login_name: str, password: str, client: str, local: bool) -> sessions.SignIn:
    """One attempt, recorded in the audit trail with its reason (the page says the same words for every refusal)."""
    return sessions.sign_in(database_url(), login_name, password, client=client, local=local, now=_now())


async def logout(request: Request) -> Response:
    if request.method == "GET":  # the dashboard's link: a form of its own, so the sign-out carries a CSRF token
        return _page(request, title="退出登录", action="/account/logout", fields="<p>确定要退出登录吗？</p>",
                     button="退出登录")
    token = request.cookies.get(SESSION_COOKIE, "")
    fields = await _form(request)
    if token and fields is not None:
        sessions.sign_out(database_url(), token, client=_client(request), now=_now())
    response = RedirectResponse("/account/login?m=logout", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def password(request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE, "")
    now = _now()
    user = sessions.session_user(database_url(), token, now=now)
    if user is None:
        return RedirectResponse("/account/login?m=timeout", status_code=303)

    def form(message: str = "", *, status: int = 200) -> Response:
        title = "首次登录，请修改密码" if user.must_change_password else "修改密码"
        return _page(request, title=title, action="/account/password", fields=_PASSWORD_FIELDS, button="修改密码",
                     message=message, status=status)

    if request.method == "GET":
        return form()
    fields = await _form(request)
    if fields is None:
        return form("表单已过期，请重新输入", status=400)
    if fields.get("new", "") != fields.get("again", ""):
        return form("两次输入的新密码不一致", status=400)
    try:
        sessions.change_password(database_url(), user.login, fields.get("old", ""), fields.get("new", ""),
                                 token=token, client=_client(request), now=now)
    except sessions.AccountError as exc:
        return form(str(exc), status=400)
    return RedirectResponse("/", status_code=303)


def auth_routes() -> list[Route]:
    return [Route("/account/login", login, methods=["GET", "POST"]), Route("/account/logout", logout, methods=["GET", "POST"]),
            Route("/account/password", password, methods=["GET", "POST"])]
