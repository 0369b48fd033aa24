"""Streamlit entry point: routes to the pages, nothing else."""

import streamlit as st

from dashboard import cache

cache.install()  # the services' memo through Streamlit's caches

st.set_page_config(page_title="养老服务一张图", page_icon="🗺️", layout="wide")
scorecard = st.Page("pages/scorecard.py", title="联席会议总览", icon=":material/leaderboard:", url_path="scorecard")


def _home() -> None:
    """The root URL opens the landing page under its own name, so /scorecard is a link like any other
    (a default page is served only at the root, and its own name would be "Page not found")."""
    st.switch_page(scorecard, query_params=st.query_params.to_dict())  # ?district= and ?township= kept


pages = [
    st.Page(_home, title="首页", url_path="home", default=True, visibility="hidden"),
    scorecard,
    st.Page("pages/map.py", title="一张图", icon=":material/map:", url_path="map"),
    st.Page("pages/service_circle.py", title="15分钟服务圈", icon=":material/directions_walk:", url_path="service_circle"),
    st.Page("pages/scenarios.py", title="情景规划", icon=":material/edit_location_alt:", url_path="scenarios"),
    st.Page("pages/township.py", title="乡镇视图", icon=":material/location_city:", url_path="township"),
    st.Page("pages/four_sync.py", title="四同步检查", icon=":material/fact_check:", url_path="four_sync"),
    st.Page("pages/report.py", title="报告导出", icon=":material/picture_as_pdf:", url_path="report"),
    st.Page("pages/live.py", title="实时监测", icon=":material/monitor_heart:", url_path="live"),
    st.Page("pages/data_admin.py", title="数据管理", icon=":material/database:", url_path="data_admin"),
]
st.navigation(pages).run()
