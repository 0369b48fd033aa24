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
from planning.scenario import Change, ScenarioError, apply_changes
from services.scenarios import ScenarioRepoError, ScenarioRepository
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
    with pytest.raises(ScenarioError, match=r"change 1 \(close\): no facility with code 'nope'") as err:
        apply_changes(fac, [Change("close", facility_code="nope")], kind_levels=LEVELS)
    assert str(err.value).startswith("第 1 项变更（关闭）：本情景中没有编码为“nope”的设施")  # the planner reads Chinese
    with pytest.raises(ScenarioError, match=r"^第 1 项变更（改床位）：床位数须为不小于 0 的整数"):
        apply_changes(fac, [Change("change_beds", facility_code=fac["code"].iloc[0], beds_total=-1)], kind_levels=LEVELS)
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
    from planning.scenario import Change
    from services.scenarios import ScenarioRepoError, ScenarioRepository

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


def test_append_openings_numbers_sites_after_the_earlier_ones(demo_bundle):
    """Sites opened after two earlier openings (one of them closed again) are S-3 and S-4 with ids -3 and -4, after
    every row there already is; a code in use is refused with the change's own number."""
    import geopandas as gpd

    from planning.scenario import append_openings

    fac = gpd.GeoDataFrame(demo_bundle.facilities[:5], geometry="geom", crs="EPSG:4326").rename_geometry("geometry")
    earlier = apply_changes(fac, [Change("open", kind_id="day_care", point=Point(116.9, 38.9)),
                                  Change("open", kind_id="day_care", point=Point(116.91, 38.9)),
                                  Change("close", facility_code="S-1")], kind_levels=LEVELS)
    out = append_openings(earlier, [Change("open", kind_id="meal_point", point=Point(116.92, 38.9), note="新站甲"),
                                    Change("open", kind_id="day_care", point=Point(116.93, 38.9))],
                          kind_levels=LEVELS, first=4, opened_before=2)
    assert out["code"].tolist() == [*fac["code"], "S-2", "S-3", "S-4"]
    assert out["id"].tolist()[-3:] == [-2, -3, -4]
    assert out["name"].tolist()[-2:] == ["新站甲", "规划新增站点 S-4"]
    assert out["level"].tolist()[-2:] == [LEVELS["meal_point"], LEVELS["day_care"]]
    with pytest.raises(ScenarioError, match=r"change 5 \(open\): facility code 'S-2' already exists"):
        append_openings(earlier, [Change("open", kind_id="day_care", point=Point(1, 1)),
                                  Change("open", facility_code="S-2", kind_id="day_care", point=Point(1, 1))],
                        kind_levels=LEVELS, first=4, opened_before=2)
    with pytest.raises(ValueError, match="openings only"):
        append_openings(earlier, [Change("close", facility_code="S-2")], kind_levels=LEVELS)


def test_clicks_extend_the_last_evaluation_and_give_what_the_whole_set_gives(demo_db_url, monkeypatch):
    """Each click opens one site: its evaluation extends the one before (only the new site's reach is searched)
    and gives what evaluating the whole set again gives (the second method: one multi-source search from every
    counted site), down to the order of the counted sites and the township of each new one. A site of a kind not
    counted is listed but covers nothing."""
    import numpy as np

    from services import coverage, scenarios
    from tests.conftest import demo_ref

    ref = demo_ref(demo_db_url)
    eng = coverage.engine(ref)
    care = tuple(sorted(k.id for k in load_config().facility_kinds if k.care_service))
    monkeypatch.setattr(scenarios, "_EVALUATIONS", scenarios._Evaluations())  # nothing from other tests
    extended = []
    real = scenarios._extended
    monkeypatch.setattr(scenarios, "_extended", lambda *a: extended.append(a[3]) or real(*a))
    now = scenarios.current_evaluation(ref, care, 900.0)
    points = scenarios.generated_candidates(eng, now.result).lonlat[:5]
    closed = now.counted["code"].iloc[0]
    changes = [Change("close", facility_code=closed)]
    changes += [Change("open", kind_id="community_station", point=Point(*p)) for p in points[:3]]
    changes += [Change("open", kind_id="dispatch_centre", point=Point(*points[3]))]  # not a care service
    changes += [Change("open", kind_id="day_care", point=Point(*points[4]))]
    current, townships = scenarios.current_facilities(ref)
    for k in range(1, len(changes) + 1):
        got = scenarios.compare(ref, eng, changes[:k], care, 900.0).after
        whole = scenarios.evaluate_set(eng, scenarios.with_townships(
            apply_changes(current, changes[:k], kind_levels=scenarios.kind_levels()), townships), care, 900.0)
        assert (got.result.covered == whole.result.covered).all()
        assert np.allclose(got.result.network_m, whole.result.network_m)
        assert np.allclose(got.result.area_covered, whole.result.area_covered)
        assert got.counted["id"].tolist() == whole.counted["id"].tolist()
        assert got.facilities["code"].tolist() == whole.facilities["code"].tolist()
        assert got.facilities["township_code"].tolist() == whole.facilities["township_code"].tolist()
    assert extended == [1, 2, 3, 4, 5]  # every opening extended the evaluation of the changes before it
    assert "dispatch_centre" not in set(got.counted["kind_id"]) and len(got.counted) == len(now.counted) - 1 + 4
    assert got.result.covered.sum() > now.result.covered.sum()


def test_area_summary_of_one_township_by_hand(demo_db_url):
    """The headline figures of one township, summed here from the facility rows and the elders' coverage: a care
    facility closed there and a station opened there."""
    import numpy as np

    from services import coverage, scenarios
    from tests.conftest import demo_ref

    ref = demo_ref(demo_db_url)
    eng = coverage.engine(ref)
    care = tuple(sorted(k.id for k in load_config().facility_kinds if k.care_service))
    current, _ = scenarios.current_facilities(ref)
    ops = current[(current["status"] == "operating") & current["kind_id"].isin(care)]
    with_beds = ops[ops["beds_total"] > 0].iloc[0]
    twp = with_beds["township_code"]
    inside = eng.groups[eng.groups["township_code"] == twp].geometry.iloc[0]
    cmp = scenarios.compare(ref, eng, [Change("close", facility_code=with_beds["code"]),
                                       Change("open", kind_id="community_station", point=Point(inside.x, inside.y))],
                            care, 900.0)
    s = scenarios.area_summary(cmp, "elders", twp)
    mine = (eng.groups["township_code"] == twp).to_numpy()
    elders = eng.model.weights[mine, coverage.CATEGORY_IDS.index("elders")]
    beds = ops.loc[ops["township_code"] == twp, "beds_total"].sum()
    sites = int((ops["township_code"] == twp).sum())
    assert s.total == pytest.approx(elders.sum())
    assert s.covered == pytest.approx((elders[cmp.before.result.covered[mine]].sum(),
                                       elders[cmp.after.result.covered[mine]].sum()))
    assert s.sites == (sites, sites)  # one closed, one opened
    assert np.allclose(s.beds_per_1000, (1000 * beds / elders.sum(), 1000 * (beds - with_beds["beds_total"]) / elders.sum()))
