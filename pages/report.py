"""报告导出: the district's or a township's report as PDF, offline HTML map, Excel and GIS layers."""

import streamlit as st

from dashboard import report_export
from dashboard.components import footer, page_setup
from dashboard.i18n import pick
from dashboard.state import MAP_TOWNSHIP, REPORT_FORMATS

layers = page_setup("report", needs=("roads",))
if layers is None:
    st.stop()
ref = layers.ref
report_export.init_state()
st.title(pick("报告导出", "Reports"))
names = dict(zip(layers.townships["code"], layers.townships["name"], strict=True))
township = st.session_state[MAP_TOWNSHIP] or None
area = names[township] if township else f"{layers.outline['name'].iloc[0]}{pick('全区', ' (district)')}"
st.caption(pick(
    f"范围：**{area}**（在左侧“区域”中更改）。PDF 为 A4 报告：封面、总览地图、考核指标、分乡镇分类别覆盖、未覆盖片区、四同步问题、"
    "可选的规划情景前后对比；HTML 为可离线打开的交互地图；Excel 含报告中的全部表格；GeoPackage / GeoJSON 为地图图层，可在 GIS 软件中打开。"
    "同样的报告可用命令 `python cli.py report` 定时生成。",
    f"Area: **{area}** (change it in the sidebar). The same report: `python cli.py report`."))

request = report_export.choices(ref)
formats = st.session_state[REPORT_FORMATS]
if request is not None and st.button(pick("生成", "Generate"), type="primary", icon=":material/description:",
                                     key="report.generate"):
    report_export.generate(ref, request, formats)
if request is not None:
    report_export.downloads(request, formats)
footer(layers.meta)
