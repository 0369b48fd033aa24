"""四同步检查: residential projects against the four-synchronous rules, with map, timeline and import."""

import tempfile
from pathlib import Path

import streamlit as st
from streamlit_folium import st_folium

from dashboard.components import audited_download, footer, mark_since, page_setup
from dashboard.i18n import pick
from dashboard.state import MAP_BASEMAP, MAP_TOWNSHIP
from maps.elements import LocalAssets
from maps.pages import build_projects_map
from maps.vocabulary import MILESTONE_LABELS, PROJECT_TABLE_LABELS
from reports.cells import csv_bytes
from services import base, four_sync, import_files

config = base.get_config()
layers = page_setup("four_sync", needs=("roads",))
if layers is None:
    st.stop()
st.title(pick("四同步检查", "Four-synchronous checks"))
ref = layers.ref
checks, table = four_sync.checks(ref)
as_of = four_sync.as_of_date(layers.meta)
township = st.session_state[MAP_TOWNSHIP] or None
rules = {r.id: pick(r.label_zh, r.label_en) for r in config.four_sync.rules}
st.caption(pick(f"新建住宅小区养老服务设施与住宅同步规划、建设、验收、交付；按数据日期 {as_of} 判断各阶段，"
                "规则与阈值见 config/dashboard.toml 的 [four_sync]。",
                f"Judged as of {as_of}; rules in config/dashboard.toml [four_sync]."))

c1, c2 = st.columns(2)
statuses = c1.multiselect(pick("状态", "Status"), options=list(four_sync.OVERALL_ZH),
                          format_func=four_sync.OVERALL_ZH.get, default=list(four_sync.OVERALL_ZH))
rule = c2.selectbox(pick("不合规规则", "Failed rule"), options=["", *rules],
                    format_func=lambda r: pick("（全部）", "(any)") if r == "" else rules[r])
shown = table[table["status"].isin(statuses)] if len(table) else table
if township and len(shown):
    shown = shown[shown["township_code"] == township]
if rule and len(shown):
    shown = shown[shown["failed_rules"].str.split(";").apply(lambda rs: rule in rs)]

area = table[table["township_code"] == township] if township and len(table) else table
n = {s: int((area["status"] == s).sum()) if len(area) else 0 for s in four_sync.OVERALL_ZH}
assessed = n["compliant"] + n["violation"]
k1, k2, k3, k4 = st.columns(4)
k1.metric(pick("住宅项目", "Projects"), f"{len(area):,}", border=True)
k2.metric(pick("合规", "Compliant"), f"{n['compliant']:,}", border=True)
k3.metric(pick("不合规", "Violations"), f"{n['violation']:,}", border=True)
k4.metric(pick("四同步合规率", "Compliance rate"), f"{n['compliant'] / assessed:.1%}" if assessed else "—", border=True,
          help=pick(f"合规项目 ÷ 已完整评估项目（{n['compliant']}/{assessed}）；待评估 {n['incomplete']} 个不计入",
                    "Compliant over fully assessed projects"))

left, right = st.columns([3, 2])
with left:
    fmap = build_projects_map(layers.outline, layers.townships, shown, config=config,
                              basemap_id=st.session_state[MAP_BASEMAP], selected_township=township, assets=LocalAssets())
    st_folium(fmap, height=480, use_container_width=True, returned_objects=[], key="four_sync_map")
with right:
    st.subheader(pick("项目里程碑", "Milestones"))
    if len(shown):
        ids = shown["id"].tolist()
        names = dict(zip(shown["id"], shown["name"], strict=True))
        pid = st.selectbox(pick("项目", "Project"), options=ids, format_func=names.get)
        check = checks[table.index[table["id"] == pid][0]]
        st.dataframe(four_sync.timeline(check).rename(columns=MILESTONE_LABELS), hide_index=True, width="stretch")
        for o in check.outcomes:
            icon = {"pass": ":green[:material/check_circle:]", "fail": ":red[:material/cancel:]",
                    "na": ":gray[:material/remove:]", "not_evaluated": ":orange[:material/help:]"}[o.status]
            st.markdown(f"{icon} **{rules[o.rule_id]}**　{o.reason}")
    else:
        st.info(pick("没有符合筛选条件的项目。", "No project matches the filters."))

st.subheader(pick("检查结果", "Results"))
columns = list(PROJECT_TABLE_LABELS)
shown = shown.assign(status_zh=shown["status"].map(four_sync.OVERALL_ZH)) if len(shown) else shown
since, _, new_projects = mark_since(ref)
if new_projects is not None and len(shown):
    shown = shown.assign(较基期=["新增" if n in new_projects else "" for n in shown["name"]])
    columns = ["较基期", *columns]
    st.caption(pick(f"“较基期”标出 {since} 以后新录入的项目（{int((shown['较基期'] == '新增').sum())} 个）。",
                    f"New since {since} are marked."))
st.dataframe((shown[columns] if len(shown) else shown).rename(columns=PROJECT_TABLE_LABELS), hide_index=True,
             width="stretch")
audited_download(pick("下载 CSV", "Download CSV"), icon=":material/download:", mime="text/csv",
                 data=(csv_bytes(shown[["name", "status", "failed_rules", "reasons"]])
                       if len(shown) else b""),
                 file_name=f"four_sync_{as_of}.csv", what="four_sync", district_code=ref.district_code)

with st.expander(pick("导入住宅项目（CSV / Excel 模板）", "Import projects (CSV / Excel)")):
    st.caption("列：" + ", ".join(four_sync.COLUMNS) + "。日期 YYYY-MM-DD 或留空；任一单元格有误则整份文件不导入。")
    upload = st.file_uploader(pick("项目文件", "Project file"), type=["csv", "xlsx"])
    replace = st.checkbox(pick("替换现有全部项目", "Replace all existing projects"))
    too_big = import_files.upload_limit_problem(len(upload.getvalue()), "projects", config) if upload else None
    if too_big:
        st.error(too_big)
    elif upload is not None and st.button(pick("导入", "Import"), type="primary"):
        with tempfile.TemporaryDirectory() as tmp:
            # never a path from the client's file name: a fixed name with an allowed suffix
            path = Path(tmp) / ("upload.xlsx" if upload.name.lower().endswith(".xlsx") else "upload.csv")
            path.write_bytes(upload.getvalue())
            try:
                n = four_sync.import_file(ref, path, replace=replace, source_name=Path(upload.name).name)
                st.success(pick(f"已导入 {n} 个项目（新的数据版本）", f"Imported {n} projects (a new data version)"))
            except four_sync.ProjectFileError as exc:
                st.error(str(exc))
footer(layers.meta)
