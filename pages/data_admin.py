"""数据管理: a district's files checked before anything is stored, imported as dated versions, rolled back."""

import tempfile
from pathlib import Path

import streamlit as st
from streamlit_folium import st_folium

from dashboard import data_views as v
from dashboard.components import audited_download, caller, footer, page_start
from dashboard.i18n import pick
from dashboard.results_views import results_tab
from dashboard.state import (
    DA_ACCEPT,
    DA_CHECK,
    DA_DONE,
    DA_ENTRY,
    DA_FILTER,
    DA_IMPORTED,
    DA_SUMMARY,
    MAP_BASEMAP,
)
from maps.elements import LocalAssets
from maps.pages import build_preview_map, build_version_map
from reports.problems import problems_xlsx
from services import base, data_admin
from services.access import AccessDenied
from services.base import KIND_ZH
from services.data_admin import ImportRefused
from services.engine import database_url

user = page_start("data_admin")
config = base.get_config()
v.init_state()
url = database_url()
district = v.district_choice(url, config.app.district_code)
new = district == v.NEW
st.title(pick("数据管理", "Data management"))
if st.session_state.get(DA_DONE):
    st.success(st.session_state.pop(DA_DONE))
    v.import_summary(st.session_state.pop(DA_SUMMARY, None))


@st.fragment
def import_tab() -> None:
    """Choosing, checking and importing a file. A fragment: an edit of the mapping, a value map or the problem
    filter reruns only this part, not the sidebar, the versions and the templates."""
    naming = v.new_district() if new else None
    kind = v.kind_choice(new)
    v.options_form(kind)
    with tempfile.TemporaryDirectory() as tmp:
        source = v.source_file(Path(tmp)) if not new or naming else None
        if source is not None:
            path, shown_name = source
            target = naming[0] if new else district
            options = v.import_options(kind, shown_name, naming[1] if new else None)
            ref = None if new else base.current_ref(url, district).versions
            content = v.file_key(path, shown_name)
            key = v.options_key(kind, target, options, content, ref)
            table = v.cached_table(kind, content, path, options)
            check = v.cached_check(key, lambda: data_admin.check(url, target, kind, path, options, table=table))
            v.understood(check)
            v.mapping_editor(kind, check, content[:16])
            v.saved_mapping(kind, check, content[:16], target)
            v.value_maps(kind, check, content[:16], url, target)
            st.subheader(pick("问题清单", "Problems"))
            shown = v.problems(check)
            if check.prepared is not None and check.prepared.problems:
                audited_download(pick("下载问题清单（Excel，问题单元格标色）", "Download problems (Excel)"),
                                 data=lambda: problems_xlsx(table, check.prepared), file_name="问题清单.xlsx",
                                 icon=":material/download:", what=f"problems {kind}", district_code=target)
            outline, towns = (None, None) if new else data_admin.outline_and_townships(url, district)
            points = data_admin.point_table(check.prepared, None if st.session_state[DA_FILTER] == "all"
                                            else set(shown["row"].dropna()))  # the map shows what the list shows
            shapes = data_admin.shape_frame(kind, check.prepared)
            basemap = st.session_state[MAP_BASEMAP]
            fmap = None
            if shapes is not None:  # polygons or lines: drawn over the outline (or as the outline, for a new one)
                fmap = v.kept_map(f"{target}|{ref}|{basemap}|{key}", lambda: build_version_map(
                    outline if outline is not None else shapes, shapes, label=pick("导入预览（尚未保存）", "Preview"),
                    config=config, basemap_id=basemap, assets=LocalAssets()))
            elif outline is not None and not points.empty:
                fmap = v.kept_map(v.points_digest(points, f"{target}|{ref}|{basemap}"), lambda: build_preview_map(
                    outline, towns, points, config=config, assets=LocalAssets(), basemap_id=basemap))
            if fmap is not None:
                st.subheader(pick("预览地图（尚未保存）", "Preview (not stored)"))
                st_folium(fmap, height=460, use_container_width=True, returned_objects=[], key="da_map")
            change = None
            if check.ok and check.prepared is not None:
                st.subheader(pick("与当前版本相比", "Against the current version"))
                change = data_admin.changes(url, target, kind, check.prepared.rows)
                st.dataframe(v.labelled(change), hide_index=True, width="stretch")
            errors = check.prepared.errors if check.prepared is not None else []
            warnings = check.prepared.warnings if check.prepared is not None else []
            if check.message:
                st.error(check.message)
            if warnings and not errors:
                st.checkbox(pick(f"已核对 {len(warnings)} 条警告，仍然导入", "Accept the warnings"), key=DA_ACCEPT)
            done = st.session_state.get(DA_IMPORTED)  # (file, kind, district, version) of this session's last import
            again = done is not None and done[:3] == (content, kind, target) and \
                dict(ref or ()).get(kind) == done[3]
            if again:  # a second click would store the same file twice
                st.info(pick(f"这个文件已导入为{KIND_ZH[kind]}当前版本 {done[3]}。新的数据请上传新文件；"
                             "要重新导入这个文件，先在“版本与回退”中回退。",
                             f"This file is the current version {done[3]} already."))
            blocked = bool(check.message) or (bool(warnings) and not st.session_state[DA_ACCEPT]) or again
            if st.button(pick(f"导入为新版本（{check.rows:,} 行）", f"Import ({check.rows:,} rows)"), type="primary",
                         disabled=blocked, icon=":material/upload:"):
                with st.status(pick("导入中 …", "Importing …"), expanded=True) as status:
                    try:
                        r = data_admin.store(url, target, kind, path, options, caller=caller(),
                                             progress=status.write)
                    except (ImportRefused, AccessDenied) as exc:
                        status.update(label=str(exc), state="error")
                    else:
                        status.update(label=pick("已导入", "Imported"), state="complete")
                        st.session_state[DA_DONE] = pick(
                            f"已导入 {r.rows:,} 行{KIND_ZH[kind]}，新版本 {r.version_id}（数据日期 {options.data_date}）"
                            + ("。老人点和设施接入路网的位置见“道路与入口”" if kind == "roads" else ""),
                            f"Imported {r.rows:,} rows as version {r.version_id}"
                            + (": see “Roads and entry points”" if kind == "roads" else ""))
                        st.session_state[DA_SUMMARY] = (
                            data_admin.rows_by_township(url, target, kind, r.prepared.rows), change)
                        st.session_state[DA_IMPORTED] = (content, kind, target, r.version_id)
                        if kind == "roads":
                            st.session_state[DA_ENTRY] = True
                        st.session_state.pop(DA_CHECK, None)
                        if new:  # the sidebar shows the district just made (set before its widget, next run)
                            st.session_state[v.SWITCH_TO] = target
                        st.rerun()


tab_import, tab_versions, tab_entry, tab_templates, tab_tokens, tab_results = st.tabs([
    pick("导入数据", "Import"), pick("版本与回退", "Versions"), pick("道路与入口", "Roads and entry points"),
    pick("空白模板", "Templates"), pick("站点接入令牌", "Station tokens"), pick("计算结果", "Results")])
with tab_import:
    import_tab()
with tab_versions:
    v.versions_tab(url, None if new else district)
with tab_entry:
    v.entry_tab(url, None if new else district)
with tab_templates:
    v.templates_tab(url, None if new else district)
with tab_tokens:
    if not new:
        v.tokens_tab(url, district)
with tab_results:
    results_tab(url)  # every district of the account's scope, not only the one picked
if not new:
    footer(data_admin.district_meta(url, district))
