"""审计日志: the audit trail for the auditor — filters, the chain's check, CSV export. Reading it is audited."""

import datetime as dt
import json

import pandas as pd
import streamlit as st

from dashboard.components import caller, page_start
from dashboard.i18n import pick
from reports.cells import csv_bytes
from services import audit, base
from services.accounts import ROLE_ZH
from services.engine import database_url

page_start("audit_log")
config = base.get_config()
url = database_url()
zone = config.app.zone
st.title(pick("审计日志", "Audit log"))
st.caption(pick("每次登录、账号变更、导入与回滚、情景编辑、告警处理、报告与下载、被拒绝的操作都记录在此，逐条以 HMAC 链接，"
                f"改动、插入或删除任何一条都能被发现。保留 {config.audit.retention_days} 天，更早的记录归档到文件"
                "（python cli.py audit archive），不会被悄悄删除。",
                "Every important action, HMAC-chained; older rows are archived to a file, never dropped."))

today = dt.datetime.now(zone).date()
with st.form("audit_filter", border=True):
    c1, c2, c3, c4 = st.columns([2, 2, 3, 2])
    days = c1.date_input(pick("日期（本地时间）", "Dates (local)"), value=(today - dt.timedelta(days=6), today),
                         max_value=today, format="YYYY-MM-DD")
    who = c2.text_input(pick("账号包含", "Account contains"), max_chars=40)
    known = audit.known_actions(url)
    actions = c3.multiselect(pick("操作", "Actions"), options=known, placeholder=pick("全部", "All"),
                             format_func=lambda a: f"{audit.ACTION_ZH.get(a, a)}（{a}）")
    outcomes = c4.multiselect(pick("结果", "Outcome"), options=list(audit.OUTCOME_ZH), placeholder=pick("全部", "All"),
                              format_func=audit.OUTCOME_ZH.get)
    st.form_submit_button(pick("查询", "Search"), type="primary")

first, last = (days[0], days[-1]) if isinstance(days, tuple | list) and days else (today, today)
to_utc = lambda d: dt.datetime.combine(d, dt.time(), zone).astimezone(dt.UTC).replace(tzinfo=None)  # noqa: E731
rows = audit.entries(url, caller(), start=to_utc(first), end=to_utc(last + dt.timedelta(days=1)), actor=who,
                     actions=tuple(actions), outcomes=tuple(outcomes))
k1, k2, k3 = st.columns(3)
k1.metric(pick("记录", "Rows"), f"{len(rows):,}", border=True)
k2.metric(pick("其中被拒绝", "Refused"), f"{int((rows['outcome'] == 'refused').sum()):,}", border=True)
k3.metric(pick("涉及账号", "Accounts"), f"{rows['actor'].nunique():,}", border=True)

shown = pd.DataFrame({
    "序号": rows["id"],
    "时间": pd.to_datetime(rows["at"]).dt.tz_localize("UTC").dt.tz_convert(zone).dt.strftime("%Y-%m-%d %H:%M:%S"),
    "账号": rows["actor"],
    "角色": [ "、".join(ROLE_ZH.get(r, r) for r in v.split(",") if r) for v in rows["role"]],
    "会话": rows["session"],
    "地址": rows["client"],
    "操作": [audit.ACTION_ZH.get(a, a) for a in rows["action"]],
    "对象": rows["object"],
    "乡镇": rows["township"],
    "结果": [audit.OUTCOME_ZH.get(o, o) for o in rows["outcome"]],
    "详情": [json.dumps(d, ensure_ascii=False) if d else "" for d in rows["detail"]],
})
st.dataframe(shown, hide_index=True, width="stretch", height=520)
if len(rows) >= 5000:
    st.caption(pick("只列出最新的 5,000 条，请缩小日期范围或加筛选。", "Newest 5,000 rows shown; narrow the filter."))


def exported() -> None:
    audit.record(url, "audit.export", actor=caller().actor,
                 detail={"rows": len(rows), "start": str(first), "end": str(last)})


st.download_button(pick("导出 CSV", "Export CSV"), data=csv_bytes(shown), file_name=f"audit_{first}_{last}.csv",
                   mime="text/csv", icon=":material/download:", on_click=exported)

st.subheader(pick("链完整性", "Chain integrity"))
if st.button(pick("校验审计链", "Verify the chain")):
    verdict = audit.verify_chain(url, caller())
    (st.success if verdict.ok else st.error)(verdict.why)
