"""The township and district scope enforced by PostgreSQL itself (issues 16 and 29): row-level security on the
tables of a township's or a district's rows, an application role that cannot bypass it, an ingest role that can only
write live data, and an append-only audit trail.

- Every transaction of the app says whose scope it reads in: ``set_config('eldercare.townships', …, true)``
  (``true``: local to the transaction), set by ``data.db`` when the transaction begins, from the session's
  ``info``: the township codes of a township head (``townships``), else the codes of the districts it reads
  (``districts``: a district's data is read with its own code, so no other district's row reaches it), else ``*``
  (the registry of districts, accounts, and the commands' own work). A pooled connection therefore never carries
  one user's scope into another's transaction, and a transaction that set nothing sees no row.
- A township's rows (facilities, elders, communities, projects, and the live rows of its stations) are in scope when
  their township code starts with a code of the setting; a district's rows (its registry row, meta, versions,
  townships, outline, roads, scenarios) when their district is the first six digits of one.
- The policies are ``FORCE``d, so they hold for the tables' owner too; the app role is neither superuser nor
  BYPASSRLS and owns nothing (``check_role`` refuses to start otherwise).
- The ingest role (``python cli.py ingest``) may read the credentials and facility codes it checks, and write
  the live tables; nothing else.

``python cli.py db secure --app-role NAME --ingest-role NAME`` installs all this as the database's owner
(passwords from standard input). SQLite has no roles: there (and on PostgreSQL too, as a second line) the same
scope is applied in the data layer, to every ORM statement of a session opened with townships.
"""

from __future__ import annotations

import re

from sqlalchemy import event, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

SETTING = "eldercare.townships"
WHOLE = "*"
# tables whose rows belong to a township, with the expression naming it
TOWNSHIP_TABLES = {
    "community": "township_code",
    "facility": "township_code",
    "elder_group": "township_code",
    "residential_project": "township_code",
    # a decision belongs to its township (a township head's own), or, a department's, to its district only
    "decision": "coalesce(township_code, district_code)",
}
# live tables: rows of a station, scoped by the station's township
STATION_TABLES = ("station_status", "heartbeat", "live_event", "hotline_ticket", "alert")
SCOPED_TABLES = (*TOWNSHIP_TABLES, *STATION_TABLES, "alert_history", "decision_note")  # forced: the owner too
LIVE_WRITES = (*STATION_TABLES, "alert_history", "ingest_credential")
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class RlsError(RuntimeError):
    """The database's roles or policies do not enforce the township scope; the message says what to fix."""


# tables whose rows belong to a district, with the expression naming it
DISTRICT_TABLES = {
    "district": "code",
    "district_meta": "district_code",
    "data_version": "district_code",
    "township": "district_code",
    "scenario": "district_code",
    "district_result": "district_code",
    "meeting": "district_code",
}
# tables whose rows belong to a district through another table's row
VERSIONED_TABLES = {"district_outline": "EXISTS (SELECT 1 FROM data_version v WHERE v.id = version_id)",
                    "road": "EXISTS (SELECT 1 FROM data_version v WHERE v.id = version_id)",
                    "scenario_change": "EXISTS (SELECT 1 FROM scenario s WHERE s.id = scenario_id)"}
# enabled, not forced: the tables' owner (the administrator's commands: user add checks township codes) reads them
DISTRICT_SCOPED = (*DISTRICT_TABLES, *VERSIONED_TABLES)


def scope_value(townships, districts=None) -> str:
    """The setting's value for a scope: the township codes (``townships``), else the district codes
    (``districts``), comma-separated; ``*`` when both are None."""
    if townships is not None:
        codes, pattern, what = sorted(townships), r"\d{12}", "township codes must be 12 digits"
    elif districts is not None:
        codes, pattern, what = sorted(districts), r"\d{6}", "district codes must be 6 digits"
    else:
        return WHOLE
    if not all(re.fullmatch(pattern, c) for c in codes):
        msg = f"{what}: {codes}"
        raise ValueError(msg)
    return ",".join(codes)


@event.listens_for(Session, "do_orm_execute")
def _scope_statements(state) -> None:
    """The same scope in the data layer, on SQLite as on PostgreSQL: every ORM select, update and delete of a
    session opened with townships reads and changes the rows of those townships only (and the live rows of
    their stations); of one opened with districts, the rows of those districts only."""
    townships = state.session.info.get("townships")
    districts = state.session.info.get("districts")
    if townships is None and districts is None or not (state.is_select or state.is_update or state.is_delete):
        return
    from sqlalchemy import func
    from sqlalchemy.orm import with_loader_criteria

    from data.live_models import Alert, AlertHistory, Heartbeat, HotlineTicket, LiveEvent, StationStatus
    from data.meeting_models import Decision, DecisionNote, Meeting
    from data.models import (
        Community,
        DataVersion,
        District,
        DistrictMeta,
        DistrictOutline,
        DistrictResult,
        ElderGroup,
        Facility,
        ResidentialProject,
        Road,
        Scenario,
        ScenarioChange,
        Township,
    )

    if townships is not None:
        towns = sorted(townships)
        in_scope = lambda column: column.in_(towns)  # noqa: E731
        ours = sorted({t[:6] for t in towns})
    else:
        ours = sorted(districts)
        in_scope = lambda column: func.substr(column, 1, 6).in_(ours)  # noqa: E731
    stations = select(Facility.code).where(in_scope(Facility.township_code))
    alerts = select(Alert.id).where(Alert.station_code.in_(stations))
    versions = select(DataVersion.id).where(DataVersion.district_code.in_(ours))
    criteria = [with_loader_criteria(model, in_scope(model.township_code), include_aliases=True)
                for model in (Community, Facility, ElderGroup, ResidentialProject)]
    decisions = in_scope(func.coalesce(Decision.township_code, Decision.district_code))
    criteria.append(with_loader_criteria(Decision, decisions, include_aliases=True))
    criteria.append(with_loader_criteria(DecisionNote, DecisionNote.decision_id.in_(
        select(Decision.id).where(decisions)), include_aliases=True))
    criteria += [with_loader_criteria(model, model.station_code.in_(stations), include_aliases=True)
                 for model in (StationStatus, Heartbeat, LiveEvent, HotlineTicket, Alert)]
    criteria.append(with_loader_criteria(AlertHistory, AlertHistory.alert_id.in_(alerts), include_aliases=True))
    criteria.append(with_loader_criteria(District, District.code.in_(ours), include_aliases=True))
    criteria += [with_loader_criteria(model, model.district_code.in_(ours), include_aliases=True)
                 for model in (DistrictMeta, DataVersion, Township, Scenario, DistrictResult, Meeting)]
    criteria += [with_loader_criteria(model, model.version_id.in_(versions), include_aliases=True)
                 for model in (DistrictOutline, Road)]
    criteria.append(with_loader_criteria(ScenarioChange, ScenarioChange.scenario_id.in_(
        select(Scenario.id).where(Scenario.district_code.in_(ours))), include_aliases=True))
    state.statement = state.statement.options(*criteria)


@event.listens_for(Session, "after_begin")
def _set_scope(session: Session, transaction, connection) -> None:
    """Each transaction on PostgreSQL starts by setting its scope, local to the transaction."""
    if connection.dialect.name != "postgresql":
        return
    connection.execute(text("SELECT set_config(:name, :value, true)"),
                       {"name": SETTING, "value": scope_value(session.info.get("townships"),
                                                              session.info.get("districts"))})


def _ddl(app_role: str, ingest_role: str) -> list[str]:
    codes = f"unnest(string_to_array(nullif(current_setting('{SETTING}', true), ''), ','))"
    whole = f"coalesce(current_setting('{SETTING}', true), '') = '{WHOLE}'"
    in_scope = ("CREATE OR REPLACE FUNCTION eldercare_in_scope(code text) RETURNS boolean LANGUAGE sql STABLE AS $$ "
                f"SELECT {whole} OR EXISTS (SELECT 1 FROM {codes} AS p WHERE left(code, length(p)) = p) $$")
    district = ("CREATE OR REPLACE FUNCTION eldercare_district_in_scope(code text) RETURNS boolean LANGUAGE sql "
                f"STABLE AS $$ SELECT {whole} OR EXISTS (SELECT 1 FROM {codes} AS p WHERE code = left(p, 6)) $$")
    station = ("CREATE OR REPLACE FUNCTION eldercare_station_in_scope(station text) RETURNS boolean LANGUAGE sql "
               f"STABLE AS $$ SELECT coalesce(current_setting('{SETTING}', true), '') = '{WHOLE}' OR EXISTS ("
               "SELECT 1 FROM facility f WHERE f.code = station AND eldercare_in_scope(f.township_code)) $$")
    sql = [in_scope, district, station,
           f"GRANT USAGE ON SCHEMA public TO {app_role}, {ingest_role}",
           f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {app_role}",
           f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_entry FROM {app_role}",  # append-only for the app
           f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {app_role}, {ingest_role}",
           f"GRANT EXECUTE ON FUNCTION eldercare_in_scope(text), eldercare_district_in_scope(text), "
           f"eldercare_station_in_scope(text) TO {app_role}, {ingest_role}",
           f"GRANT SELECT ON facility, data_version, district TO {ingest_role}",
           f"GRANT SELECT, INSERT, UPDATE ON {', '.join(LIVE_WRITES)} TO {ingest_role}"]
    for table, column in TOWNSHIP_TABLES.items():
        sql += _policies(table, f"eldercare_in_scope({column})", app_role, ingest_role,
                         ingest_reads=table == "facility")
    for table in STATION_TABLES:
        sql += _policies(table, "eldercare_station_in_scope(station_code)", app_role, ingest_role, ingest_writes=True)
    sql += _policies("alert_history", "EXISTS (SELECT 1 FROM alert a WHERE a.id = alert_id)", app_role, ingest_role,
                     ingest_writes=True)
    sql += _policies("decision_note", "EXISTS (SELECT 1 FROM decision d WHERE d.id = decision_id)", app_role,
                     ingest_role)
    for table, column in DISTRICT_TABLES.items():  # the ingest role reads the registry and versions of every district
        sql += _policies(table, f"eldercare_district_in_scope({column})", app_role, ingest_role,
                         ingest_reads=table in ("district", "data_version"), force=False)
    for table, using in VERSIONED_TABLES.items():
        sql += _policies(table, using, app_role, ingest_role, force=False)
    return sql


def _policies(table: str, using: str, app_role: str, ingest_role: str, *, ingest_reads: bool = False,
              ingest_writes: bool = False, force: bool = True) -> list[str]:
    out = [f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
           f"ALTER TABLE {table} {'' if force else 'NO '}FORCE ROW LEVEL SECURITY",
           f"DROP POLICY IF EXISTS township_scope ON {table}", f"DROP POLICY IF EXISTS ingest_all ON {table}",
           f"CREATE POLICY township_scope ON {table} TO {app_role} USING ({using}) WITH CHECK ({using})"]
    if ingest_reads or ingest_writes:
        out.append(f"CREATE POLICY ingest_all ON {table} TO {ingest_role} USING (true) WITH CHECK (true)")
    return out


def scram_verifier(password: str, *, salt: bytes | None = None, iterations: int = 4096) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for ``password`` (RFC 5802 / 7677): what ``CREATE ROLE …
    PASSWORD`` is given instead of the password, so that no statement, error or server log ever holds it."""
    import base64
    import hashlib
    import hmac
    import os

    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = lambda b: base64.b64encode(b).decode("ascii")  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def _role(conn, name: str, password: str) -> None:
    exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name}).scalar()
    verb = "ALTER" if exists else "CREATE"
    # the verifier, never the password: a failed statement is printed with its text (and logged by the server)
    conn.exec_driver_sql(f"{verb} ROLE {name} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE "
                         f"PASSWORD '{scram_verifier(password)}'")


def owner_problem(conn) -> str | None:
    """Why the connected role cannot install the roles and policies (None when it can): it must be able to
    create roles (CREATEROLE, or superuser)."""
    me = conn.execute(text("SELECT current_user, rolsuper, rolcreaterole FROM pg_roles "
                           "WHERE rolname = current_user")).one()
    if not (me.rolsuper or me.rolcreaterole):
        return (f"数据库角色 {me.current_user} 没有 CREATEROLE 权限，不能建立应用角色与接入角色：请由超级用户执行 "
                f"ALTER ROLE {me.current_user} CREATEROLE 后重试，或由管理员预先建好两个角色（LOGIN NOSUPERUSER "
                "NOBYPASSRLS，不拥有任何表）后用 --existing-roles 运行（不再设置密码）")
    return None


def install(owner_engine: Engine, *, app_role: str, app_password: str | None, ingest_role: str,
            ingest_password: str | None) -> None:
    """Create (or update) the two roles and install the grants and policies, in one transaction, as the
    owner of the tables (create the schema first). With the passwords None the roles must exist already (made by
    an administrator): only the grants and policies are installed. No password reaches a statement: roles get
    their SCRAM verifier; a failing statement is reported without its text."""
    for name in (app_role, ingest_role):
        if not ROLE_NAME.match(name):
            msg = f"role name {name!r}: lower-case letters, digits and _ only"
            raise RlsError(msg)
    if owner_engine.dialect.name != "postgresql":
        msg = "row-level security needs PostgreSQL; SQLite applies the township scope in the data layer"
        raise RlsError(msg)

    for attempt in range(3):  # a deadlock (another session locking the same tables or roles) is retried
        try:
            _install_once(owner_engine, app_role, app_password, ingest_role, ingest_password)
            return
        except _Deadlock:
            if attempt == 2:
                msg = "安装行级安全失败：与其他会话死锁三次（deadlock detected），请在没有其他连接时重试"
                raise RlsError(msg) from None


class _Deadlock(Exception):
    """PostgreSQL chose this transaction as a deadlock's victim (SQLSTATE 40P01): it rolled back and may be rerun."""


def _install_once(owner_engine: Engine, app_role: str, app_password: str | None, ingest_role: str,
                  ingest_password: str | None) -> None:
    from sqlalchemy.exc import DBAPIError

    with owner_engine.begin() as conn:
        if app_password is not None or ingest_password is not None:
            problem = owner_problem(conn)
            if problem:
                raise RlsError(problem)
        else:
            have = set(conn.execute(text("SELECT rolname FROM pg_roles WHERE rolname = ANY(:n)"),
                                    {"n": [app_role, ingest_role]}).scalars())
            missing = [r for r in (app_role, ingest_role) if r not in have]
            if missing:
                msg = f"--existing-roles：角色 {', '.join(missing)} 不存在，请先由管理员建立"
                raise RlsError(msg)
        try:
            if app_password is not None:
                _role(conn, app_role, app_password)
            if ingest_password is not None:
                _role(conn, ingest_role, ingest_password)
            for statement in _ddl(app_role, ingest_role):
                conn.exec_driver_sql(statement)
        except DBAPIError as exc:  # the server's words, never the statement (which named a role's verifier)
            if getattr(exc.orig, "sqlstate", None) == "40P01":
                raise _Deadlock from None
            diag = getattr(exc.orig, "diag", None)
            first = (getattr(diag, "message_primary", None) or str(exc.orig)).splitlines()[0]
            msg = f"安装行级安全失败：{first}"
            raise RlsError(msg) from None


def installed(engine: Engine) -> bool:
    """Whether this PostgreSQL database has the policies (``python cli.py db secure`` has run)."""
    if engine.dialect.name != "postgresql":
        return False
    with engine.connect() as conn:
        return bool(conn.execute(text("SELECT count(*) FROM pg_policies WHERE policyname = 'township_scope'"))
                    .scalar())


def role_problem(engine: Engine) -> str | None:
    """Why the app's connection could see past the township scope (None when it cannot): a superuser or
    BYPASSRLS role, a role that owns a scoped table, or a scoped table without forced row-level security."""
    with engine.connect() as conn:
        me = conn.execute(text("SELECT current_user, rolsuper, rolbypassrls FROM pg_roles "
                               "WHERE rolname = current_user")).one()
        if me.rolsuper or me.rolbypassrls:
            return (f"数据库角色 {me.current_user} 是超级用户或有 BYPASSRLS 权限，可绕过乡镇范围的行级安全策略："
                    "请用 python cli.py db secure 建立应用角色，并让 DATABASE_URL 以该角色连接。")
        owned = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tableowner = "
                                  "current_user AND tablename = ANY(:t)"), {"t": [*SCOPED_TABLES, *DISTRICT_SCOPED]}).scalars().all()
        if owned:
            return (f"数据库角色 {me.current_user} 拥有表 {', '.join(owned)}（表的所有者可修改策略）：应用须以不拥有任何表的"
                    "角色连接（python cli.py db secure）。")
        loose = conn.execute(text("SELECT relname FROM pg_class WHERE relname = ANY(:t) AND relkind = 'r' AND NOT "
                                  "(relrowsecurity AND relforcerowsecurity)"), {"t": list(SCOPED_TABLES)}).scalars().all()
        loose += conn.execute(text("SELECT relname FROM pg_class WHERE relname = ANY(:t) AND relkind = 'r' AND NOT "
                                   "relrowsecurity"), {"t": list(DISTRICT_SCOPED)}).scalars().all()
        if loose:
            return f"表 {', '.join(loose)} 没有启用行级安全（或未强制）：请以表的所有者运行 python cli.py db secure。"
    return None


def visibility_problem(engine: Engine) -> str | None:
    """Why a command reading or changing district data would see no row through this connection (None when it
    would see them): on a secured database the tables' owner is held to the forced policies, which are written for
    the app role only, so the owner sees nothing (unless a superuser)."""
    if not installed(engine):
        return None
    with engine.connect() as conn:
        me = conn.execute(text("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")).one()
        if me.rolsuper:
            return None
        owned = conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = "
                                  "current_user AND tablename = ANY(:t)"), {"t": list(SCOPED_TABLES)}).scalar()
    if owned:
        return (f"数据库角色 {me.current_user} 是表的所有者：启用行级安全后它看不到任何区县数据，本命令的结果会是空的。"
                "请用应用角色的连接（与仪表板相同的 DATABASE_URL）运行；db secure、audit archive 才以所有者运行")
    return None


def check_role(engine: Engine) -> None:
    """The start-up check of a scoped deployment: raise RlsError when the connection could bypass the scope."""
    problem = role_problem(engine)
    if problem:
        raise RlsError(problem)
