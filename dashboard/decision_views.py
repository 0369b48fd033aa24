"""督办事项's parts: the board with each item's status, the form leaders and planners record a decision with, an
item's readings, notes and evidence, and the banner a township head sees on signing in."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard.components import audited_download, caller, current_user
from services import access, decisions, meetings
from services.base import get_config
from services.decisions import MEASURE_ZH, STATE_COLOUR, STATE_ZH, STATES


def state_counts(items: list[decisions.Item]) -> None:
    cols = st.columns(len(STATES))
    for col, state in zip(cols, STATES, strict=True):
        col.metric(STATE_ZH[state], sum(i.status.state == state for i in items), border=True)


def board(items: list[decisions.Item]) -> None:
    if not items:
        st.info("还没有督办事项。联席会议上的决定可在下方登记，之后按数据自动跟踪进展。")
        return
    frame = pd.DataFrame([{"编号": i.id, "事项": i.row["title"], "责任方": i.row["owner_zh"], "期限": i.row["due"],
                           "状态": i.status.state_zh, "依据": i.done_words(),
                           "完成标准": MEASURE_ZH[i.row["measure"]]} for i in items])
    colour = {STATE_ZH[k]: v for k, v in STATE_COLOUR.items()}
    styled = frame.style.map(lambda v: f"background-color: {colour.get(v, '')}", subset=["状态"])
    st.dataframe(styled, hide_index=True, use_container_width=True)


def record_form(ref, names: dict[str, str]) -> None:
    """Leaders and planners record a decision: owner, due date and what "done" means in the data."""
    if not access.may(current_user(), "decision.record"):
        return
    config = get_config()
    with st.expander("登记督办事项", icon=":material/add_task:"):
        measure = st.selectbox("完成标准", list(MEASURE_ZH), format_func=MEASURE_ZH.get, key="decision.measure")
        gap = None
        if measure == "station":  # a gap's best site (缺口识别), or a position typed in
            sites = decisions.gap_sites(ref)
            gap = st.selectbox("站点位置", [None, *range(len(sites))], key="decision.gap",
                               format_func=lambda i: "手动输入经纬度" if i is None else sites[i]["label"])
            gap = None if gap is None else sites[gap]
        saved = meetings.meetings(ref)
        with st.form("decision.form", clear_on_submit=True):
            title = st.text_input("事项", max_chars=200, placeholder="如：南肖楼片区新建日间照料中心")
            meeting = st.selectbox("决定于会议", [None, *(m.id for m in saved)],
                                   format_func=lambda i: "（不关联会议）" if i is None else
                                   next(f"{m.held_on} {m.title}" for m in saved if m.id == i))
            c1, c2, c3 = st.columns(3)
            towns = [None, *names]
            township = c1.selectbox("所涉乡镇（街道）", towns, index=towns.index(gap["township_code"])
                                    if gap and gap["township_code"] in names else 0,
                                    format_func=lambda c: "（部门事项）" if c is None else names[c])
            owner = c2.text_input("责任方", placeholder="默认乡镇名；部门事项请填部门，如 区民政局")
            due = c3.date_input("期限", value=decisions.today() + dt.timedelta(days=90))
            fields: dict = {}
            if measure == "target":
                targets = {t.id: t.label_zh for t in config.targets}
                d1, d2 = st.columns(2)
                fields["target_id"] = d1.selectbox("指标", list(targets), format_func=targets.get)
                fields["target_value"] = d2.number_input("要达到的数值（指标的单位）", value=100.0, step=1.0)
            elif measure == "station":
                kinds = {k.id: k.name_zh for k in config.facility_kinds}
                d1, d2, d3, d4 = st.columns(4)
                fields["kind_id"] = d1.selectbox("站点类别", list(kinds), format_func=kinds.get)
                lon = d2.number_input("经度（WGS84）", value=gap["lon"] if gap else 0.0, format="%.5f")
                lat = d3.number_input("纬度（WGS84）", value=gap["lat"] if gap else 0.0, format="%.5f")
                fields["radius_m"] = d4.number_input("距离（米）", value=300.0, min_value=10.0, step=50.0)
                fields["site"] = (lon, lat) if (lon, lat) != (0.0, 0.0) else None
            elif measure == "four_sync":
                fields["project_name"] = st.text_input("住宅项目名称（与四同步检查页一致）")
            if st.form_submit_button("登记", type="primary"):
                try:
                    did = decisions.record(ref, caller(), title=title, due=due, measure=measure,
                                           township_code=township, owner_zh=owner, meeting_id=meeting, **fields)
                except (decisions.DecisionError, access.AccessDenied) as exc:
                    st.error(str(exc))
                else:
                    st.success(f"已登记督办事项 {did}：{title}")


def detail(ref, scope, items: list[decisions.Item]) -> None:
    """One item: its readings at each data date, its notes and evidence; the owner's note, a task's report."""
    if not items:
        return
    by_id = {i.id: i for i in items}
    chosen = st.selectbox("查看事项", list(by_id), format_func=lambda i: f"{i} · {by_id[i].row['title']}",
                          key="decision.detail")
    item = by_id[chosen]
    st.markdown(f"**{item.row['title']}** — {item.row['owner_zh']}，期限 {item.row['due']}，"
                f"状态：**{item.status.state_zh}**（{item.done_words()}）")
    if item.readings:
        st.dataframe(pd.DataFrame([{"数据日期": r.date, "读数": decisions.reading_text(item.row, r),
                                    "达到": "是" if r.met else "否", "数据版本": r.version_zh}
                                   for r in item.readings]), hide_index=True, use_container_width=True)
    notes = decisions.notes(ref, scope, item.id)
    for note in notes.to_dict("records"):
        st.markdown(f"- {note['created_at']:%Y-%m-%d %H:%M} **{note['author']}**：{note['text'] or '（附件）'}")
        if note["file_label"]:
            label, kind, data = decisions.note_file(ref, scope, int(note["id"]))
            audited_download(f"下载 {label}", data=data, file_name=f"附件_{note['id']}.{kind}", what="督办材料",
                             district_code=ref.district_code, key=f"decision.file.{note['id']}")
    if not access.may(current_user(), "decision.note"):
        return
    with st.form(f"decision.note.{item.id}", clear_on_submit=True):
        text = st.text_area("说明进展", max_chars=4000)
        upload = st.file_uploader("证明材料（PDF、图片、Word、Excel，10 MB 以内）",
                                  type=["pdf", "png", "jpg", "jpeg", "docx", "xlsx"])
        done = st.checkbox("报告完成（写明结果）") if item.row["measure"] == "task" else False
        if st.form_submit_button("提交"):
            _submit(ref, item, text, upload, done)


def _submit(ref, item: decisions.Item, text: str, upload, done: bool) -> None:
    try:
        if text.strip() or upload is not None:
            decisions.add_note(ref, caller(), item.id, text=text, file_name=upload.name if upload else None,
                               file_data=upload.getvalue() if upload else None)
        if done:
            decisions.close_task(ref, caller(), item.id, result_zh=text, closed_on=decisions.today())
    except (decisions.DecisionError, access.AccessDenied) as exc:
        st.error(str(exc))
        return
    st.success("已记录")
    st.rerun()


def my_items_banner(ref) -> None:
    """A township head's open items, on the page they land on after signing in."""
    open_items = decisions.mine(ref, current_user())
    if not open_items:
        return
    late = [i for i in open_items if i.status.state in ("overdue", "at_risk")]
    words = "；".join(f"{i.row['title']}（{i.status.state_zh}，期限 {i.row['due']}）" for i in open_items[:3])
    text = f"您有 {len(open_items)} 项督办事项未完成：{words}"
    (st.warning if late else st.info)(text, icon=":material/assignment_late:")
    st.page_link("pages/decisions.py", label="查看督办事项并更新进展", icon=":material/task_alt:")

