"""The audit trail's HMAC chain: it verifies; an edited, deleted or inserted row is found (raw SQL plays the
tamperer); imports, rollbacks and account changes are recorded; ``cli.py audit verify`` says so by exit code."""

import datetime as dt
import os
import subprocess
import sys

import pytest
from sqlalchemy import select, text

from data.audit import AuditEntry, record, verify
from data.db import create_schema, make_engine, session_factory
from tests.conftest import ROOT, run_cli

KEY = bytes(range(32))
T0 = dt.datetime(2026, 11, 30, 2, 0, 0, 123456)


@pytest.fixture
def db(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    create_schema(engine)
    Session = session_factory(engine)
    with Session.begin() as s:
        for i, (action, outcome) in enumerate((("login", "ok"), ("import", "ok"), ("login", "refused"),
                                               ("rollback", "ok"))):
            record(s, action, actor="wang", outcome=outcome, now=T0 + dt.timedelta(seconds=i), key=KEY,
                   object=f"obj{i}", detail={"rows": i, "名称": "静海"})
    return engine, Session


def test_an_untouched_chain_verifies(db):
    _, Session = db
    with Session() as s:
        v = verify(s, KEY)
        assert v.ok and v.rows == 4
        assert [e.id for e in s.query(AuditEntry).order_by(AuditEntry.id)] == [1, 2, 3, 4]
        assert not verify(s, bytes(32)).ok  # another key: nothing verifies


@pytest.mark.parametrize(("tamper", "first_bad"), [
    ("UPDATE audit_entry SET outcome = 'ok' WHERE id = 3", 3),  # a refusal turned into a success
    ("UPDATE audit_entry SET actor = 'li' WHERE id = 1", 1),
    ("UPDATE audit_entry SET detail = '{\"rows\": 9}' WHERE id = 2", 2),
    ("DELETE FROM audit_entry WHERE id = 2", 2),  # a row taken out of the middle
    ("DELETE FROM audit_entry WHERE id = 4", 4),  # the last row taken out: the head still counts it
])
def test_tampering_is_found_at_its_row(db, tamper, first_bad):
    engine, Session = db
    with engine.begin() as conn:
        conn.execute(text(tamper))
    with Session() as s:
        v = verify(s, KEY)
    assert not v.ok and v.first_bad == first_bad, v.why


def test_imports_rollbacks_and_account_changes_are_recorded_and_cli_verifies(tmp_path):
    """Through the command line, as an administrator would act; then a row is edited and verify fails."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {**os.environ, "ELDERCARE_AUDIT_KEY": KEY.hex()}

    def cli(*args, stdin=""):
        return run_cli(*args, "--database-url", url, env=env, stdin=stdin)

    assert cli("user", "add", "wang.admin", "--role", "data_admin", "--password-stdin",
               stdin="Jinghai-2026\n").returncode == 0
    assert cli("user", "add", "weak", "--role", "leader", "--password-stdin", stdin="weak\n").returncode == 2
    assert cli("user", "disable", "wang.admin").returncode == 0
    districts = ROOT / "data" / "sources" / "tianjin_districts_wgs84.geojson"
    for _ in range(2):
        assert cli("import", "district", str(districts), "--code", "120103", "--name", "河西区").returncode == 0
    assert cli("rollback", "--district", "120103", "--kind", "district").returncode == 0
    ok = cli("audit", "verify")
    assert ok.returncode == 0 and "审计记录 6 条，链完整" in ok.stdout, ok.stdout + ok.stderr
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT action, outcome, object FROM audit_entry ORDER BY id")).all()
    assert [(a, o) for a, o, _ in rows] == [("account.add", "ok"), ("account.add", "refused"),
                                           ("account.disable", "ok"), ("import", "ok"), ("import", "ok"),
                                           ("rollback", "ok")]
    assert rows[5][2].startswith("120103 district v")
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_entry SET outcome = 'ok' WHERE id = 2"))
    bad = cli("audit", "verify")
    assert bad.returncode == 1 and "第 2 条记录" in bad.stderr


def test_the_key_file_is_made_once_readable_by_its_owner_only(tmp_path, monkeypatch):
    from data.audit import audit_key

    monkeypatch.delenv("ELDERCARE_AUDIT_KEY", raising=False)
    path = tmp_path / "var" / "audit.key"
    first = audit_key(path)
    assert len(first) == 32 and audit_key(path) == first
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["audit.key"]  # no draft left behind


def test_scenario_and_alert_actions_are_recorded_in_order(tmp_path, monkeypatch):
    """Each scenario change and each alert step writes its row with the action; the handler typed on the live
    page is kept, the note's words are not; the chain verifies."""
    from shapely.geometry import Point

    from config import load_config
    from data.versions import register_district
    from planning.scenario import Change
    from services.alerts import EventRow, LiveStore
    from services.scenarios import ScenarioRepository

    monkeypatch.setenv("ELDERCARE_AUDIT_KEY", KEY.hex())
    engine = make_engine(f"sqlite:///{tmp_path / 'actions.db'}")
    create_schema(engine)
    Session = session_factory(engine)
    with Session.begin() as s:
        register_district(s, "120223", "静海区")
        repo = ScenarioRepository(s, "120223")
        sid = repo.create("东片加站")
        repo.add_change(sid, Change("open", kind_id="community_station", point=Point(116.9, 38.9)))
        repo.add_change(sid, Change("close", facility_code="F001"))
        repo.remove_last_change(sid)
        repo.rename(sid, "东片加站（二）")
        repo.delete(sid)
    with Session.begin() as s:
        store = LiveStore(s, load_config().live.rules, now=lambda: dt.datetime(2026, 11, 30, 1, 0))
        store.add_events([EventRow("e1", "S1", dt.datetime(2026, 11, 30, 0, 59), "sos_button", {"device_id": "b1"})])
        alert_id = s.execute(text("SELECT id FROM alert")).scalar_one()
        store.acknowledge(alert_id, "调度员小李", "已电话联系，家属说老人张某某摔倒")
        store.resolve(alert_id, "调度员小李", "")
    with Session() as s:
        rows = s.execute(text("SELECT action, object, detail FROM audit_entry ORDER BY id")).all()
        assert verify(s, KEY).ok
    assert [r[0] for r in rows] == ["scenario.create", "scenario.edit", "scenario.edit", "scenario.edit",
                                    "scenario.rename", "scenario.delete", "alert.acknowledge", "alert.resolve"]
    import json

    details = [json.loads(r[2]) for r in rows]
    assert rows[4][1].endswith("“东片加站（二）”") and details[4] == {"was": "东片加站"}
    assert details[6] == {"handler": "调度员小李", "note_chars": 16}  # the note's words stay out of the trail
    assert all("张某某" not in json.dumps(d, ensure_ascii=False) for d in details)


def test_archive_moves_old_rows_to_a_file_and_the_chain_goes_on(tmp_path):
    """Rows older than the cut-off leave the table for a gzipped file whose own chain verifies; the table's chain
    verifies from the archived row on; an edit inside the file is found; nothing is lost: file + table = all rows."""
    import datetime as dt
    import gzip
    import json

    from data.audit import archive, verify_archive

    engine = make_engine(f"sqlite:///{tmp_path / 'archive.db'}")
    create_schema(engine)
    old, new = dt.datetime(2026, 1, 10), dt.datetime(2026, 11, 30)
    with session_factory(engine).begin() as s:
        for i, at in enumerate([old, old, old, new, new]):
            record(s, "import", actor=f"u{i}", now=at, key=KEY, detail={"rows": i})
    with session_factory(engine).begin() as s:
        n, path = archive(s, KEY, before=dt.datetime(2026, 6, 1), folder=tmp_path / "arch", now=new)
    assert n == 3 and path.exists()
    with session_factory(engine)() as s:
        kept = [e.actor for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert kept == ["u3", "u4"]
        assert verify(s, KEY).ok and "前 3 条已归档" in verify(s, KEY).why
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    assert [json.loads(x)["actor"] for x in lines[1:]] == ["u0", "u1", "u2"]
    assert verify_archive(path, KEY).ok
    with session_factory(engine).begin() as s:  # a later row appended after the archive still chains
        record(s, "login", actor="u5", now=new, key=KEY)
    with session_factory(engine)() as s:
        assert verify(s, KEY).ok
    tampered = tmp_path / "tampered.jsonl.gz"
    rows = [json.loads(x) for x in lines]
    rows[2]["outcome"] = "refused"
    with gzip.open(tampered, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    assert verify_archive(tampered, KEY).first_bad == 2
    with session_factory(engine).begin() as s:  # nothing old is left: a second archive moves nothing
        assert archive(s, KEY, before=dt.datetime(2026, 6, 1), folder=tmp_path / "arch", now=new) == (0, None)
    engine.dispose()


def test_cli_archive_by_retention_then_verify_with_the_file(tmp_path):
    """`cli.py audit archive` moves the rows older than [audit] retention_days (180) to the archive folder of the
    deployment's config; `audit verify --archive FILE` checks the file and the table."""
    import datetime as dt
    import re

    url = f"sqlite:///{tmp_path / 'ret.db'}"
    engine = make_engine(url)
    create_schema(engine)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with session_factory(engine).begin() as s:
        for days in (400, 200, 179, 1):  # two beyond the 180 days, two within
            record(s, "login", actor=f"d{days}", now=now - dt.timedelta(days=days), key=KEY)
    engine.dispose()
    config = (ROOT / "config" / "dashboard.toml").read_text(encoding="utf-8")
    own = tmp_path / "dashboard.toml"
    own.write_text(re.sub(r'(?m)^archive_folder = .*$', f'archive_folder = "{tmp_path / "archive"}"', config),
                   encoding="utf-8")
    env = {**os.environ, "ELDERCARE_AUDIT_KEY": KEY.hex(), "ELDERCARE_CONFIG": str(own)}
    run = lambda *a: subprocess.run([sys.executable, "cli.py", "audit", *a, "--database-url", url], cwd=ROOT,  # noqa: E731
                                    env=env, capture_output=True, text=True)
    r = run("archive")
    assert r.returncode == 0 and "已归档 2 条早于 180 天的审计记录" in r.stdout, r.stdout + r.stderr
    (file,) = (tmp_path / "archive").iterdir()
    r = run("verify", "--archive", str(file))
    assert r.returncode == 0, r.stderr
    assert "2 条，链完整" in r.stdout and "审计记录 5 条，链完整（其中前 2 条已归档）" in r.stdout
    engine = make_engine(url)
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT actor FROM audit_entry ORDER BY id")).scalars().all()
    engine.dispose()
    assert kept[:2] == ["d179", "d1"] and kept[2].startswith("os:")  # the archiving itself, by the OS user


# -- the ends of the trail (issue 26): its head and its archive records are sealed with the key too ----------------

def _mac_of(conn, row_id: int) -> str:
    return conn.execute(text(f"SELECT mac FROM audit_entry WHERE id = {row_id}")).scalar_one()


TRUNCATIONS = {
    # the last two rows deleted and the head set back to the row before them, as a tamperer without the key would
    "tail cut, head reset": lambda c: (c.execute(text("DELETE FROM audit_entry WHERE id > 4")),
                                       c.execute(text("UPDATE audit_head SET count = 4, mac = :m"),
                                                 {"m": _mac_of(c, 4)})),
    # the first rows deleted: the chain starts at row 3
    "head cut": lambda c: c.execute(text("DELETE FROM audit_entry WHERE id IN (3, 4)")),
    # the first rows deleted behind an archive record that names them, with no file and a made-up seal
    "head cut, forged archive record": lambda c: (
        c.execute(text("INSERT INTO audit_archive (at, first_id, last_id, last_mac, file_name, file_sha256, seal) "
                       "VALUES ('2026-11-30', 3, 4, :m, 'audit-000000003-000000004.jsonl.gz', :z, :z)"),
                  {"m": _mac_of(c, 4), "z": "0" * 64}),
        c.execute(text("DELETE FROM audit_entry WHERE id IN (3, 4)"))),
    "head row edited": lambda c: c.execute(text("UPDATE audit_head SET count = count + 1")),
    "head seal removed": lambda c: c.execute(text("UPDATE audit_head SET seal = NULL")),
    "archive record removed": lambda c: c.execute(text("DELETE FROM audit_archive")),
    "archive file deleted": None,  # done on the file system below
    "archive file replaced": None,
}


@pytest.mark.parametrize("how", list(TRUNCATIONS))
def test_a_trail_cut_at_either_end_fails_cli_verify_naming_why(tmp_path, how):
    """Six rows, the first two archived to the deployment's archive folder; then one way of shortening the trail
    or of faking its ends; `cli.py audit verify` exits 1 and says what is wrong."""
    import re

    url = f"sqlite:///{tmp_path / 'ends.db'}"
    engine = make_engine(url)
    create_schema(engine)
    folder = tmp_path / "archive"
    with session_factory(engine).begin() as s:
        for i in range(6):
            record(s, "login", actor=f"u{i}", now=T0 + dt.timedelta(days=i), key=KEY)
    from data.audit import archive

    with session_factory(engine).begin() as s:
        n, path = archive(s, KEY, before=T0 + dt.timedelta(days=2), folder=folder, now=T0 + dt.timedelta(days=7))
    assert n == 2
    config = (ROOT / "config" / "dashboard.toml").read_text(encoding="utf-8")
    own = tmp_path / "dashboard.toml"
    own.write_text(re.sub(r'(?m)^archive_folder = .*$', f'archive_folder = "{folder}"', config), encoding="utf-8")
    env = {**os.environ, "ELDERCARE_AUDIT_KEY": KEY.hex(), "ELDERCARE_CONFIG": str(own)}

    def verify_cli():
        return subprocess.run([sys.executable, "cli.py", "audit", "verify", "--database-url", url], cwd=ROOT, env=env,
                              capture_output=True, text=True)

    before = verify_cli()
    assert before.returncode == 0 and "审计记录 6 条，链完整（其中前 2 条已归档）" in before.stdout, before.stderr
    if TRUNCATIONS[how] is not None:
        with engine.begin() as conn:
            TRUNCATIONS[how](conn)
    elif how == "archive file deleted":
        path.unlink()
    else:  # a file of the same name whose rows chain, but not the archived ones
        import gzip
        import hashlib

        with gzip.open(path, "rt", encoding="utf-8") as fh:
            lines = fh.read().splitlines()
        old = hashlib.sha256(path.read_bytes()).hexdigest()
        path.write_bytes(gzip.compress(("\n".join(lines[:2]) + "\n").encode()))  # the header and the first row
        assert hashlib.sha256(path.read_bytes()).hexdigest() != old
    engine.dispose()
    after = verify_cli()
    why = {"tail cut, head reset": "审计链头与其校验码不符", "head cut": "第 3 条记录缺失",
           "head cut, forged archive record": "校验码不符：被伪造或改动过",
           "head row edited": "审计链头与其校验码不符", "head seal removed": "审计链头与其校验码不符",
           "archive record removed": "第 1 条记录缺失", "archive file deleted": "不在",
           "archive file replaced": "SHA-256 与记录不符"}[how]
    assert after.returncode == 1, (how, after.stdout, after.stderr)
    assert why in after.stderr, (how, after.stderr)
