"""Scenarios: persistence round trip, ordered changes, base data never modified."""

import hashlib

import pytest
import shapely
from shapely.geometry import Point
from sqlalchemy import select

from config import load_config
from data.db import make_engine, session_factory
from data.models import Facility
from data.repository import Repository
from data.scenarios import ScenarioRepoError, ScenarioRepository
from planning.scenario import Change, ScenarioError, apply_changes
from tests.conftest import DEMO, _load_bundle

LEVELS = {k.id: k.level for k in load_config().facility_kinds}


@pytest.fixture
def db(tmp_path, demo_bundle):
    url = _load_bundle(f"sqlite:///{tmp_path / 's.db'}", demo_bundle)
    return session_factory(make_engine(url))


def base_fingerprint(Session) -> str:
    with Session() as s:
        h = hashlib.sha256()
        for f in s.scalars(select(Facility).order_by(Facility.id)):
            h.update(repr((f.id, f.code, f.kind_id, f.status, f.beds_total)).encode() + shapely.to_wkb(f.geom))
        return h.hexdigest()


def test_round_trip_and_order(db):
    with db.begin() as s:
        repo = ScenarioRepository(s, DEMO)
        sid = repo.create("静海镇补点方案", author="规划科")
        code = s.scalars(select(Facility.code).where(Facility.kind_id == "rural_mutual_aid")).first()
        repo.add_change(sid, Change("open", kind_id="community_station", point=Point(116.93, 38.93), note="新站A"))
        repo.add_change(sid, Change("close", facility_code=code))
        repo.add_change(sid, Change("open", kind_id="day_care", point=Point(116.91, 38.92), candidate_id="C17"))
    with db() as s:
        repo = ScenarioRepository(s, DEMO)
        got = repo.changes(sid)
        assert [c.action for c in got] == ["open", "close", "open"]
        assert got[0].point.equals(Point(116.93, 38.93)) and got[0].note == "新站A"
        assert got[1].facility_code == code and got[2].candidate_id == "C17"
        listing = repo.list()
        assert listing.loc[0, "name"] == "静海镇补点方案" and listing.loc[0, "changes"] == 3


def test_scenario_operations_never_touch_the_base(db):
    before = base_fingerprint(db)
    with db.begin() as s:
        repo = ScenarioRepository(s, DEMO)
        codes = s.scalars(select(Facility.code).limit(3)).all()
        a = repo.create("方案一")
        repo.add_change(a, Change("close", facility_code=codes[0]))
        repo.add_change(a, Change("change_kind", facility_code=codes[1], kind_id="day_care"))
        repo.add_change(a, Change("change_beds", facility_code=codes[2], beds_total=99))
        b = repo.duplicate(a, "方案一（副本）")
        repo.rename(b, "方案二")
        c = repo.create("方案三", base_id=a)
        repo.add_change(c, Change("open", kind_id="meal_point", point=Point(116.95, 38.9)))
        repo.remove_last_change(b)
    with db() as s:
        repo = ScenarioRepository(s, DEMO)
        fac = Repository(s, DEMO).facilities()
        assert [ch.action for ch in repo.changes(c)] == ["close", "change_kind", "change_beds", "open"]
        assert [ch.action for ch in repo.changes(b)] == ["close", "change_kind"]
        after = apply_changes(fac, repo.changes(c), kind_levels=LEVELS)
        assert len(after) == len(fac)  # one closed, one opened
        assert codes[0] not in set(after["code"]) and "S-1" in set(after["code"])
        row = after[after["code"] == codes[1]].iloc[0]
        assert row["kind_id"] == "day_care" and row["level"] == LEVELS["day_care"]
        assert after[after["code"] == codes[2]].iloc[0]["beds_total"] == 99
    with db.begin() as s:
        ScenarioRepository(s, DEMO).delete(b)
    assert base_fingerprint(db) == before


def test_errors_say_what_to_fix(db):
    with db.begin() as s:
        repo = ScenarioRepository(s, DEMO)
        a = repo.create("方案")
        repo.create("依赖方案", base_id=a)
        with pytest.raises(ScenarioRepoError, match="已有同名情景“方案”"):
            repo.create("方案")
        with pytest.raises(ScenarioRepoError, match="不能为空"):
            repo.create("  ")
        with pytest.raises(ScenarioRepoError, match="是 1 个情景的基准（依赖方案）"):
            repo.delete(a)
        with pytest.raises(ScenarioRepoError, match="no scenario with id 999"):
            repo.rename(999, "x")
        with pytest.raises(ScenarioRepoError, match="unknown action 'move'"):
            repo.add_change(a, Change("move"))


def test_apply_changes_errors(demo_bundle):
    import geopandas as gpd

    fac = gpd.GeoDataFrame(demo_bundle.facilities[:5], geometry="geom", crs="EPSG:4326").rename_geometry("geometry")
    with pytest.raises(ScenarioError, match=r"change 1 \(close\): no facility with code 'nope'"):
        apply_changes(fac, [Change("close", facility_code="nope")], kind_levels=LEVELS)
    with pytest.raises(ScenarioError, match=r"change 2 \(open\): needs a point and a known facility kind"):
        apply_changes(fac, [Change("open", kind_id="day_care", point=Point(1, 1)), Change("open", kind_id="spa", point=Point(1, 1))],
                      kind_levels=LEVELS)
    same = apply_changes(fac, [], kind_levels=LEVELS)
    assert same["code"].tolist() == fac["code"].tolist() and same is not fac


def test_changes_to_sites_opened_in_the_same_scenario(demo_bundle):
    import geopandas as gpd

    fac = gpd.GeoDataFrame(demo_bundle.facilities[:5], geometry="geom", crs="EPSG:4326").rename_geometry("geometry")
    out = apply_changes(fac, [
        Change("open", kind_id="day_care", point=Point(116.9, 38.9)),
        Change("open", kind_id="meal_point", point=Point(116.95, 38.92)),
        Change("close", facility_code=fac["code"].iloc[0]),
        Change("change_kind", facility_code="S-2", kind_id="community_station"),
        Change("change_beds", facility_code="S-2", beds_total=30),
        Change("close", facility_code="S-1"),
    ], kind_levels=LEVELS)
    assert out["code"].tolist() == [*fac["code"].iloc[1:], "S-2"]  # base rows first, opened ones after, in order
    s2 = out.iloc[-1]
    assert (s2["id"], s2["kind_id"], s2["level"], s2["beds_total"]) == (-2, "community_station", LEVELS["community_station"], 30)
    with pytest.raises(ScenarioError, match=r"change 2 \(open\): facility code 'S-1' already exists"):
        apply_changes(fac, [Change("open", kind_id="day_care", point=Point(1, 1)),
                            Change("open", facility_code="S-1", kind_id="day_care", point=Point(1, 1))], kind_levels=LEVELS)
    with pytest.raises(ScenarioError, match=r"change 2 \(change_kind\): unknown facility kind 'spa'"):
        apply_changes(fac, [Change("open", kind_id="day_care", point=Point(1, 1)),
                            Change("change_kind", facility_code="S-1", kind_id="spa")], kind_levels=LEVELS)


def test_scenarios_are_private_to_their_owner_until_shared(writable_demo_url):
    """A planner's new scenario is theirs: another planner neither lists nor opens it; once shared, the other reads
    it but cannot change it (duplicating it gives them their own); the command line sees every one."""
    from data.db import make_engine, session_factory
    from data.scenarios import ScenarioRepoError, ScenarioRepository
    from planning.scenario import Change

    engine = make_engine(writable_demo_url)
    with session_factory(engine).begin() as s:
        wang = ScenarioRepository(s, DEMO, viewer="wang.planner")
        sid = wang.create("王的方案")
        wang.add_change(sid, Change("close", facility_code="X1"))
        li = ScenarioRepository(s, DEMO, viewer="li.planner")
        assert "王的方案" not in set(li.list()["name"])
        with pytest.raises(ScenarioRepoError, match="不存在"):
            li.changes(sid)
        wang.set_shared(sid, True)
        assert list(li.list().set_index("name").loc[["王的方案"], "owner"]) == ["wang.planner"]
        assert [c.facility_code for c in li.changes(sid)] == ["X1"]
        for write in (lambda: li.add_change(sid, Change("close", facility_code="X2")), lambda: li.rename(sid, "改名"),
                      lambda: li.delete(sid), lambda: li.set_shared(sid, False), lambda: li.remove_last_change(sid)):
            with pytest.raises(ScenarioRepoError, match="只有创建人可以修改"):
                write()
        copy = li.duplicate(sid, "李的副本")
        li.add_change(copy, Change("close", facility_code="X2"))
        assert [c.facility_code for c in li.changes(copy)] == ["X1", "X2"]
        assert {"王的方案", "李的副本"} <= set(ScenarioRepository(s, DEMO).list()["name"])  # the command line
    engine.dispose()
