"""The maps' and tables' shared words and colours: facility and project states, the coverage maps' share classes,
the density palette, the road styles. One place, so a map, a page's table and a report never name a thing twice
differently (maps/, dashboard/, pages/ and reports/ read them here)."""

from __future__ import annotations

# a facility's state as every map popup and table shows it
FACILITY_STATUS_ZH = {"operating": "运营中", "suspended": "暂停", "planned": "规划中", "building": "建设中"}

# a residential project's four-synchronous state, as the four-sync map draws it
PROJECT_STATUS_ZH = {"compliant": "合规", "violation": "不合规", "incomplete": "待评估"}

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
