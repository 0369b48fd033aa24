"""AppTest for the 四同步检查 page: figures from the checks, filters, milestones."""

import pytest

from dashboard.state import MAP_TOWNSHIP
from tests.conftest import app_test, assert_clean


@pytest.fixture
def page(demo_db_url, monkeypatch):
    at = app_test("pages/four_sync.py", demo_db_url, monkeypatch)
    at.run()
    assert_clean(at)
    return at


def figures(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_figures_match_the_table(page):
    m = figures(page)
    table = page.dataframe[1].value
    assert int(m["住宅项目"]) == len(table) == 40
    assert int(m["不合规"]) == (table["状态"] == "不合规").sum() > 0  # the table as shown, in words
    assert int(m["合规"]) == (table["状态"] == "合规").sum()
    compliant, violation = int(m["合规"]), int(m["不合规"])
    assert m["四同步合规率"] == f"{compliant / (compliant + violation):.1%}"
    assert all(table.loc[table["状态"] == "不合规", "原因"].str.len() > 0)  # every violation says why


def test_filters(page):
    page.multiselect[0].set_value(["violation"]).run()
    table = page.dataframe[1].value
    assert set(table["状态"]) == {"不合规"}
    rule = next(sb for sb in page.selectbox if sb.label == "不合规规则")
    rule.set_value("sync_build").run()
    table = page.dataframe[1].value
    assert len(table) > 0 and all("同步建设" in x for x in table["不合规项"])
    page.session_state[MAP_TOWNSHIP] = "120118100000"
    page.run()
    assert int(figures(page)["住宅项目"]) < 40


def test_milestones_of_a_project(page):
    timeline = page.dataframe[0].value
    assert timeline["阶段"].tolist() == ["规划", "建设", "验收", "交付"]
    assert len([md for md in page.markdown if "**" in md.value]) == 8  # one line per configured rule
