"""Who is using this browser session, checked on every run, and the page gate (issue 16).

One user record (data.accounts.User: login, roles, townships) whatever the mode in ``[auth] mode``:

- ``local``: the session cookie set by the sign-in form (web/auth_routes.py), checked against the database on
  every run: idle and absolute timeouts, sign-out and disable end it at the next click;
- ``oidc``: Streamlit's ``st.login`` against the intranet's identity provider; the provider's subject is mapped
  to a local account (``python cli.py user add … --oidc-subject``), and the app's own idle timeout applies;
- ``proxy``: the user header of a trusted gateway, accepted only while the app listens on loopback behind it.

The token read from the session cookie is kept in session state, where no browser can write, and checked on
every run against the cookie of the connection behind the run: a Streamlit session id reused by a connection
without the cookie (or with another's) does not carry the signed-in session over.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from dashboard.state import AUTH_SEEN, AUTH_TOKEN
from services import access, base, sessions
from services import audit as audit_service
from services.accounts import User
from services.engine import database_url
from web.auth_routes import SESSION_COOKIE, listens_on_loopback


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def client_address() -> str:
    """The browser's address as the WebSocket saw it (None from this machine: shown as 127.0.0.1)."""
    try:
        ip = st.context.ip_address
    except Exception:  # noqa: BLE001  (no request behind this run, as in AppTest)
        ip = None
    return ip if isinstance(ip, str) and ip else "127.0.0.1"


def session_hash() -> str:
    token = st.session_state.get(AUTH_TOKEN)
    return sessions.token_hash(token)[:16] if token else ""


def actor(user: User):
    """The user as this session's audit rows name them."""
    return user.actor(session=session_hash(), client=client_address())


def _record(action: str, *, login: str, outcome: str = "ok", **detail) -> None:
    audit_service.record(database_url(), action, actor=audit_service.Actor(login, "", session_hash(), client_address()),
                         outcome=outcome, detail=detail)


def _request_cookie() -> str | None:
    """The session cookie of the connection behind this run ("" when it has none), or None when no request is
    behind it (AppTest). On a reconnection Streamlit attaches the new connection to the session, so this is read
    anew on every run."""
    try:
        if not st.context.headers:  # a real connection always sends headers (Host)
            return None
        token = st.context.cookies.get(SESSION_COOKIE)
    except Exception:  # noqa: BLE001  (no request behind this run)
        return None
    return token if isinstance(token, str) else ""


def _local_user() -> tuple[User | None, str | None]:
    cookie = _request_cookie()
    if AUTH_TOKEN not in st.session_state:
        st.session_state[AUTH_TOKEN] = cookie or ""
    elif cookie is not None and cookie != st.session_state[AUTH_TOKEN]:
        # the session is driven by a connection without its cookie (a Streamlit session id reused elsewhere) or
        # with another sign-in's: it is that connection's sign-in, or none, that counts from now on
        st.session_state[AUTH_TOKEN] = cookie
    token = st.session_state[AUTH_TOKEN]
    if not token:
        return None, None
    return sessions.check(database_url(), token, now=_now(), client=client_address())


def _account_user(**where) -> User | None:
    return sessions.find_user(database_url(), **where)


def _idle_over(policy) -> bool:
    """oidc and proxy: the app's own idle timeout, kept in the session (the provider's session may live on)."""
    now = _now()
    seen = st.session_state.get(AUTH_SEEN)
    st.session_state[AUTH_SEEN] = now
    return seen is not None and now - seen > dt.timedelta(minutes=policy.idle_minutes)


def current_user() -> User | None:
    """The signed-in user of this session, or None (not signed in, timed out, disabled, unknown)."""
    auth = base.get_config().auth
    policy = sessions.policy()
    if auth.mode == "local":
        return _local_user()[0]
    if auth.mode == "proxy":
        if not listens_on_loopback():
            return None
        header = st.context.headers.get(auth.proxy_user_header)
        login = header.strip().lower() if isinstance(header, str) else ""
        user = _account_user(login=login) if login else None
    else:  # oidc
        if not st.user.is_logged_in:
            return None
        user = _account_user(external_id=str(st.user.get("sub") or ""))
    if user is not None and _idle_over(policy):
        _record("session.timeout", login=user.login, why="idle")
        st.session_state.pop(AUTH_SEEN, None)
        if auth.mode == "oidc":
            st.logout()
        return None
    return user


def _sign_in_prompt() -> None:
    auth = base.get_config().auth
    st.title("养老服务一张图")
    if auth.mode == "local":
        timed_out = bool(st.session_state.get(AUTH_TOKEN))
        st.info("会话已结束（超时、已退出或账号被停用），请重新登录。" if timed_out else "请先登录。")
        st.link_button("登录", "/account/login", type="primary")
    elif auth.mode == "oidc":
        if st.user.is_logged_in:
            st.error(f"统一身份认证账号（{st.user.get('sub')}）尚未开通本系统权限，请联系安全管理员。")
            st.button("退出统一身份认证", on_click=st.logout)
        else:
            st.info("请通过单位统一身份认证登录。")
            if st.button("登录", type="primary"):
                st.login()
    elif not listens_on_loopback():
        st.error("代理认证模式下，本系统只能监听 127.0.0.1、由网关转发访问：请把 .streamlit/config.toml 的 "
                 "[server] address 设为 127.0.0.1。")
    else:
        st.error(f"网关没有传来用户（{auth.proxy_user_header}），或该用户在本系统中没有账号，请联系安全管理员。")


def user_panel(user: User) -> None:
    """Who is signed in, in the sidebar, with password change and sign-out (local mode); the demo banner."""
    with st.sidebar:
        if user.is_demo:
            st.warning("**演示账号**：仅供本机试用演示数据，正式使用请用 `python cli.py user add` 建立真实账号。",
                       icon=":material/science:")
        roles = access.roles_text(user)
        st.caption(f":material/person: {user.display_name or user.login}（{roles}）")
        if base.get_config().auth.mode == "local":
            st.markdown("[修改密码](/account/password) · [退出登录](/account/logout)")
        elif base.get_config().auth.mode == "oidc":
            st.button("退出登录", on_click=st.logout, key="auth.logout")


def gate(page: str) -> User:
    """The signed-in user who may open ``page``; otherwise say why (a refusal is audited) and stop the run.
    Nothing runs on a deployment whose database role could bypass the township scope."""
    problem = base.deployment_problem(database_url())
    if problem:
        st.error(problem)
        st.stop()
    user = current_user()
    if user is None:
        _sign_in_prompt()
        st.stop()
    user_panel(user)
    if not access.may_open(user, page):
        audit_service.record(database_url(), "page.open", actor=actor(user), outcome="refused", object=page)
        st.error(access.page_refusal(user, page))
        st.stop()
    return user
