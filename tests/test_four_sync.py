"""Four-synchronous (四同步) rules on hand-made projects, the import template and `cli.py four-sync`."""

import csv
import datetime as dt
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from config import load_config
from data.db import make_engine, session_factory
from data.models import DataVersion
from data.repository import Repository
from data.versions import current_versions, rollback
from imports.projects import COLUMNS, ProjectFileError, import_projects, projects_from_frame, read_projects
from planning.four_sync import FAIL, NA, NOT_EVALUATED, PASS, Project, WalkAccess, check_project, compliance_rate
from tests.conftest import DEMO, run_cli
from tests.test_cli_coverage import files  # noqa: F401  (fixture: roads, facilities, demand)
from tests.test_reach import lonlat

ROOT = Path(__file__).resolve().parent.parent
RULES = load_config().four_sync.rules
AS_OF = dt.date(2026, 6, 30)
D = dt.date
TOWNSHIP = "120118100000"  # 静海镇


def project(**kw) -> Project:
    base = {
        "name": "阳光家园", "township_code": TOWNSHIP, "lon": 116.97, "lat": 38.95, "households": 500,
        "area_type": "new", "facility_area_m2": 100.0,  # exactly 20 m² per 100 households
        "housing": dict.fromkeys(("plan", "build", "accept", "deliver")),
        "facility": dict.fromkeys(("plan", "build", "accept", "deliver")),
        "facility_in_elderly_use": True,
    }
    base.update(kw)
    return Project(**base)


REACHED = WalkAccess(reached=True)


def check(p, *, grace=0, walk=REACHED):
    return check_project(p, RULES, as_of=AS_OF, default_grace=grace, walk=walk)


def test_area_threshold_boundaries():
    assert check(project()).outcome("area_new").status == PASS  # exactly 20 m²/100 households
    short = check(project(facility_area_m2=99.5)).outcome("area_new")
    assert short.status == FAIL
    assert short.reason == "配建面积 99.5 m²，按每百户 20 m² 需 100 m²（500 户），缺 0.5 m²"
    old = check(project(area_type="old", facility_area_m2=75.0))  # exactly 15 m²/100 households
    assert old.outcome("area_old").status == PASS and old.outcome("area_new").status == NA
    old_short = check(project(area_type="old", facility_area_m2=74.0)).outcome("area_old")
    assert old_short.status == FAIL and "缺 1 m²" in old_short.reason
    assert check(project(facility_area_m2=99.0)).status == "violation"


def test_stage_dates_grace_and_missing():
    same_day = project(housing={"plan": D(2024, 3, 1)}, facility={"plan": D(2024, 3, 1)})
    assert check(same_day).outcome("sync_plan").status == PASS
    late = project(housing={"build": D(2024, 3, 1)}, facility={"build": D(2024, 3, 11)})
    o = check(late).outcome("sync_build")
    assert o.status == FAIL
    assert o.reason == "养老设施建设晚于住宅 10 天（住宅 2024-03-01，设施 2024-03-11，宽限 0 天）"
    assert check(late, grace=10).outcome("sync_build").status == PASS  # grace edge: exactly 10 days late
    assert check(late, grace=9).outcome("sync_build").status == FAIL
    early = project(housing={"accept": D(2024, 3, 1)}, facility={"accept": D(2024, 2, 1)})
    assert check(early).outcome("sync_accept").status == PASS
    missing = check(project(housing={"deliver": D(2026, 6, 30)}, facility={})).outcome("sync_deliver")
    assert missing.status == FAIL and missing.reason == "住宅已于 2026-06-30 交付，养老设施无交付日期"  # as_of day
    pending = check(project(housing={"deliver": D(2026, 7, 1)}, facility={})).outcome("sync_deliver")
    assert pending.status == NA  # the housing is not delivered yet
    assert check(project()).outcome("sync_plan").status == NA  # no housing date: stage not reached


def test_in_use_after_delivery():
    delivered = {"deliver": D(2025, 1, 1)}
    unused = check(project(facility=delivered, facility_in_elderly_use=False)).outcome("in_elderly_use")
    assert unused.status == FAIL and unused.reason == "养老设施已于 2025-01-01 交付，但未用于养老服务"
    assert check(project(facility=delivered)).outcome("in_elderly_use").status == PASS
    assert check(project(facility_in_elderly_use=False)).outcome("in_elderly_use").status == NA


def test_walking_rule_never_passes_unevaluated():
    unevaluated = check(project(), walk=None)
    assert unevaluated.outcome("walk_15min").status == NOT_EVALUATED and unevaluated.status == "incomplete"
    far = check(project(), walk=WalkAccess(reached=False, nearest_m=1520.4)).outcome("walk_15min")
    assert far.status == FAIL and far.reason == "小区步行 15 分钟内没有养老服务设施（最近设施步行约 1520 米）"
    assert check(project()).status == "compliant"
    checks = [check(project()), check(project(facility_area_m2=1.0)), check(project(), walk=None)]
    assert compliance_rate(checks) == (1, 2)  # the unevaluated one is not counted either way


def write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in COLUMNS})
    return path


GOOD = {"name": "阳光家园", "township_code": TOWNSHIP, "lon": "116.97", "lat": "38.95", "households": "500",
        "area_type": "new", "facility_area_m2": "100", "housing_plan_date": "2024-03-01",
        "facility_plan_date": "2024-03-01", "facility_in_elderly_use": "no"}


def test_template_reads_csv_and_excel(tmp_path):
    rows = [GOOD, {**GOOD, "name": "幸福里", "area_type": "old", "housing_deliver_date": "2025-05-01"}]
    got = read_projects(write_csv(tmp_path / "p.csv", rows), township_codes={TOWNSHIP})
    assert [p.name for p in got] == ["阳光家园", "幸福里"]
    assert got[0].housing["plan"] == D(2024, 3, 1) and got[0].facility["build"] is None
    assert got[1].area_type == "old" and got[0].facility_in_elderly_use is False
    import pandas as pd

    xlsx = tmp_path / "p.xlsx"
    pd.DataFrame([{c: r.get(c, "") for c in COLUMNS} for r in rows]).to_excel(xlsx, index=False)
    assert read_projects(xlsx, township_codes={TOWNSHIP}) == got


@pytest.mark.parametrize(("bad", "expected"), [
    ({"housing_build_date": "2024-02-30"}, "第 3 行，列 housing_build_date，值 '2024-02-30'：日期应为 YYYY-MM-DD"),
    ({"township_code": "120118999000"}, "第 3 行，列 township_code，值 '120118999000'：不是本区的乡镇"),
    ({"households": "-5"}, "第 3 行，列 households，值 '-5'：户数应为正整数"),
    ({"area_type": "新建"}, "第 3 行，列 area_type，值 '新建'：应为 new"),
    ({"facility_in_elderly_use": "maybe"}, "第 3 行，列 facility_in_elderly_use，值 'maybe'"),
])
def test_bad_rows_name_row_column_and_value(tmp_path, bad, expected):
    path = write_csv(tmp_path / "p.csv", [GOOD, {**GOOD, **bad}])
    with pytest.raises(ProjectFileError) as exc:
        read_projects(path, township_codes={TOWNSHIP})
    assert expected in str(exc.value) and "未导入任何数据" in str(exc.value)
    assert len(exc.value.errors) == 1


def test_missing_or_misspelt_columns(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("name,township_code,lon,lat,housholds\n", encoding="utf-8")
    with pytest.raises(ProjectFileError, match=r"缺少列 .*'households'.*\n.*无法识别的列 \['housholds'\]"):
        read_projects(path, township_codes={TOWNSHIP})


def test_import_is_a_new_version_all_or_nothing(tmp_path, writable_demo_url):
    Session = session_factory(make_engine(writable_demo_url))
    with Session() as s:
        before = current_versions(s, DEMO)["projects"]
        n_versions = s.scalar(select(func.count()).select_from(DataVersion))
        old_names = list(Repository(s, DEMO).projects()["name"])
    good = read_projects(write_csv(tmp_path / "p.csv", [GOOD, {**GOOD, "name": "幸福里"}]), township_codes={TOWNSHIP})
    broken = replace(good[1], households=0)  # passes nothing to the reader, but the table's check refuses it
    with pytest.raises(IntegrityError, match="households_pos"), Session.begin() as s:
        import_projects(s, DEMO, [good[0], broken])
    with Session() as s:
        assert current_versions(s, DEMO)["projects"] == before  # the first project is gone too
        assert s.scalar(select(func.count()).select_from(DataVersion)) == n_versions
    with Session.begin() as s:
        import_projects(s, DEMO, good, replace=True)
    with Session() as s:
        assert projects_from_frame(Repository(s, DEMO).projects()) == good  # stored as read, dates included
    with Session.begin() as s:
        import_projects(s, DEMO, good[:1])  # appended to the current version, as a new one
    with Session() as s:
        assert list(Repository(s, DEMO).projects()["name"]) == ["阳光家园", "幸福里", "阳光家园"]
    with Session.begin() as s:
        rollback(s, DEMO, "projects")
        rollback(s, DEMO, "projects")
    with Session() as s:
        assert list(Repository(s, DEMO).projects()["name"]) == old_names  # nothing was overwritten


def run(*args):
    return run_cli("four-sync", *args)


def read_out(path: Path) -> dict[str, dict]:
    with path.open(encoding="utf-8-sig") as fh:
        return {r["name"]: r for r in csv.DictReader(fh)}


def test_cli_without_network_marks_walking_not_evaluated(tmp_path):
    short = {**GOOD, "name": "短缺", "facility_area_m2": "80"}
    path = write_csv(tmp_path / "p.csv", [GOOD, short])
    out = tmp_path / "out.csv"
    r = run("--projects", path, "--as-of", "2026-06-30", "--out", out)
    assert r.returncode == 0, r.stderr
    rows = read_out(out)
    assert rows["阳光家园"]["status"] == "incomplete" and rows["阳光家园"]["failed_rules"] == ""
    assert rows["短缺"]["status"] == "violation" and rows["短缺"]["failed_rules"] == "area_new"
    assert "缺 20 m²" in rows["短缺"]["reasons"]
    assert "未评估" in r.stdout


def test_cli_with_network(files, tmp_path):  # noqa: F811
    roads, fac, _, _ = files
    near, far = lonlat((250, -5), (0, 310))  # on the facilities' piece / on the detached piece
    rows = [{**GOOD, "name": "近", "lon": near[0], "lat": near[1]}, {**GOOD, "name": "远", "lon": far[0], "lat": far[1]}]
    out = tmp_path / "out.csv"
    r = run("--projects", write_csv(tmp_path / "p.csv", rows), "--roads", roads, "--facilities", fac,
            "--as-of", "2026-06-30", "--out", out)
    assert r.returncode == 0, r.stderr
    got = read_out(out)
    assert got["近"]["status"] == "compliant"
    assert got["远"]["status"] == "violation" and got["远"]["failed_rules"] == "walk_15min"
    assert "步行范围内找不到任何养老服务设施" in got["远"]["reasons"]


def test_cli_errors(tmp_path, files):  # noqa: F811
    roads = files[0]
    r = run("--projects", tmp_path / "none.csv", "--out", tmp_path / "o.csv")
    assert r.returncode == 2 and "文件不存在" in r.stderr
    r = run("--projects", write_csv(tmp_path / "p.csv", [GOOD]), "--roads", roads, "--out", tmp_path / "o.csv")
    assert r.returncode == 2 and "--roads 与 --facilities 需同时给出" in r.stderr


def test_a_gbk_csv_reads_and_broken_files_are_refused_with_a_message(tmp_path):
    """A bureau's GBK CSV is read like a UTF-8 one; a corrupt workbook, a CSV saved as .xlsx and binary noise are
    each a ProjectFileError saying what is wrong (the page shows it), never a traceback."""
    rows = [GOOD, {**GOOD, "name": "幸福里"}]
    utf8 = write_csv(tmp_path / "p.csv", rows)
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(utf8.read_text(encoding="utf-8").encode("gbk"))
    assert [p.name for p in read_projects(gbk, township_codes={TOWNSHIP})] == ["阳光家园", "幸福里"]
    broken = {"corrupt.xlsx": b"PK\x03\x04 not really a workbook", "csv_as.xlsx": utf8.read_bytes(),
              "noise.csv": bytes(range(256)) * 20}
    for name, data in broken.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ProjectFileError) as exc:
            read_projects(path, township_codes={TOWNSHIP})
        assert ("Excel" in str(exc.value)) if name.endswith(".xlsx") else ("编码" in str(exc.value)), name


def test_cli_four_sync_of_a_stored_district_equals_the_pages_check(demo_db_url, tmp_path):
    """Issue 27: `four-sync --district CODE` without a file checks the stored projects as 四同步检查 does."""
    import csv

    from services import four_sync
    from tests.conftest import DEMO, demo_ref

    out = tmp_path / "fs.csv"
    done = subprocess.run([sys.executable, "cli.py", "four-sync", "--district", DEMO, "--out", str(out),
                           "--database-url", demo_db_url], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    checks, _ = four_sync.checks(demo_ref(demo_db_url))
    assert [(r["name"], r["status"], r["failed_rules"]) for r in rows] == \
        [(c.project.name, c.status, ";".join(c.failed_rules)) for c in checks]
    assert len(rows) == 40 and any(r["status"] == "violation" for r in rows)
