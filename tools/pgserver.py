"""A throwaway PostgreSQL + PostGIS server on loopback, from Debian's packages.

Used by the test fixtures when TEST_DATABASE_URL is not given. It runs initdb
in a temporary folder (as the ``postgres`` user when we are root), starts the
server on a free 127.0.0.1 port and removes everything on stop.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tools.net import free_port


def find_pg_bin() -> Path | None:
    """The newest Debian PostgreSQL bin dir that also has PostGIS installed."""
    for bindir in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        version = Path(bindir).parent.name
        has_postgis = glob.glob(f"/usr/share/postgresql/{version}/extension/postgis.control")
        if Path(bindir, "initdb").exists() and has_postgis:
            return Path(bindir)
    return None


class PostgresServer:
    def __init__(self, bindir: Path, *, fsync: bool = False) -> None:
        self.bindir = bindir
        self.fsync = fsync  # off for tests (speed); on for benchmarks that claim durability
        self.tmp = Path(tempfile.mkdtemp(prefix="eldercare-pg-"))
        self.data = self.tmp / "data"
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        cmd = [str(a) for a in args]
        kwargs = {"check": True, "capture_output": True, "text": True}
        if self._as_postgres:
            pw = pwd.getpwnam("postgres")
            kwargs["user"] = pw.pw_uid
            kwargs["group"] = pw.pw_gid
            kwargs["extra_groups"] = []
        try:
            subprocess.run(cmd, cwd=self.tmp, **kwargs)
        except subprocess.CalledProcessError as exc:
            msg = f"{' '.join(cmd)} failed:\n{exc.stdout}\n{exc.stderr}"
            raise RuntimeError(msg) from None

    def start(self) -> str:
        if self._as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(self.tmp, pw.pw_uid, pw.pw_gid)
        self._run(self.bindir / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--locale=C.UTF-8")
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.tmp} -c fsync={'on' if self.fsync else 'off'}"
        self._run(self.bindir / "pg_ctl", "-D", self.data, "-o", opts, "-l", self.tmp / "server.log", "-w", "start")
        self._run(self.bindir / "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "eldercare_test")
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/eldercare_test"

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._run(self.bindir / "pg_ctl", "-D", self.data, "-m", "immediate", "stop")
        shutil.rmtree(self.tmp, ignore_errors=True)
