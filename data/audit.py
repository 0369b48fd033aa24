"""The audit trail (issue 16): one append-only row per important action, each chained to the one before by an
HMAC, so that an edited, inserted or deleted row shows (``python cli.py audit verify``).

Rows are written inside the caller's transaction, after the action itself, so an action and its record commit
together or not at all. A one-row ``audit_head`` is updated first: that takes the write lock (SQLite) or the
row lock (PostgreSQL) and so orders concurrent writers, each chaining on the row before it. The key is
``$ELDERCARE_AUDIT_KEY`` (hex) or ``var/audit.key`` (made on first use, readable by its owner only); whoever
holds it could rewrite the chain, so it belongs to the security administrator, not to the database.

No row names an elder: ``object`` is a version, an account or a scenario; ``detail`` holds counts and codes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import JSON, DateTime, Integer, String, select, update
from sqlalchemy.orm import Mapped, mapped_column

from data.db import PROJECT_ROOT, Base

OUTCOMES = ("ok", "refused", "failed")


class AuditEntry(Base):
    __tablename__ = "audit_entry"
    __table_args__ = ({"comment": "append-only audit trail, HMAC-chained (python cli.py audit verify)"},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, index=True)
    actor: Mapped[str] = mapped_column(String(80), nullable=False)  # a login, or cli:<os user>
    role: Mapped[str] = mapped_column(String(40), nullable=False, default="")
    session: Mapped[str] = mapped_column(String(16), nullable=False, default="")  # a prefix of the session's hash
    client: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    action: Mapped[str] = mapped_column(String(40), nullable=False, index=True)
    object: Mapped[str] = mapped_column(String(120), nullable=False, default="")
    township: Mapped[str] = mapped_column(String(12), nullable=False, default="")
    outcome: Mapped[str] = mapped_column(String(8), nullable=False)
    detail: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    mac: Mapped[str] = mapped_column(String(64), nullable=False)


class AuditHead(Base):
    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    mac: Mapped[str] = mapped_column(String(64), nullable=False, default="")


GENESIS = "0" * 64


def audit_key(path: Path | None = None) -> bytes:
    """The chain's key: ``$ELDERCARE_AUDIT_KEY`` (64 hex digits), else the key file, made on first use."""
    env = os.environ.get("ELDERCARE_AUDIT_KEY")
    if env:
        return bytes.fromhex(env)
    path = path or PROJECT_ROOT / "var" / "audit.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
        try:  # whole or not at all: a reader never sees a half-written key
            os.link(draft, path)
        except FileExistsError:  # another process made it a moment ago: theirs is the key
            pass
        finally:
            draft.unlink()
    return bytes.fromhex(path.read_text().strip())


@dataclass(frozen=True)
class Actor:
    """Who acts, as the audit trail names them: a signed-in user (login, roles, a prefix of the session's hash,
    the client's address) or, on the command line, the OS user."""

    login: str
    role: str = ""
    session: str = ""
    client: str = ""

    @classmethod
    def cli(cls) -> Actor:
        return cls(os_actor())


def record_now(session, action: str, *, actor: str | Actor, **kwargs) -> int:
    """``record`` with the current time (UTC) and the deployment's key; an ``Actor`` fills role, session and
    client as well."""
    if isinstance(actor, Actor):
        kwargs = {"role": actor.role, "session_id": actor.session, "client": actor.client, **kwargs}
        actor = actor.login
    return record(session, action, actor=actor, now=dt.datetime.now(dt.UTC).replace(tzinfo=None), key=audit_key(),
                  **kwargs)


def os_actor() -> str:
    """Who acts on the command line: the OS user."""
    from data.versions import os_user

    return f"os:{os_user()}"


def _mac(key: bytes, previous: str, e: AuditEntry | dict) -> str:
    get = e.get if isinstance(e, dict) else lambda k: getattr(e, k)
    at = get("at")
    body = json.dumps([previous, get("id"), at.isoformat(timespec="microseconds"), get("actor"), get("role"),
                       get("session"), get("client"), get("action"), get("object"), get("township"), get("outcome"),
                       get("detail")], ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hmac.new(key, body.encode("utf-8"), hashlib.sha256).hexdigest()


def record(session, action: str, *, actor: str, outcome: str = "ok", now: dt.datetime, key: bytes,
           object: str = "", township: str = "", role: str = "", session_id: str = "", client: str = "",  # noqa: A002
           detail: dict | None = None) -> int:
    """Append one row, chained to the last; returns its id."""
    if outcome not in OUTCOMES:
        msg = f"outcome {outcome!r}: one of {OUTCOMES}"
        raise ValueError(msg)
    if session.get(AuditHead, 1) is None:
        session.add(AuditHead(id=1, count=0, mac=GENESIS))
        session.flush()
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(count=AuditHead.count + 1))  # the lock
    head = session.execute(select(AuditHead.count, AuditHead.mac).where(AuditHead.id == 1)).one()
    row = {"id": head.count, "at": now.replace(tzinfo=None), "actor": actor[:80], "role": role[:40],
           "session": session_id[:16], "client": client[:64], "action": action[:40], "object": object[:120],
           "township": township[:12], "outcome": outcome, "detail": detail or {}}
    mac = _mac(key, head.mac, row)
    session.add(AuditEntry(**row, mac=mac))
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(mac=mac))
    session.flush()
    return row["id"]


@dataclass(frozen=True)
class Verdict:
    rows: int
    first_bad: int | None  # the id of the first row whose chain does not hold
    why: str

    @property
    def ok(self) -> bool:
        return self.first_bad is None


def verify(session, key: bytes) -> Verdict:
    """Walk the chain from the first row: every id in order (none missing), every MAC recomputed, and the head
    pointing at the last row (a deleted last row shows too)."""
    previous, expected_id, n = GENESIS, 1, 0
    for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id)).yield_per(1000):
        if e.id != expected_id:
            return Verdict(n, expected_id, f"第 {expected_id} 条记录缺失（下一条是第 {e.id} 条）")
        if not hmac.compare_digest(_mac(key, previous, e), e.mac):
            return Verdict(n, e.id, f"第 {e.id} 条记录与其校验码不符：被改动过")
        previous, expected_id, n = e.mac, expected_id + 1, n + 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.count != n or head.mac != previous):
        return Verdict(n, n + 1, f"链尾应为第 {head.count} 条，实有 {n} 条：最后的记录被删除过")
    return Verdict(n, None, f"审计记录 {n:,} 条，链完整")
