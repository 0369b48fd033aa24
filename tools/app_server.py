"""`streamlit run app.py` on a free loopback port over a given database: shared by tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

from tools.net import free_port
from tools.wait import http_ok, wait_until

ROOT = Path(__file__).resolve().parent.parent


class ServerError(RuntimeError):
    """The server exited or never answered its health check; the message carries its log."""


@contextlib.contextmanager
def app_server(db_url: str, work: Path, *, script: str = "server.py", port: int | None = None,
               env: dict[str, str] | None = None, args: tuple[str, ...] = ()):
    """Yields the server's base URL; its output goes to ``work/server.log``. ``script``: server.py (the dashboard
    with its sign-in routes) or app.py; ``env`` and ``args``: more environment and streamlit options."""
    port = port or free_port()
    env = {**os.environ, "DATABASE_URL": db_url, **(env or {})}
    log_path = work / "server.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", *args],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if proc.poll() is not None:
            raise ServerError(f"streamlit exited:\n{log_path.read_text()}")
        return http_ok(f"{url}/_stcore/health")

    try:
        wait_until(healthy, timeout_s=60, what="the streamlit server's health check")
    except (TimeoutError, ServerError) as exc:
        proc.kill()
        log.close()
        raise ServerError(f"streamlit did not start: {exc}\n{log_path.read_text()}") from None
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
