"""Pieces of the 数据管理 page: district choice, file source, options, mapping editor, check results, versions."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from dashboard.components import caller, current_user, district_names, follow_district_link
from dashboard.i18n import pick, t
from dashboard.state import (
    DA_ACCEPT,
    DA_CHECK,
    DA_COLUMNS,
    DA_CRS,
    DA_DATE,
    DA_DONE,
    DA_ENCODING,
    DA_ENTRY,
    DA_FILTER,
    DA_KIND,
    DA_MAP,
    DA_NEW_CODE,
    DA_NEW_NAME,
    DA_SERVER_FILE,
    DA_SHEET,
    DA_SOURCE,
    DA_TABLE,
    DA_VALUES,
    DISTRICT,
    MAP_BASEMAP,
)
from maps.elements import LocalAssets
from maps.pages import build_version_map
from reports.import_template import template_xlsx
from services import access, base, data_admin, import_files
from services.access import AccessDenied
from services.base import DATA_KINDS, KIND_ZH
from services.data_admin import ImportOptions
from services.import_files import MappingFile

NEW = "__new__"  # the district choice that creates one from an outline file
SWITCH_TO = "da.switch_to"  # a district just created, chosen in the sidebar on the next run
TABLE_CRS = ("auto", "wgs84", "cgcs2000", "gcj02", "bd09")
GIS_CRS = ("", "wgs84", "cgcs2000", "gcj02", "bd09")
CRS_ZH = {"auto": "自动判断（按证据）", "": "文件自带", "wgs84": "WGS84（GPS）", "cgcs2000": "CGCS2000",
          "gcj02": "GCJ-02（高德、腾讯）", "bd09": "BD-09（百度）"}
UPLOAD_TYPES = sorted({s.rsplit(".", 1)[-1] for s in import_files.SUFFIXES})


# the data page's tables as services.data_admin returns them (machine-named), labelled for the page
LABELS = {
    "row": "行", "column": "列", "value": "值", "why": "问题", "fix": "如何修改", "severity": "级别",
    "reading": "按此读法", "in_township": "落在所填乡镇的行", "in_district": "在区界内的行",
    "township": "乡镇（街道）", "rows": "行数", "elders": "60岁以上老人",
    "added": "新增", "removed": "撤销", "moved": f"移动超过{data_admin.MOVED_M:g}米", "beds_changed": "床位有变化",
    "beds_delta": "床位增减", "elders_before": "现版本60岁以上", "elders_after": "新版本60岁以上",
    "rows_before": "现版本行数", "rows_after": "新版本行数", "delta": "变化",
    "id": "版本", "kind": "数据", "current": "当前", "data_date": "数据日期", "source": "来源文件", "sha256": "SHA-256",
    "created_at": "导入时间", "created_by": "导入人", "synthetic": "合成",
    "rule": "规则", "osm_tags": "OSM 标签", "edges": "边数", "km": "长度（km）", "set": "类型", "point_id": "编号",
    "name": "名称", "reason": "原因", "plain_m": "最近边（m）", "entry_m": "入口（m）", "added_m": "增加（m）",
}
SEVERITY_ZH = {"error": "错误", "warning": "警告"}


def labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """A services table as the page shows it: Chinese column names, and the words of its coded values."""
    out = frame.copy()
    sets = {}
    if "set" in out.columns:  # the entry check's tables only: the walking engine is not loaded for the others
        from services.coverage import SET_ZH as sets
    for column, words in (("severity", SEVERITY_ZH), ("reading", data_admin.READINGS), ("kind", KIND_ZH),
                          ("set", sets)):
        if column in out.columns:
            out[column] = out[column].map(words).fillna(out[column])
    return out.rename(columns=LABELS)


def init_state() -> None:
    defaults = {DA_KIND: "facilities", DA_SOURCE: "upload", DA_CRS: "auto", DA_ENCODING: "", DA_SHEET: "",
                DA_DATE: dt.date.today(), DA_COLUMNS: {}, DA_VALUES: {}, DA_ACCEPT: False, DA_FILTER: "all",
                DA_NEW_CODE: "", DA_NEW_NAME: ""}
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)


def district_choice(url: str, default: str) -> str:
    """The sidebar's district picker, with one more choice: a new district from its outline file."""
    listing = base.district_list(url)
    user = current_user()
    names = district_names(listing[[access.may_see_district(user, c) for c in listing["code"]]])
    follow_district_link(names)
    options = [*names, NEW] if user.area_code is None else list(names)  # an account bound to an area
    if not options:
        st.error(t("no_district"))
        st.stop()
    if st.session_state.get(SWITCH_TO) in names:
        st.session_state[DISTRICT] = st.session_state.pop(SWITCH_TO)
    if st.session_state.get(DISTRICT) not in options:
        st.session_state[DISTRICT] = default if default in names else options[0]
    with st.sidebar:
        st.selectbox(t("district"), options=options, key=DISTRICT,
                     format_func=lambda c: pick("＋ 新建区县（导入区界）", "+ New district (outline)") if c == NEW
                     else names[c])
    return st.session_state[DISTRICT]


def new_district() -> tuple[str, str] | None:
    """Code and name of the district to create; None (after saying why) until both are valid."""
    c1, c2 = st.columns(2)
    code = c1.text_input(pick("区县代码（6位行政区划代码）", "District code (6 digits)"), key=DA_NEW_CODE).strip()
    name = c2.text_input(pick("区县名称", "District name"), key=DA_NEW_NAME).strip()
    if not code or not name:
        st.info(pick("填写区县代码和名称，再上传区界文件（GeoJSON、Shapefile .zip、GeoPackage）。",
                     "Give the code and name, then upload the outline."))
        return None
    problem = data_admin.district_code_problem(code, name)
    if problem:
        st.error(problem)
        return None
    return code, name


def file_key(path: Path, shown_name: str) -> str:
    """What identifies a file's content cheaply: the bytes' hash for uploads, size and time for server files."""
    if st.session_state[DA_SOURCE] == "upload":
        return hashlib.sha256(path.read_bytes()).hexdigest()
    stat = path.stat()
    return f"{shown_name}:{stat.st_size}:{stat.st_mtime_ns}"


def source_file(folder: Path) -> tuple[Path, str] | None:
    """The file to import: an upload (written under a server-chosen name) or one from the import folder."""
    config = base.get_config()
    src = st.radio(pick("文件来源", "Source"), ["upload", "server"], key=DA_SOURCE, horizontal=True,
                   format_func=lambda s: pick("上传文件", "Upload") if s == "upload" else
                   pick(f"服务器导入目录（{config.imports.import_folder}，用于超过上传上限的大文件）", "Server folder"))
    try:
        if src == "upload":
            up = st.file_uploader(pick("选择文件", "File"), type=UPLOAD_TYPES, key="da.upload")
            if up is None:
                return None
            return import_files.save_upload(up.getvalue(), up.name, folder, config, st.session_state[DA_KIND]), up.name
        files = import_files.server_files(config)
        if not files:
            st.info(pick(f"服务器导入目录 {config.imports.import_folder} 中还没有可导入的文件。",
                         "The server import folder is empty."))
            return None
        rel = st.selectbox(pick("服务器上的文件", "Server file"), files, key=DA_SERVER_FILE)
        return import_files.server_file(rel, config), Path(rel).name
    except import_files.FileRefused as exc:
        st.error(str(exc))
        return None


def kind_choice(new: bool) -> str:
    if new:
        st.session_state[DA_KIND] = "district"
    return st.selectbox(pick("数据类型", "Kind"), DATA_KINDS, key=DA_KIND, disabled=new,
                        format_func=lambda k: f"{KIND_ZH[k]}（{k}）")


def options_form(kind: str) -> None:
    c1, c2, c3, c4 = st.columns(4)
    table = kind in data_admin.TABLE_KINDS or kind == "communities"
    crs_options = TABLE_CRS if kind in data_admin.TABLE_KINDS else GIS_CRS
    if st.session_state[DA_CRS] not in crs_options:
        st.session_state[DA_CRS] = crs_options[0]
    c1.selectbox(pick("坐标系", "CRS"), crs_options, key=DA_CRS, format_func=CRS_ZH.get,
                 help=pick("表格的经纬度默认自动判断；GIS 文件按文件自带的坐标系读取", "Tables: decided from evidence"))
    c2.selectbox(pick("编码", "Encoding"), ["", "utf-8", "gbk"], key=DA_ENCODING,
                 format_func=lambda e: pick("自动识别", "Detect") if e == "" else e.upper(), disabled=not table)
    c3.text_input(pick("工作表（名称或序号，空=第一个）", "Sheet"), key=DA_SHEET, disabled=not table)
    c4.date_input(pick("统计截止日期（数据日期）", "Data date"), key=DA_DATE)


def import_options(kind: str, source_name: str, name: str | None) -> ImportOptions:
    ss = st.session_state
    columns = {k: v for k, v in ss[DA_COLUMNS].items()}
    values = {k: dict(v) for k, v in ss[DA_VALUES].items() if v}
    override = MappingFile(columns, values) if columns or values else None
    return ImportOptions(crs=ss[DA_CRS] or None, encoding=ss[DA_ENCODING] or None, sheet=ss[DA_SHEET] or None,
                         data_date=ss[DA_DATE], override=override, source_name=source_name, name=name)


def options_key(kind: str, district_code: str, options: ImportOptions, content: str, ref) -> str:
    o = options
    mapping = import_files.mapping_toml(o.override) if o.override else ""
    return "|".join(map(str, (district_code, kind, content, o.crs, o.encoding, o.sheet, mapping, o.name, ref)))


def cached_table(kind: str, content: str, path: Path, options: ImportOptions):
    """A facility or elder sheet read once per file, encoding and sheet; None for other kinds (or when it cannot
    be read: the check then says why)."""
    if kind not in data_admin.TABLE_KINDS:
        return None
    key = f"{content}|{options.encoding}|{options.sheet}"
    held = st.session_state.get(DA_TABLE)
    if held is None or held[0] != key:
        try:
            st.session_state[DA_TABLE] = (key, data_admin.read_table(path, options))
        except ValueError:
            return None
    return st.session_state[DA_TABLE][1]


def points_digest(points: pd.DataFrame, key: str) -> str:
    """What a preview map of ``points`` depends on: ``key`` (district, data, basemap) and the points' positions and
    status, so an edit that moves nothing (a column that is not a position) keeps the same map."""
    return f"{key}|{int(pd.util.hash_pandas_object(points, index=False).sum())}"


def kept_map(digest: str, build):
    """The preview map for ``digest``, built once; the browser then keeps the same map across edits."""
    held = st.session_state.get(DA_MAP)
    if held is None or held[0] != digest:
        st.session_state[DA_MAP] = (digest, build())
    # a folium map changes as it renders, so the kept one is never rendered: each run draws a copy of it (the
    # same element names, so the same HTML, which the browser then keeps)
    return copy.deepcopy(st.session_state[DA_MAP][1])


def cached_check(key: str, run):
    """The dry run for ``key``, computed once per change of file, options or the district's data."""
    held = st.session_state.get(DA_CHECK)
    if held is None or held[0] != key:
        st.session_state[DA_CHECK] = (key, run())
    return st.session_state[DA_CHECK][1]


def understood(check: data_admin.Check) -> None:
    """What was read, before anything is stored: the table, the notices, the CRS and its evidence."""
    p = check.prepared
    if p is not None and p.table:
        info = p.table
        parts = [pick(f"表头在第 {info['header_row']} 行", f"header row {info['header_row']}"),
                 pick(f"{info['data_rows']:,} 个数据行", f"{info['data_rows']:,} data rows")]
        if info.get("encoding"):
            parts.append(pick(f"编码 {info['encoding']}", f"encoding {info['encoding']}"))
        if info.get("sheet"):
            parts.append(pick(f"工作表“{info['sheet']}”", f"sheet {info['sheet']}"))
        st.markdown("**" + pick("读取", "Read") + "**" + pick("：", ": ") + "，".join(parts))
    if p is not None and p.notices:
        st.markdown("\n".join(f"- {n}" for n in p.notices))
    evidence = data_admin.crs_evidence(p)
    if not evidence.empty:
        st.caption(pick("坐标系判断的证据（每种读法）", "CRS evidence per reading"))
        st.dataframe(labelled(evidence), hide_index=True, width="stretch")


def mapping_editor(kind: str, check: data_admin.Check, widget_key: str) -> None:
    """One select box per field, pre-filled from the synonyms; choices are kept as the mapping override."""
    p = check.prepared
    if kind not in data_admin.TABLE_KINDS or p is None or not p.header:
        return
    st.markdown("**" + pick("列映射（可修改）", "Column mapping") + "**")
    options = ["", *[h for h in p.header if h]]
    cols = st.columns(4)
    for i, f in enumerate(data_admin.FIELDS[kind]):
        key = f"da.col.{widget_key}.{f.name}"
        if key not in st.session_state:
            st.session_state[key] = p.columns.get(f.name, "")
        cols[i % 4].selectbox(f"{f.label_zh}{' *' if f.required else ''}", options, key=key,
                              format_func=lambda h: pick("（不使用）", "(unused)") if h == "" else h,
                              on_change=_set_column, args=(f.name, key))


def saved_mapping(kind: str, check: data_admin.Check, widget_key: str, district_code: str) -> None:
    """Keep this mapping (columns and value maps) under a name for next month's file, or use a kept one."""
    p = check.prepared
    if kind not in data_admin.TABLE_KINDS or p is None or not p.header:
        return
    left, right = st.columns(2)
    names = import_files.saved_mappings(district_code, kind)
    if names:
        chosen = left.selectbox(pick("使用已保存的映射", "Use a saved mapping"), ["", *names], key="da.load_mapping",
                                format_func=lambda n: pick("（不使用）", "(none)") if n == "" else n)
        if chosen and left.button(pick("套用", "Apply"), key="da.apply_mapping"):
            kept = import_files.load_mapping(district_code, kind, chosen)
            st.session_state[DA_COLUMNS] = dict(kept.columns)
            st.session_state[DA_VALUES] = {k: dict(v) for k, v in kept.values.items()}
            for key in [k for k in st.session_state if str(k).startswith(("da.col.", "da.val."))]:
                del st.session_state[key]  # the select boxes start again from the kept choices
            st.rerun()
    name = right.text_input(pick("把当前映射保存为", "Save this mapping as"), key="da.mapping_name",
                            placeholder=pick("如：民政局月报", "e.g. monthly list"))
    if name and right.button(pick("保存映射", "Save mapping"), key="da.save_mapping"):
        current = MappingFile(dict(p.columns), {k: dict(v) for k, v in st.session_state[DA_VALUES].items() if v})
        try:
            saved = import_files.save_mapping(district_code, kind, name, current)
        except import_files.FileRefused as exc:
            right.error(str(exc))
        else:
            right.success(pick(f"已保存映射“{saved}”", f"Saved “{saved}”"))


def _set_column(field: str, key: str) -> None:
    st.session_state[DA_COLUMNS] = {**st.session_state[DA_COLUMNS], field: st.session_state[key]}


def value_maps(kind: str, check: data_admin.Check, widget_key: str, url: str, district_code: str) -> None:
    """Facility kinds and township names the file uses that did not match: map each by hand."""
    p = check.prepared
    if kind != "facilities" or p is None:
        return
    config = base.get_config()
    unknown = sorted({x.value for x in p.errors if x.why == "未知的设施类型"})
    towns = sorted({x.value for x in p.errors if x.column == p.columns.get("township") and x.value})
    if not unknown and not towns:
        return
    st.markdown("**" + pick("值映射：文件中的叫法 → 系统中的类型 / 乡镇", "Value maps") + "**")
    kinds = {k.id: k.name_zh for k in config.facility_kinds}
    for field, values, choices in (("kind", unknown, kinds), ("township", towns, data_admin.township_names(url, district_code))):
        for v in values:
            key = f"da.val.{widget_key}.{field}.{v}"
            st.selectbox(f"“{v}” →", ["", *choices], key=key, format_func=lambda c, ch=choices: "（未映射）" if c == ""
                         else ch[c], on_change=_set_value, args=(field, v, key))


def _set_value(field: str, value: str, key: str) -> None:
    values = {k: dict(v) for k, v in st.session_state[DA_VALUES].items()}
    chosen = st.session_state[key]
    values.setdefault(field, {})
    if chosen:
        values[field][value] = chosen
    else:
        values[field].pop(value, None)
    st.session_state[DA_VALUES] = values


def problems(check: data_admin.Check) -> pd.DataFrame:
    """The problem list, filtered by the radio above it; returns it (the map shows the same rows)."""
    table = data_admin.problem_table(check.prepared)
    if table.empty:
        st.session_state[DA_FILTER] = "all"  # no list, no filter: the map shows every row
        return table
    n_err, n_warn = int((table["severity"] == "error").sum()), int((table["severity"] == "warning").sum())
    st.radio(pick("显示", "Show"), ["all", "error", "warning"], key=DA_FILTER, horizontal=True,
             format_func=lambda f: {"all": pick(f"全部 {len(table)}", f"All {len(table)}"),
                                    "error": pick(f"错误 {n_err}", f"Errors {n_err}"),
                                    "warning": pick(f"警告 {n_warn}", f"Warnings {n_warn}")}[f])
    wanted = st.session_state[DA_FILTER]
    shown = table if wanted == "all" else table[table["severity"] == wanted]
    st.dataframe(labelled(shown), hide_index=True, width="stretch", height=min(400, 38 + 35 * len(shown)))
    return shown


def import_summary(summary) -> None:
    """After an import: its rows by township and what changed against the version it replaced."""
    if summary is None:
        return
    by_town, change = summary
    left, right = st.columns([2, 3])
    left.caption(pick("本次导入：各乡镇（街道）行数", "Rows by township"))
    left.dataframe(labelled(by_town), hide_index=True, width="stretch")
    if change is not None:
        right.caption(pick("与被替换的版本相比", "Against the replaced version"))
        right.dataframe(labelled(change), hide_index=True, width="stretch")


def versions_tab(url: str, district_code: str | None) -> None:
    """数据管理 › 版本与回退 of the district (None: a new one, which has none yet)."""
    if district_code is None:
        st.info(pick("新区县还没有版本。", "A new district has no versions yet."))
        return
    table = data_admin.version_table(url, district_code)
    st.dataframe(labelled(table), hide_index=True, width="stretch")
    kinds = [k for k in DATA_KINDS if (table["kind"] == k).any()]
    if not kinds:
        return
    drawable = table[table["kind"].isin(data_admin.DRAWABLE)]
    if not drawable.empty:
        st.subheader(pick("在地图上查看某个版本", "Show a version on the map"))
        labels = {int(r["id"]): f"{KIND_ZH[r['kind']]} v{r['id']}（{r['data_date']}，{r['rows']:,} 行"
                  f"{'，当前' if r['current'] else ''}）" for _i, r in drawable.iterrows()}
        vid = st.selectbox(pick("版本", "Version"), list(labels), format_func=labels.get, key="da.show_version")
        version_map(url, district_code, vid, labels[vid])
    st.subheader(pick("回退", "Roll back"))
    kind = st.selectbox(pick("回退哪类数据", "Kind"), kinds, format_func=KIND_ZH.get, key="da.rollback_kind")
    try:
        plan = data_admin.rollback_plan(url, district_code, kind)
    except data_admin.VersionError as exc:
        st.info(str(exc))
        return
    cur, prev = plan.current, plan.previous
    st.markdown(pick(f"当前版本 {cur['id']}（{cur['data_date']}，{cur['rows']:,} 行，{cur['source']}）将不再使用，"
                     f"改用版本 {prev['id']}（{prev['data_date']}，{prev['rows']:,} 行，{prev['source']}）。"
                     "数据不删除，之后可以再导入。",
                     f"Version {cur['id']} is replaced by version {prev['id']}; nothing is deleted."))
    sure = st.checkbox(pick("确认回退", "Confirm"), key=f"da.rollback_sure.{kind}.{cur['id']}")
    if st.button(pick("回退到上一版本", "Roll back"), disabled=not sure, key="da.rollback"):
        try:
            was, now = data_admin.do_rollback(url, district_code, kind, caller=caller())
        except AccessDenied as exc:
            st.error(str(exc))
            return
        st.session_state[DA_DONE] = pick(f"{KIND_ZH[kind]}已由版本 {was} 回退到 {now}", f"Rolled back {was} → {now}")
        st.rerun()


def templates_tab(url: str, district_code: str | None) -> None:
    st.caption(pick("空白模板：中文表头、一行示例、类型与乡镇的下拉列表。填好后在“导入数据”中上传。",
                    "Blank templates with drop-down lists."))
    for kind in ("facilities", "elders"):
        st.download_button(pick(f"{KIND_ZH[kind]}模板（.xlsx）", f"{kind} template"), icon=":material/download:",
                           data=lambda k=kind: template_xlsx(  # made when clicked
                               k, data_admin.FIELDS[k], base.get_config(),
                               townships=data_admin.template_townships(url, district_code)),
                           file_name=f"{KIND_ZH[kind]}模板.xlsx",
                           key=f"da.template.{kind}")


def version_map(url: str, district_code: str, version_id: int, label: str) -> None:
    _kind, frame = data_admin.version_layer(url, district_code, version_id)
    outline, _towns = data_admin.outline_and_townships(url, district_code)
    if outline is None:
        return
    fmap = build_version_map(outline, frame, label=label, config=base.get_config(),
                             basemap_id=st.session_state[MAP_BASEMAP], assets=LocalAssets())
    st_folium(fmap, height=420, use_container_width=True, returned_objects=[], key="da_version_map")


def entry_tab(url: str, district_code: str | None) -> None:
    """道路与入口: where elders and facilities join the walking network, and the rules that decide it (None: a new
    district, with no roads yet)."""
    from maps.entry_map import build_entry_map

    if district_code is None:
        st.info(pick("新区县还没有道路。", "A new district has no roads yet."))
        return
    st.caption(pick("老人点和设施从最近的可步行道路接入路网（入口点）。隧道、高架、室内通道、限制通行的服务道路和路网碎片"
                    "仍可步行通过，但不作入口，除非附近别无道路（规则见配置 [network.entry]）。",
                    "Points join the walking network at a street a pedestrian can reach; tunnels, viaducts, "
                    "restricted service ways and fragments stay walkable but are not entry points when a street "
                    "is near ([network.entry])."))
    if not st.toggle(pick("检查路网与入口点", "Check the network and entry points"), key=DA_ENTRY,
                     help=pick("首次检查要构建步行路网（大区县约需十几秒）；导入道路后自动打开",
                               "Builds the walking network the first time (seconds)")):
        return
    with st.spinner(pick("正在检查路网与入口点 …", "Checking the network …")):
        view = data_admin.entry_view(url, district_code)
    if isinstance(view, str):
        st.info(view)
        return
    from services.coverage import SET_ZH  # loaded with the walking engine the check has just used

    r = view.check.report
    cols = st.columns(4)
    cols[0].metric(pick("连通片", "Pieces"), f"{r.n_components:,}",
                   help=pick(f"主网 {r.main_nodes:,} 个节点、{r.main_km:,.1f} km", "The main network"))
    cols[1].metric(pick("碎片", "Fragments"), f"{r.fragments:,}",
                   help=pick(f"{r.fragment_nodes:,} 个节点、{r.fragment_km:,.2f} km：仅当 {view.check.max_snap_m:g} m "
                             "内别无道路时作入口", "Entry points only when nothing else is in reach"))
    for col, m in zip(cols[2:], r.moved, strict=False):
        zh = SET_ZH.get(m.name, m.name)
        col.metric(pick(f"入口改变的{zh}", f"{m.name} moved"), f"{len(m.ids):,} / {m.n_points:,}")
    st.dataframe(labelled(view.rules), hide_index=True, width="stretch")
    outline, _towns = data_admin.outline_and_townships(url, district_code)
    moved = view.moved
    text = [f"{SET_ZH.get(row['set'], row['set'])} {row['name'] or row['point_id']}：最近边 "
            f"{row['plain_m']:,.1f} m（{row['reason']}）→ 入口 {row['entry_m']:,.1f} m" for _i, row in moved.iterrows()]
    import geopandas as gpd

    frame = gpd.GeoDataFrame(moved.assign(text=text), geometry=gpd.points_from_xy(moved["lon"], moved["lat"]),
                             crs=4326)
    fmap = build_entry_map(outline, view.check.avoided, frame, labels=view.labels, config=base.get_config(),
                           basemap_id=st.session_state[MAP_BASEMAP], assets=LocalAssets())
    st_folium(fmap, height=460, use_container_width=True, returned_objects=[], key="da_entry_map")
    if moved.empty:
        st.success(pick("所有点的入口都是最近的道路。", "Every point joins its nearest street."))
    else:
        st.dataframe(labelled(moved.drop(columns=["lon", "lat", "plain_lon", "plain_lat", "entry_lon", "entry_lat"])),
                     hide_index=True, width="stretch")


def tokens_tab(url: str, district_code: str) -> None:
    """The ingest API's tokens of the district's stations: issue (shown once), list, revoke."""
    from services import tokens
    from services.live import station_sites

    try:
        layers = base.base_layers(base.current_ref(url, district_code))
    except base.DataMissingError:
        st.info(pick("先导入设施，才能为站点发放接入令牌。", "Import the facilities first."))
        return
    sites = station_sites(layers, base.get_config())
    names = dict(zip(sites["code"], sites["name"], strict=True))
    st.caption(pick("站点设备与网关凭令牌向实时数据接入服务（python cli.py ingest）报送心跳与事件；令牌只显示一次，"
                    "数据库只存其摘要。丢失或泄露时吊销并重新发放。",
                    "Each station's token is shown once; only its hash is kept."))
    shown = st.session_state.pop("da.token_shown", None)
    if shown:
        st.success(pick("新令牌（只显示这一次，请复制到站点网关的配置中）：", "The new token (shown once):"))
        st.code(shown, language=None)
    with st.form("da_token", clear_on_submit=True, border=True):
        c1, c2 = st.columns([3, 2])
        station = c1.selectbox(pick("站点", "Station"), options=["", *names],
                               format_func=lambda c: pick("（读取系统用的只读令牌）", "(a reader token)") if c == ""
                               else f"{names[c]}（{c}）")
        label = c2.text_input(pick("持有者说明", "Held by"), max_chars=80, placeholder=pick("如：网关 3 号", "gateway 3"))
        if st.form_submit_button(pick("发放令牌", "Issue"), type="primary"):
            try:
                st.session_state["da.token_shown"] = tokens.issue(url, caller(), station=station or None, label=label,
                                                                  stations=list(names))
            except (tokens.TokenError, AccessDenied) as exc:
                st.error(str(exc))
            else:
                st.rerun()
    listing = tokens.listing(url, caller(), list(names))
    if listing.empty:
        st.caption(pick("还没有发放令牌。", "No token yet."))
        return
    table = pd.DataFrame({"编号": listing["id"], "类型": listing["role"].map({"station": "站点", "reader": "只读"}),
                          "站点": [names.get(c, c or "—") for c in listing["station_code"]], "持有者": listing["label"],
                          "发放": listing["created_at"].astype(str).str[:16],
                          "状态": ["已吊销" if pd.notna(r) else "有效" for r in listing["revoked_at"]]})
    st.dataframe(table, hide_index=True, width="stretch")
    live = [int(i) for i, r in zip(listing["id"], listing["revoked_at"], strict=True) if pd.isna(r)]
    if live:
        c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
        which = c1.selectbox(pick("吊销令牌", "Revoke"), options=live, key="da.token_revoke")
        if c2.button(pick("吊销", "Revoke"), key="da.token_revoke_go"):
            try:
                tokens.revoke(url, caller(), which)
            except (tokens.TokenError, AccessDenied) as exc:
                st.error(str(exc))
            else:
                st.session_state[DA_DONE] = pick(f"已吊销令牌 {which}", f"Token {which} revoked")
                st.rerun()
