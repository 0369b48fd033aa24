"""督办事项: the joint meeting's decisions, each followed up by the data to the next meeting (on track, done with
the data version that first showed it, at risk, overdue); the owners' notes and evidence."""

import streamlit as st

from dashboard import decision_views as dv
from dashboard.components import current_user, footer, page_setup, visible_townships
from services import access, decisions

layers = page_setup("decisions", area_picker=False)
if layers is None:
    st.stop()
ref = layers.ref
scope = access.scope_of(current_user(), ref.district_code)
names = visible_townships(layers, current_user())
st.title("督办事项")
st.caption("联席会议决定的事项：谁、在何时之前、做成什么样（以数据衡量）。状态按各数据版本自动判断："
           "达到即“已完成”（注明首次达到的数据版本），未到期但按趋势到期达不到为“有风险”，过期未完成为“已逾期”。"
           + ("" if scope.whole else f"您看到并可更新的是{'、'.join(names.values())}的事项。"))
items = decisions.items(ref, scope)
dv.state_counts(items)
dv.board(items)
dv.record_form(ref, names)
st.subheader("事项详情")
dv.detail(ref, scope, items)
footer(layers.meta)
