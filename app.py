"""Streamlit entry point: the signed-in user's pages, nothing else (serve it with ``streamlit run server.py``,
which adds the sign-in forms)."""

import streamlit as st

from dashboard import auth, cache
from services import access

cache.install()  # the services' memo through Streamlit's caches

st.set_page_config(page_title="养老服务一张图", page_icon="🗺️", layout="wide")
user = auth.current_user()

PAGES = {  # page id (url path) -> (file, title, icon)
    "scorecard": ("pages/scorecard.py", "联席会议总览", ":material/leaderboard:"),
    "meeting": ("pages/meeting.py", "会议模式", ":material/co_present:"),
    "decisions": ("pages/decisions.py", "督办事项", ":material/task_alt:"),
    "city": ("pages/city.py", "全市总览", ":material/apartment:"),
    "map": ("pages/map.py", "一张图", ":material/map:"),
    "city_map": ("pages/city_map.py", "全市一张图", ":material/public:"),
    "service_circle": ("pages/service_circle.py", "15分钟服务圈", ":material/directions_walk:"),
    "city_circle": ("pages/city_circle.py", "全市15分钟服务圈", ":material/hiking:"),
    "scenarios": ("pages/scenarios.py", "情景规划", ":material/edit_location_alt:"),
    "township": ("pages/township.py", "乡镇视图", ":material/location_city:"),
    "four_sync": ("pages/four_sync.py", "四同步检查", ":material/fact_check:"),
    "report": ("pages/report.py", "报告导出", ":material/picture_as_pdf:"),
    "live": ("pages/live.py", "实时监测", ":material/monitor_heart:"),
    "data_admin": ("pages/data_admin.py", "数据管理", ":material/database:"),
    "accounts": ("pages/accounts.py", "账号管理", ":material/manage_accounts:"),
    "audit_log": ("pages/audit_log.py", "审计日志", ":material/policy:"),
}
# A page the user may not open stays routable but hidden, so its link gets the page's own (audited) refusal
# rather than "page not found"; without a signed-in user there is no menu, and every page asks to sign in.
allowed = access.pages_of(user) if user is not None else []
pages = {pid: st.Page(path, title=title, icon=icon, url_path=pid,
                      visibility="visible" if pid in allowed else "hidden")
         for pid, (path, title, icon) in PAGES.items()}
landing = pages[allowed[0] if allowed else "scorecard"]


def _home() -> None:
    """The root URL opens the user's first page under its own name, so /scorecard is a link like any other
    (a default page is served only at the root, and its own name would be "Page not found")."""
    st.switch_page(landing, query_params=st.query_params.to_dict())  # ?district= and ?township= kept


st.navigation([st.Page(_home, title="首页", url_path="home", default=True, visibility="hidden"),
               *pages.values()]).run()
