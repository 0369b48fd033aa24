"""Audit rows for actions that write nothing else (a report generated, a file downloaded, a refusal): one short
transaction of their own. Actions that change data record their row inside their own transaction (data/)."""

from __future__ import annotations

from data import audit
from data.audit import Actor  # noqa: F401  (who acts, as the dashboard names them)
from data.db import create_schema, session_factory
from services.access import AccessDenied, Caller, may_see_district, require, scope_of
from services.engine import get_config, get_engine, one_off_engine


def record(url: str, action: str, *, object: str = "", township: str = "", detail: dict | None = None,  # noqa: A002
           actor: str | audit.Actor | None = None, outcome: str = "ok") -> None:
    with session_factory(get_engine(url)).begin() as session:
        audit.record_now(session, action, actor=actor or audit.os_actor(), object=object, township=township,
                         detail=detail or {}, outcome=outcome)


def allowed(url: str, caller: Caller, action: str, *, object: str = "", township: str = "") -> None:  # noqa: A002
    """``access.require``, with a refusal recorded in the audit trail before it is raised."""
    try:
        require(caller, action)
    except AccessDenied as exc:
        record(url, action, object=object, township=township, actor=caller.actor, outcome="refused",
               detail={"why": str(exc)[:200]})
        raise


def allowed_area(url: str, caller: Caller, action: str, district_code: str, township: str | None, *,
                 object: str = "") -> None:  # noqa: A002
    """``allowed``, and the area within the caller's scope: an account bound to an area acts on its districts
    only, and a township head on their own townships only, never on the whole district (AccessDenied, audited)."""
    allowed(url, caller, action, object=object or district_code, township=township or "")
    if caller.user is None:
        return
    if not may_see_district(caller.user, district_code):
        msg = f"账号 {caller.user.login} 的范围不含区县 {district_code}。"
    elif scope_of(caller.user, district_code).allows(township):
        return
    else:
        msg = (f"账号 {caller.user.login} 只能查看所负责乡镇的内容，" +
               ("不能查看全区明细。" if township is None else f"无权查看乡镇 {township}。"))
    record(url, action, object=object or district_code, township=township or "", actor=caller.actor, outcome="refused",
           detail={"why": "out of scope"})
    raise AccessDenied(msg)


ACTION_ZH = {
    "login": "登录", "logout": "退出", "session.timeout": "会话超时", "password.change": "修改密码",
    "account.add": "新建账号", "account.disable": "停用账号", "account.reset-password": "重置密码",
    "account.unlock": "解锁账号", "account.link": "关联统一身份", "import": "导入数据", "rollback": "回滚版本",
    "scenario.create": "新建情景", "scenario.edit": "编辑情景", "scenario.change": "情景变更",
    "scenario.undo": "撤销变更", "scenario.rename": "重命名情景", "scenario.delete": "删除情景",
    "scenario.duplicate": "复制情景", "alert.acknowledge": "确认告警", "alert.resolve": "解除告警",
    "alert.handle": "处理告警", "report.export": "导出报告", "download": "下载", "page.open": "打开页面",
    "township.view": "查看乡镇", "audit.view": "查看审计日志", "audit.export": "导出审计日志", "siting": "优化选址",
    "token": "接入令牌", "results.refresh": "重新计算考核结果", "meeting.save": "保存会议议程",
    "decision.record": "登记督办事项", "decision.note": "督办事项说明或材料", "decision.update": "督办事项报告完成",
}
OUTCOME_ZH = {"ok": "成功", "refused": "拒绝", "failed": "失败"}


def entries(url: str, caller: Caller, *, start, end, actor: str = "", actions: tuple[str, ...] = (),
            outcomes: tuple[str, ...] = (), limit: int = 5000):
    """The audit rows between two times (UTC, ``end`` excluded), newest first, filtered; only an auditor may
    read them, and the reading is itself a row of the trail (its filters, not its rows)."""
    import pandas as pd
    from sqlalchemy import select

    allowed(url, caller, "audit.view")
    e = audit.AuditEntry
    stmt = select(e.id, e.at, e.actor, e.role, e.session, e.client, e.action, e.object, e.township, e.outcome,
                  e.detail).where(e.at >= start, e.at < end)
    if actor.strip():
        stmt = stmt.where(e.actor.contains(actor.strip()[:80], autoescape=True))
    if actions:
        stmt = stmt.where(e.action.in_(actions))
    if outcomes:
        stmt = stmt.where(e.outcome.in_(outcomes))
    with session_factory(get_engine(url)).begin() as session:
        rows = session.execute(stmt.order_by(e.id.desc()).limit(limit)).all()
        audit.record_now(session, "audit.view", actor=caller.actor,
                         detail={"start": str(start), "end": str(end), "actor": actor[:40], "actions": list(actions),
                                 "outcomes": list(outcomes), "rows": len(rows)})
    return pd.DataFrame(rows, columns=["id", "at", "actor", "role", "session", "client", "action", "object",
                                       "township", "outcome", "detail"])


def archive_folder():
    """The deployment's audit archive folder ([audit] archive_folder; relative to the project)."""
    from pathlib import Path

    from data.db import PROJECT_ROOT

    folder = Path(get_config().audit.archive_folder)
    return folder if folder.is_absolute() else PROJECT_ROOT / folder


def verify_chain(url: str, caller: Caller) -> audit.Verdict:
    """The whole trail: archive records and their files, the rows, the sealed head."""
    allowed(url, caller, "audit.view")
    with session_factory(get_engine(url))() as session:
        return audit.verify(session, audit.audit_key(), folder=archive_folder())


def known_actions(url: str) -> list[str]:
    from sqlalchemy import select

    with session_factory(get_engine(url))() as session:
        return sorted(session.scalars(select(audit.AuditEntry.action).distinct()))


def archive_expired(url: str) -> tuple[int, object, int]:
    """Move the rows older than [audit] retention_days to an archive file (never dropped) and record it:
    (rows archived, the file, the retention in days). Run as the tables' owner on PostgreSQL (the app's role may
    not delete audit rows); ValueError / OSError say what stopped it, the database's own error otherwise."""
    import datetime as dt

    from data.live_models import utc_now

    settings = get_config().audit
    key, now = audit.audit_key(), utc_now()
    with one_off_engine(url) as engine:
        create_schema(engine)
        with session_factory(engine).begin() as session:
            n, path = audit.archive(session, key, before=now - dt.timedelta(days=settings.retention_days),
                                    folder=archive_folder(), now=now)
            if n:
                audit.record_now(session, "audit.archive", actor=audit.os_actor(), object=path.name, detail={"rows": n})
    return n, path, settings.retention_days


def verify_all(url: str, archives=()) -> list[audit.Verdict]:
    """The command line's check: the given archive files, then the whole trail (archive records and their files,
    the rows, the sealed head)."""
    from pathlib import Path

    key = audit.audit_key()
    verdicts = [audit.verify_archive(Path(f), key) for f in archives]
    with session_factory(get_engine(url))() as session:
        verdicts.append(audit.verify(session, key, folder=archive_folder()))
    return verdicts
