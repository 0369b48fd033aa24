"""The maps' and tables' shared words and colours: facility and project states, the coverage maps' share classes,
the density palette, the road styles, the palettes of walking bands, service areas, scenario changes, scorecard
lights and the import preview. One place, so a map, a page's table and a report never name a thing twice
differently (maps/, dashboard/, pages/ and reports/ read them here)."""

from __future__ import annotations

# a facility's state as every map popup and table shows it
FACILITY_STATUS_ZH = {"operating": "运营中", "suspended": "暂停", "planned": "规划中", "building": "建设中"}

# a residential project's four-synchronous state, as the four-sync map draws it
PROJECT_STATUS_ZH = {"compliant": "合规", "violation": "不合规", "incomplete": "待评估"}
# the project tables of 四同步检查 and 乡镇视图 (services.four_sync.checks, with status_zh added by the page)
PROJECT_TABLE_LABELS = {"name": "项目", "status_zh": "状态", "failed_rule_names": "不合规项", "reasons": "原因",
                        "households": "户数"}
MILESTONE_LABELS = {"stage": "阶段", "housing": "住宅", "facility": "养老设施", "facility_late_days": "设施晚于住宅（天）"}

# the coverage maps' classes of the share of a hexagon's elders not reached: (upper bound, colour, label)
SHARE_CLASSES = ((0.0, "#a5d6a7", "全部步行可达"), (0.25, "#fee0d2", "未覆盖 ≤25%"), (0.5, "#fc9272", "未覆盖 25–50%"),
                 (0.75, "#ef3b2c", "未覆盖 50–75%"), (1.0, "#a50f15", "未覆盖 75–100%"))

# elder density, light to dark
DENSITY_COLOURS = ("#fff5eb", "#fdd0a2", "#fdae6b", "#fd8d3c", "#e6550d", "#a63603")

# roads by class, drawn under everything else
ROAD_STYLE = {
    "arterial": {"color": "#8d6e63", "weight": 2.6},
    "connector": {"color": "#a1887f", "weight": 1.4},
    "street": {"color": "#9e9e9e", "weight": 1.0},
    "lane": {"color": "#bdbdbd", "weight": 0.7},
}

# walking bands, nearest first; service areas, one colour per facility
BAND_COLOURS = ("#1b5e20", "#43a047", "#81c784", "#c8e6c9", "#e8f5e9")
AREA_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                "#bcbd22", "#17becf")

# another township's facility that reaches the scope's elders (kind and position only)
NEIGHBOUR_LABEL = "邻近乡镇设施（计入覆盖）"
NEIGHBOUR_COLOUR = "#546e7a"

# a scenario's change of coverage: newly covered, no longer covered, still not covered (light to dark)
NEW_COVER_COLOURS = ("#e5f5e0", "#a1d99b", "#74c476", "#31a354", "#006d2c")
LOST_COVER_COLOURS = ("#fcbba1", "#fb6a4a", "#ef3b2c", "#cb181d", "#67000d")
STILL_UNCOVERED_COLOURS = ("#fff7bc", "#fee391", "#fec44f", "#fe9929", "#ec7014")

# the four-synchronous map's projects
PROJECT_STATUS_COLOURS = {"compliant": "#2e7d32", "violation": "#c62828", "incomplete": "#757575"}

# the scorecard's traffic lights
LIGHT_FILL = {"green": "#43a047", "amber": "#fbc02d", "red": "#e53935", "none": "#bdbdbd",
              "not_judged": "#90a4ae", "not_evaluated": "#bdbdbd"}

# the import preview's rows
PREVIEW_COLOURS = {"ok": "#2e7d32", "warning": "#f9a825", "error": "#c62828"}
PREVIEW_LABELS = {"ok": "无问题", "warning": "警告", "error": "错误"}
