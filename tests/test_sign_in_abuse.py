"""Sign-in abuse and unauthenticated requests (issue 26, findings 4, 5 and 11): what an outsider can do to the
server before signing in, tried against the real server (server.py) on a copy of the demo database."""

from __future__ import annotations

import re
import threading

import httpx
import pytest

from tests.conftest import served_copy


@pytest.fixture(scope="module")
def live(demo_db_url, tmp_path_factory):
    with served_copy(demo_db_url, tmp_path_factory, "sign-in-server") as served:
        yield served


def _attempt(client: httpx.Client, base: str, login: str, password: str, headers: dict | None = None) -> httpx.Response:
    """One sign-in through the form, as a browser posts it (its CSRF token first)."""
    page = client.get(f"{base}/account/login", headers=headers)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return client.post(f"{base}/account/login", data={"login": login, "password": password, "csrf": csrf},
                       headers=headers, follow_redirects=False)


def test_unauthenticated_upload_media_and_metrics_are_refused(live):
    base, _ = live
    with httpx.Client() as c:
        upload = c.put(f"{base}/_stcore/upload_file/abc/def", files={"file": ("a.csv", b"x" * 1000)})
        assert upload.status_code == 403
        assert c.get(f"{base}/_stcore/metrics").status_code == 403
        assert c.get(f"{base}/media/0123456789abcdef0123456789abcdef.js").status_code == 403
        assert c.get(f"{base}/_stcore/health").status_code == 200  # Streamlit's own health check stays open
        signed = _attempt(c, base, "demo.planner", "Jinghai-Demo-2026")
        assert signed.status_code == 303
        assert c.get(f"{base}/_stcore/metrics").status_code == 200  # with a session: Streamlit answers


def test_a_burst_of_sign_ins_slows_its_address_while_the_server_answers_others(live):
    """30 wrong sign-ins at once from one address: the hashes run beside the event loop (two at a time), so a
    health check sent while they are in flight is answered before the burst is over; past the address's 20 free
    failures it is told to wait, and so is its next attempt (the right password of a real account included)."""
    base, url = live
    done: list[int] = []
    answers: list[str] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        with httpx.Client(timeout=120) as c:
            r = _attempt(c, base, f"nobody{i}", "Wrong-pass-1")
        with lock:
            answers.append(r.text)
            done.append(i)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    with httpx.Client(timeout=120) as c:
        while not done:  # wait for the burst to be under way (a condition, not a time)
            threading.Event().wait(0.01)
        assert c.get(f"{base}/_stcore/health").status_code == 200
        with lock:
            finished_at_health = len(done)
    for t in threads:
        t.join()
    assert finished_at_health < 30, "the health check waited behind the whole burst"
    refused = sum("登录名或密码不正确" in a for a in answers)
    waited = sum("尝试过于频繁" in a for a in answers)
    assert refused + waited == 30 and waited > 0 and refused >= 20
    with httpx.Client() as c:
        later = _attempt(c, base, "demo.planner", "Jinghai-Demo-2026")
    assert later.status_code == 401 and "尝试过于频繁" in later.text
    _clear(url, "client:127.0.0.1")  # as the security administrator would, for the tests after this one


def _clear(url: str, key: str) -> None:
    from data import accounts
    from data.db import make_engine, session_factory

    engine = make_engine(url)
    with session_factory(engine).begin() as s:
        accounts.clear_throttle(s, key)
    engine.dispose()


def test_demo_accounts_sign_in_only_from_this_machine_without_a_proxy(live):
    """Behind the README's reverse proxy the app still sees a loopback peer; the proxy's headers tell the request
    came from elsewhere: the demo accounts are neither listed nor let in then."""
    base, url = live
    from data import accounts
    from data.db import make_engine, session_factory
    from data.live_models import utc_now

    proxied = {"X-Forwarded-For": "10.20.30.40"}
    with httpx.Client() as c:
        assert "演示账号" not in c.get(f"{base}/account/login", headers=proxied).text
        r = _attempt(c, base, "demo.leader", "Jinghai-Demo-2026", headers=proxied)
        assert r.status_code == 401 and "演示账号只能在本机使用" in r.text
    with httpx.Client() as c:
        assert "demo.auditor" in c.get(f"{base}/account/login").text  # from this machine: listed
    engine = make_engine(url)
    with session_factory(engine).begin() as s:
        for login, _, _ in accounts.DEMO_ACCOUNTS:
            accounts.disable(s, login, now=utc_now())
    engine.dispose()
    with httpx.Client() as c:
        assert "演示账号" not in c.get(f"{base}/account/login").text  # disabled ones are not advertised


def test_the_sign_in_forms_may_not_be_framed_and_run_no_script(live):
    base, _ = live
    with httpx.Client() as c:
        for path in ("/account/login", "/account/logout"):
            r = c.get(f"{base}{path}")
            csp = r.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp and "script-src" not in csp
            assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
            assert "<script" not in r.text  # the policy leaves the forms working: they have no script
