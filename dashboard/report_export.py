"""The 报告导出 page's pieces: the choices, the generation with progress, the download buttons."""

from __future__ import annotations

import time
from dataclasses import dataclass

import streamlit as st

from dashboard.components import caller
from dashboard.i18n import pick
from dashboard.state import (
    MAP_TOWNSHIP,
    REPORT_FILES,
    REPORT_FORMATS,
    REPORT_SCENARIO,
    REPORT_SECTIONS,
    REPORT_SINCE,
)
from reports.content import SECTIONS, ReportError, ReportRequest, collect
from reports.export import FORMATS, file_name, render
from reports.static_map import FontMissingError
from services import access, audit, scenarios
from services import scorecard as sc
from services.access import AccessDenied
from services.base import DataRef

DEFAULT_FORMATS = ["pdf", "xlsx"]


@dataclass(frozen=True)
class Generated:
    label: str
    name: str
    mime: str
    data: bytes


def init_state() -> None:
    for key, value in {REPORT_SECTIONS: [s for s in SECTIONS if s not in ("scenario", "since")],
                       REPORT_FORMATS: DEFAULT_FORMATS,
                       REPORT_SCENARIO: 0, REPORT_FILES: None}.items():
        st.session_state.setdefault(key, value)


def choices(ref: DataRef) -> ReportRequest | None:
    """Sections, scenario and formats; the request (area from the sidebar) or None when nothing is chosen."""
    user = caller().user
    listing = scenarios.scenario_list(ref, viewer=user.login)  # their own and the shared ones
    if not access.may_open(user, "scenarios"):  # a township head: no district plans in their report
        listing = listing.iloc[0:0]
    names = {0: pick("不含情景", "No scenario")} | dict(zip(listing["id"].astype(int), listing["name"], strict=True))
    if st.session_state[REPORT_SCENARIO] not in names:
        st.session_state[REPORT_SCENARIO] = 0
    sections = st.pills(pick("章节", "Sections"), options=[s for s in SECTIONS if s not in ("scenario", "since")],
                        format_func=SECTIONS.get, selection_mode="multi", key=REPORT_SECTIONS)
    st.pills(pick("导出格式", "Formats"), options=list(FORMATS), format_func=lambda f: FORMATS[f].label_zh,
             selection_mode="multi", key=REPORT_FORMATS)
    sid = st.selectbox(pick("规划情景（前后对比）", "Scenario (before / after)"), options=list(names),
                       format_func=names.get, key=REPORT_SCENARIO, width=480,
                       help=pick("选择后报告增加“规划情景前后对比”一节：前后地图与覆盖变化。", "Adds a before/after section."))
    history = sc.since_dates(ref)
    since = None
    if history:
        options = [None, *history]
        if st.session_state.get(REPORT_SINCE, "unset") not in options:  # first visit: a year or a quarter back
            st.session_state[REPORT_SINCE] = sc.default_baseline(ref)
        since = st.selectbox(pick("与基期对比（较早的数据日期）", "Compare with an earlier data date"), options,
                             format_func=lambda d: pick("不对比", "None") if d is None else str(d),
                             key=REPORT_SINCE, width=480)
    if not sections and not sid:
        st.warning(pick("请至少选择一个章节。", "Choose at least one section."))
        return None
    if not st.session_state[REPORT_FORMATS]:
        st.warning(pick("请至少选择一种导出格式。", "Choose at least one format."))
        return None
    return ReportRequest(township=st.session_state.get(MAP_TOWNSHIP) or None, scenario_id=sid or None, since=since,
                         sections=tuple(s for s in SECTIONS if s in sections or (s == "scenario" and sid)
                                        or (s == "since" and since)))


def generate(ref: DataRef, request: ReportRequest, formats: list[str]) -> None:
    """Render every chosen format from one collected report, with a progress bar; keep them for download."""
    try:  # a township head: their own townships' reports only (refusals audited)
        audit.allowed_area(ref.url, caller(), "report.export", ref.district_code, request.township)
    except AccessDenied as exc:
        st.error(str(exc))
        return
    bar = st.progress(0.0, text=pick("准备中 …", "Starting …"))
    started = time.perf_counter()
    n = len(formats)
    try:
        r = collect(ref, request, progress=lambda f, m: bar.progress(min(f, 1.0) * 0.5, text=m))
        files = []
        for i, fmt in enumerate(formats):
            base = 0.5 + 0.5 * i / n
            bar.progress(base, text=f"{pick('正在生成', 'Rendering')} {FORMATS[fmt].label_zh} …")
            data = render(r, fmt, ref, progress=lambda f, m, b=base: bar.progress(b + 0.5 / n * f, text=m))
            files.append(Generated(FORMATS[fmt].label_zh, file_name(r, fmt), FORMATS[fmt].mime, data))
    except (ReportError, FontMissingError) as exc:
        bar.empty()
        st.error(str(exc))
        return
    bar.empty()
    audit.record(ref.url, "report.export", object=f"{ref.district_code} {r.title}", township=request.township or "",
                 actor=caller().actor,
                 detail={"formats": list(formats), "sections": list(request.sections),
                         "scenario": request.scenario_id, "since": str(request.since or "")})
    st.session_state[REPORT_FILES] = {"request": request, "formats": list(formats), "files": files,
                                      "seconds": time.perf_counter() - started, "title": r.title}


def downloads(request: ReportRequest, formats: list[str]) -> None:
    done = st.session_state[REPORT_FILES]
    if not done:
        return
    if done["request"] != request or done["formats"] != formats:
        st.info(pick("选择已更改；下面是按之前的选择生成的文件，点击“生成”可按当前选择重新生成。",
                     "The choices changed; these files are from the previous choices."))
    st.success(pick(f"已生成《{done['title']}》，用时 {done['seconds']:.1f} 秒。",
                    f"Generated in {done['seconds']:.1f} s."))
    cols = st.columns(len(done["files"]))
    for col, f in zip(cols, done["files"], strict=True):
        col.download_button(f"{f.label}（{len(f.data) / 1024:,.0f} KB）", data=f.data, file_name=f.name, mime=f.mime,
                            icon=":material/download:", key=f"report.dl.{f.name}", width="stretch")
