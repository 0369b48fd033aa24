"""会议模式: the joint meeting's slides from the live data, for the projector (full screen, keys and a clicker),
its agenda saved for the next time, and the deck as PowerPoint or PDF."""

import streamlit as st

from dashboard import meeting_views as mv
from dashboard.components import current_user, footer, page_setup
from reports.content import ReportError
from reports.deck import deck_for
from services import access, decisions, meetings

layers = page_setup("meeting", area_picker=False)
if layers is None:
    st.stop()
ref = layers.ref
user = current_user()
scope = access.scope_of(user, ref.district_code)
district_name = str(layers.outline["name"].iloc[0])
st.title("会议模式")
st.caption("养老服务联席会议：按所选数据日期现场生成幻灯片（封面、督办事项、考核指标红黄绿灯与变化、乡镇排名、"
           "未覆盖片区与建议选址、四同步问题、提请决策的情景）。")

plan = mv.edit_plan(ref, mv.choose_meeting(ref, district_name))
township, city = mv.choose_area(layers, user, scope)
mv.save_button(ref, plan)
if not plan.agenda:
    st.warning("议程为空：请至少勾选一页幻灯片。")
    st.stop()
try:
    if city is None:
        deck = deck_for(meetings.data_ref(ref, plan), mv.request_of(plan, township), decisions.today())
    else:  # a city's meeting: its own slides of the agenda, every district summed
        deck = mv.city_deck(city, plan)
except ReportError as exc:
    st.error(str(exc))
    st.stop()
if city is None:
    mv.present_link(ref, plan, township)
else:
    mv.city_present_link(city, plan)
mv.preview(deck)
mv.downloads(ref, deck, decisions.today())
footer(layers.meta)
