"""The other two sign-in modes (issue 16): ``oidc`` against a real OpenID Connect provider started on loopback
(oidc-provider-mock), and ``proxy`` with the headers a gateway sets — both through the real server and Chromium,
and the proxy refused when the app is not bound to loopback."""

from __future__ import annotations

import contextlib
import re
import secrets
from pathlib import Path

import pytest

from tests.conftest import ROOT, app_test, copy_sqlite
from tools.app_server import ServerError, app_server
from tools.net import free_port

pytestmark = pytest.mark.browser


def config_with_mode(tmp: Path, mode: str) -> Path:
    """A deployment's own copy of the configuration (``$ELDERCARE_CONFIG``) with another ``[auth] mode``."""
    text = (ROOT / "config" / "dashboard.toml").read_text(encoding="utf-8")
    path = tmp / "dashboard.toml"
    path.write_text(re.sub(r'(?m)^mode = "local"', f'mode = "{mode}"', text, count=1), encoding="utf-8")
    return path


@contextlib.contextmanager
def server(url: str, work: Path, **kw):
    try:
        with app_server(url, work, **kw) as base:
            yield base
    except ServerError as exc:
        pytest.fail(str(exc))


def add_account(url: str, login: str, role: str, *, external_id: str | None = None) -> None:
    from data import accounts
    from data.db import make_engine, session_factory
    from data.live_models import utc_now

    engine = make_engine(url)
    with session_factory(engine).begin() as s:
        accounts.add_user(s, login, "Unused-Passw0rd", [role], now=utc_now(), must_change=False,
                          display_name=f"{login} 本人")
        if external_id:
            accounts.link_external(s, login, external_id)
    engine.dispose()


@contextlib.contextmanager
def identity_provider(work: Path):
    """oidc-provider-mock, a real OpenID Connect provider (authorization code flow, signed ID tokens), in its own
    process on a free loopback port; yields its issuer URL."""
    import subprocess
    import sys

    from tools.wait import http_ok, wait_until

    port = free_port()
    log = (work / "idp.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port),
                             "--require-nonce", "true"], stdout=log, stderr=subprocess.STDOUT)
    issuer = f"http://127.0.0.1:{port}"

    try:
        wait_until(lambda: http_ok(f"{issuer}/.well-known/openid-configuration"), timeout_s=30,
                   what="the identity provider")
        yield issuer
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def test_oidc_sign_in_through_a_real_provider_maps_the_subject_to_its_account(demo_db_url, browser, tmp_path):
    pytest.importorskip("oidc_provider_mock")
    url = copy_sqlite(demo_db_url, tmp_path / "oidc.db")
    add_account(url, "zhao.leader", "leader", external_id="zhao@jinghai.gov")
    port = free_port()
    with identity_provider(tmp_path) as issuer:
        secrets_file = tmp_path / "secrets.toml"
        secrets_file.write_text(
            "[auth]\n"
            f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
            f'cookie_secret = "{secrets.token_hex(16)}"\n'
            'client_id = "eldercare-dashboard"\n'
            'client_secret = "test-secret"\n'
            f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n',
            encoding="utf-8")
        env = {"ELDERCARE_CONFIG": str(config_with_mode(tmp_path, "oidc"))}
        with server(url, tmp_path, port=port, env=env, args=("--secrets.files", str(secrets_file))) as base:
            for sub, expect in (("zhao@jinghai.gov", "zhao.leader 本人（分管领导）"),
                                ("mallory@elsewhere", "尚未开通本系统权限")):
                context = browser.new_context(viewport={"width": 1300, "height": 900})
                page = context.new_page()
                page.goto(f"{base}/map")
                page.get_by_text("请通过单位统一身份认证登录").wait_for(timeout=60_000)
                page.get_by_role("button", name="登录").click()
                page.wait_for_url(re.compile(rf"{issuer}/"), timeout=30_000)
                page.fill("input[name=sub]", sub)  # the provider's own sign-in form
                page.get_by_role("button", name="Authorize").click()
                page.wait_for_url(re.compile(rf"http://127.0.0.1:{port}/"), timeout=30_000)
                try:
                    page.get_by_text(expect).first.wait_for(timeout=120_000)
                except Exception:
                    page.screenshot(path=str(tmp_path / f"oidc-{sub}.png"))
                    raise
                if sub.startswith("zhao"):
                    page.get_by_role("heading", name="联席会议总览").wait_for(timeout=120_000)
                context.close()
    trail = audit_rows(url)
    assert ("zhao.leader", "page.open") not in trail  # the leader may open the scorecard: nothing refused


def audit_rows(url: str) -> list[tuple[str, str]]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT actor, action FROM audit_entry WHERE outcome = 'refused'")).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def test_proxy_mode_takes_the_gateways_user_header(demo_db_url, browser, tmp_path):
    url = copy_sqlite(demo_db_url, tmp_path / "proxy.db")
    add_account(url, "qian.planner", "planner")
    env = {"ELDERCARE_CONFIG": str(config_with_mode(tmp_path, "proxy"))}
    with server(url, tmp_path, env=env) as base:
        for header, expect in (("qian.planner", "qian.planner 本人（规划人员）"), ("nobody", "网关没有传来用户"),
                               (None, "网关没有传来用户")):
            context = browser.new_context(viewport={"width": 1300, "height": 900},
                                          extra_http_headers={"X-Forwarded-User": header} if header else {})
            page = context.new_page()
            page.goto(f"{base}/scorecard")
            page.get_by_text(expect).first.wait_for(timeout=120_000)
            context.close()


def test_proxy_mode_is_refused_when_the_app_is_not_bound_to_loopback(demo_db_url, monkeypatch, tmp_path):
    from streamlit import config as st_config

    monkeypatch.setenv("ELDERCARE_CONFIG", str(config_with_mode(tmp_path, "proxy")))
    from services import base

    base.get_config.clear()
    old = st_config.get_option("server.address")
    st_config.set_option("server.address", "0.0.0.0")
    try:
        at = app_test("pages/map.py", demo_db_url, monkeypatch, signed_in=False)
        at.run()
        assert not at.exception
        assert any("只能监听 127.0.0.1" in e.value for e in at.error)
        assert not at.metric
    finally:
        st_config.set_option("server.address", old)
        base.get_config.clear()


def test_oidc_mode_keeps_the_apps_own_idle_timeout(demo_db_url, monkeypatch, tmp_path):
    """st.user as the provider left it (AppTest seeds it): the subject's account is let in; after 30 minutes
    without a run the app ends the sign-in itself, whatever the provider's session, and audits the timeout."""
    import datetime as dt

    import sqlalchemy as sa

    from dashboard.state import AUTH_SEEN
    from services import base

    url = copy_sqlite(demo_db_url, tmp_path / "idle.db")
    add_account(url, "sun.leader", "leader", external_id="sun@jinghai.gov")
    monkeypatch.setenv("ELDERCARE_CONFIG", str(config_with_mode(tmp_path, "oidc")))
    base.get_config.clear()
    try:
        at = app_test("pages/map.py", url, monkeypatch, signed_in=False)
        at.user = {"is_logged_in": True, "sub": "sun@jinghai.gov", "email": "sun@jinghai.gov"}
        at.run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        assert any("sun.leader 本人（分管领导）" in c.value for c in at.sidebar.caption)
        at.session_state[AUTH_SEEN] = at.session_state[AUTH_SEEN] - dt.timedelta(minutes=31)
        at.run()
        assert not at.metric  # the page is gone: signed out by the app
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT actor, detail FROM audit_entry WHERE action = 'session.timeout'")).all()
        engine.dispose()
        assert [r[0] for r in rows] == ["sun.leader"]
        at.user = {"is_logged_in": True, "sub": "nobody@elsewhere"}
        at.run()
        assert any("尚未开通本系统权限" in e.value for e in at.error)
    finally:
        base.get_config.clear()
