"""The audit trail (issue 16): one append-only row per important action, each chained to the one before by an
HMAC, so that an edited, inserted or deleted row shows (``python cli.py audit verify``).

Rows are written inside the caller's transaction, after the action itself, so an action and its record commit
together or not at all. A one-row ``audit_head`` is updated first: that takes the write lock (SQLite) or the
row lock (PostgreSQL) and so orders concurrent writers, each chaining on the row before it. The key is
``$ELDERCARE_AUDIT_KEY`` (hex) or ``var/audit.key`` (made on first use, readable by its owner only); whoever
holds it could rewrite the chain, so it belongs to the security administrator, not to the database.

The head (how many rows, the last MAC) and every archive record (which rows went to which file, its SHA-256)
are sealed with the same key, the archive records chained on each other, so a trail cut at either end, a forged
archive record or a removed archive file shows. What the database alone cannot tell is a head set back to a state
it really had, with that state's seal (saved before, restored after deleting the rows since): against that, keep
the count ``audit verify`` prints somewhere the database's owner cannot write (the bureau's log server).

No row names an elder: ``object`` is a version, an account or a scenario; ``detail`` holds counts and codes.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import JSON, DateTime, Integer, String, delete, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from data.schema import PROJECT_ROOT, Base

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
    seal: Mapped[str | None] = mapped_column(String(64), comment="HMAC of count and mac: a reset head shows")


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
    seal: Mapped[str | None] = mapped_column(String(64), comment="HMAC of this record chained to the archive "
                                             "before it: a forged or removed archive record shows")


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


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in a container
        return "unknown"


def os_actor() -> str:
    """Who acts on the command line: the OS user."""
    return f"os:{os_user()}"


def _mac(key: bytes, previous: str, e: AuditEntry | dict) -> str:
    get = e.get if isinstance(e, dict) else lambda k: getattr(e, k)
    at = get("at")
    body = json.dumps([previous, get("id"), at.isoformat(timespec="microseconds"), get("actor"), get("role"),
                       get("session"), get("client"), get("action"), get("object"), get("township"), get("outcome"),
                       get("detail")], ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hmac.new(key, body.encode("utf-8"), hashlib.sha256).hexdigest()


def _seal(key: bytes, *parts) -> str:
    """The MAC of the chain's own records (head, archives), apart from the rows' by their first element."""
    body = json.dumps(list(parts), ensure_ascii=False, separators=(",", ":"), default=str)
    return hmac.new(key, body.encode("utf-8"), hashlib.sha256).hexdigest()


def _head_seal(key: bytes, count: int, mac: str) -> str:
    return _seal(key, "head", count, mac)


def _archive_seal(key: bytes, previous: str, a: AuditArchive) -> str:
    return _seal(key, "archive", previous, a.first_id, a.last_id, a.last_mac, a.file_name, a.file_sha256)


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
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(mac=mac, seal=_head_seal(key, head.count, mac)))
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


def _archive_seals(session) -> str:
    """The seal of the last archive record (GENESIS without any): the next one chains on it."""
    seal = GENESIS
    for a in session.scalars(select(AuditArchive).order_by(AuditArchive.first_id)):
        seal = a.seal or GENESIS
    return seal


def _check_archives(session, key: bytes, folder: Path | None) -> Verdict | None:
    """The archive records: from row 1 on without a gap, each sealed on the one before (a forged, edited or removed
    record shows), and each file present in ``folder`` with its recorded SHA-256, its rows chaining from the record
    before to the record's last MAC. The first thing wrong, else None."""
    seal, mac, expected = GENESIS, GENESIS, 1
    for a in session.scalars(select(AuditArchive).order_by(AuditArchive.first_id)):
        if a.first_id != expected:
            return Verdict(expected - 1, expected, f"归档记录应从第 {expected} 条起，实从第 {a.first_id} 条起：归档记录被删除或伪造")
        if not a.seal or not hmac.compare_digest(_archive_seal(key, seal, a), a.seal):
            return Verdict(expected - 1, expected, f"归档记录（第 {a.first_id}–{a.last_id} 条）与其校验码不符：被伪造或改动过")
        if folder is not None:
            path = folder / Path(a.file_name).name
            if not path.exists():
                return Verdict(expected - 1, expected, f"归档文件 {a.file_name} 不在 {folder}：被删除或移走")
            if hashlib.sha256(path.read_bytes()).hexdigest() != a.file_sha256:
                return Verdict(expected - 1, expected, f"归档文件 {a.file_name} 的 SHA-256 与记录不符：被改动过")
            inner, first_mac, last_mac = _walk_archive(path, key)
            if not inner.ok or first_mac != mac or last_mac != a.last_mac:
                return Verdict(expected - 1, expected, inner.why if not inner.ok else
                               f"归档文件 {a.file_name} 与归档记录接不上链")
        seal, mac, expected = a.seal, a.last_mac, a.last_id + 1
    return None


def verify(session, key: bytes, *, folder: Path | None = None) -> Verdict:
    """Walk the whole trail: the archive records and their files in ``folder`` (the deployment's archive folder;
    None checks the records only), then the rows kept, every id in order (none missing) and every MAC recomputed,
    and the sealed head pointing at the last row (a deleted last row, or a head reset to an earlier row, shows)."""
    broken = _check_archives(session, key, folder)
    if broken is not None:
        return broken
    previous, expected_id = _chain_start(session)
    n = expected_id - 1
    for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id)).yield_per(1000):
        if e.id != expected_id:
            return Verdict(n, expected_id, f"第 {expected_id} 条记录缺失（下一条是第 {e.id} 条）")
        if not hmac.compare_digest(_mac(key, previous, e), e.mac):
            return Verdict(n, e.id, f"第 {e.id} 条记录与其校验码不符：被改动过")
        previous, expected_id, n = e.mac, expected_id + 1, n + 1
    head = session.get(AuditHead, 1)
    if head is None:
        if n:
            return Verdict(n, n + 1, "审计链头缺失：被删除过")
    else:
        if not head.seal or not hmac.compare_digest(_head_seal(key, head.count, head.mac), head.seal):
            return Verdict(n, n + 1, "审计链头与其校验码不符：被改动或重置过（链尾的记录可能被删除）")
        if head.count != n or head.mac != previous:
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
    record = AuditArchive(at=now, first_id=first, last_id=last, last_mac=mac, file_name=path.name, file_sha256=digest)
    record.seal = _archive_seal(key, _archive_seals(session), record)
    session.add(record)
    session.execute(delete(AuditEntry).where(AuditEntry.id <= last))
    session.flush()
    return len(rows), path


def _walk_archive(path: Path, key: bytes) -> tuple[Verdict, str, str]:
    """An archive file's own chain: (verdict, the MAC it starts from, the MAC of its last row)."""
    import gzip

    with gzip.open(path, "rt", encoding="utf-8") as fh:
        header = json.loads(fh.readline())
        start = previous = header["previous_mac"]
        expected, n = header["first_id"], 0
        for line in fh:
            row = json.loads(line)
            row["at"] = dt.datetime.fromisoformat(row["at"])
            if row["id"] != expected or not hmac.compare_digest(_mac(key, previous, row), row["mac"]):
                return Verdict(n, expected, f"归档 {path.name} 第 {expected} 条记录缺失或被改动"), start, previous
            previous, expected, n = row["mac"], expected + 1, n + 1
    if expected - 1 != header["last_id"]:
        return (Verdict(n, expected, f"归档 {path.name} 应到第 {header['last_id']} 条，实到第 {expected - 1} 条"),
                start, previous)
    return Verdict(n, None, f"归档 {path.name}：{n:,} 条，链完整"), start, previous


def verify_archive(path: Path, key: bytes) -> Verdict:
    """Check an archive file on its own: its rows chain from the MAC its first line names."""
    return _walk_archive(path, key)[0]
