"""``python cli.py ingest`` as a child process: for the integration tests and the load-and-fault benchmark."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx2 as httpx

from tools.net import free_port
from tools.wait import wait_until

ROOT = Path(__file__).resolve().parent.parent


class IngestProcess:
    """The real ingest service on loopback; ``start`` returns once ``/health`` answers."""

    def __init__(self, database_url: str, port: int | None = None, *, log: Path | None = None) -> None:
        self.database_url = database_url
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> IngestProcess:
        out = self.log.open("ab") if self.log else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [sys.executable, "cli.py", "ingest", "--port", str(self.port), "--database-url", self.database_url],
            cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True,
            stdout=out, stderr=subprocess.STDOUT)
        if self.log:
            out.close()

        def up() -> bool:
            if self.proc.poll() is not None:
                raise TimeoutError("the process exited")
            try:
                return httpx.get(f"{self.base}/health", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        try:
            wait_until(up, timeout_s=timeout, what="the ingest service's health check")
        except TimeoutError as exc:
            self.stop()
            tail = self.log.read_text(errors="replace")[-2000:] if self.log else ""
            msg = f"the ingest service did not start on port {self.port} ({exc})\n{tail}"
            raise RuntimeError(msg) from None
        return self

    def kill(self) -> None:
        """kill -9: no shutdown code runs, as in a power cut."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> IngestProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
