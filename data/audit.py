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

from sqlalchemy import JSON, DateTime, Integer, String, delete, func, select, update
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


class AuditArchive(Base):
    __tablename__ = "audit_archive"
    __table_args__ = ({"comment": "rows moved out of audit_entry into archive files (retention), never dropped"},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    first_id: Mapped[int] = mapped_column(Integer, nullable=False)
    last_id: Mapped[int] = mapped_column(Integer, nullable=False)
    last_mac: Mapped[str] = mapped_column(String(64), nullable=False)  # the chain goes on from here
    file_name: Mapped[str] = mapped_column(String(200), nullable=False)
    file_sha256: Mapped[str] = mapped_column(String(64), nullable=False)


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


def _chain_start(session) -> tuple[str, int]:
    """Where the rows still in the table chain on from: the last archived row's MAC and the next id."""
    last = session.scalars(select(AuditArchive).order_by(AuditArchive.last_id.desc()).limit(1)).first()
    return (GENESIS, 1) if last is None else (last.last_mac, last.last_id + 1)


def verify(session, key: bytes) -> Verdict:
    """Walk the chain from the first row kept (after the archived ones): every id in order (none missing), every
    MAC recomputed, and the head pointing at the last row (a deleted last row shows too)."""
    previous, expected_id = _chain_start(session)
    n = expected_id - 1
    for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id)).yield_per(1000):
        if e.id != expected_id:
            return Verdict(n, expected_id, f"第 {expected_id} 条记录缺失（下一条是第 {e.id} 条）")
        if not hmac.compare_digest(_mac(key, previous, e), e.mac):
            return Verdict(n, e.id, f"第 {e.id} 条记录与其校验码不符：被改动过")
        previous, expected_id, n = e.mac, expected_id + 1, n + 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.count != n or head.mac != previous):
        return Verdict(n, n + 1, f"链尾应为第 {head.count} 条，实有 {n} 条：最后的记录被删除过")
    archived = _chain_start(session)[1] - 1
    return Verdict(n, None, f"审计记录 {n:,} 条，链完整" + (f"（其中前 {archived:,} 条已归档）" if archived else ""))


def _row_dict(e: AuditEntry) -> dict:
    return {"id": e.id, "at": e.at.isoformat(timespec="microseconds"), "actor": e.actor, "role": e.role,
            "session": e.session, "client": e.client, "action": e.action, "object": e.object, "township": e.township,
            "outcome": e.outcome, "detail": e.detail, "mac": e.mac}


def archive(session, key: bytes, *, before: dt.datetime, folder: Path, now: dt.datetime) -> tuple[int, Path | None]:
    """Move the rows older than ``before`` out of the table into one gzipped JSON-lines file in ``folder`` (its
    first line says where the chain starts), in the caller's transaction: the rows are checked against their
    chain first, the file is written whole (beside, then renamed) before any row is deleted, and the archive is
    recorded so that ``verify`` goes on from its last row. Returns (rows, file) — (0, None) when none is old."""
    import gzip

    previous, first = _chain_start(session)
    last = session.scalar(select(func.max(AuditEntry.id)).where(AuditEntry.at < before))
    if last is None or last < first:
        return 0, None
    rows = list(session.scalars(select(AuditEntry).where(AuditEntry.id <= last).order_by(AuditEntry.id)))
    expected, mac = first, previous
    for e in rows:  # never archive a broken chain: the file would certify tampering
        if e.id != expected or not hmac.compare_digest(_mac(key, mac, e), e.mac):
            msg = f"第 {expected} 条审计记录缺失或被改动，拒绝归档；请先 python cli.py audit verify"
            raise ValueError(msg)
        expected, mac = expected + 1, e.mac
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"audit-{first:09d}-{last:09d}.jsonl.gz"
    draft = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    with gzip.open(draft, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps({"previous_mac": previous, "first_id": first, "last_id": last}) + "\n")
        for e in rows:
            fh.write(json.dumps(_row_dict(e), ensure_ascii=False, sort_keys=True) + "\n")
    os.replace(draft, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    session.add(AuditArchive(at=now, first_id=first, last_id=last, last_mac=mac, file_name=path.name,
                             file_sha256=digest))
    session.execute(delete(AuditEntry).where(AuditEntry.id <= last))
    session.flush()
    return len(rows), path


def verify_archive(path: Path, key: bytes) -> Verdict:
    """Check an archive file on its own: its rows chain from the MAC its first line names."""
    import gzip

    with gzip.open(path, "rt", encoding="utf-8") as fh:
        header = json.loads(fh.readline())
        previous, expected, n = header["previous_mac"], header["first_id"], 0
        for line in fh:
            row = json.loads(line)
            row["at"] = dt.datetime.fromisoformat(row["at"])
            if row["id"] != expected or not hmac.compare_digest(_mac(key, previous, row), row["mac"]):
                return Verdict(n, expected, f"归档 {path.name} 第 {expected} 条记录缺失或被改动")
            previous, expected, n = row["mac"], expected + 1, n + 1
    if expected - 1 != header["last_id"]:
        return Verdict(n, expected, f"归档 {path.name} 应到第 {header['last_id']} 条，实到第 {expected - 1} 条")
    return Verdict(n, None, f"归档 {path.name}：{n:,} 条，链完整")
