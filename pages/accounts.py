"""账号管理: the security administrator's accounts, roles and township scopes (no data pages for this role)."""

import pandas as pd
import streamlit as st

from dashboard.components import caller, page_start
from dashboard.i18n import pick
from services import accounts
from services.accounts import ROLE_ZH, ROLES, AccountError
from services.engine import database_url

page_start("accounts")
url = database_url()
st.title(pick("账号管理", "Accounts"))
st.caption(pick("安全管理员在此开通账号、分配角色与乡镇范围、停用、解锁、重置密码；每项操作都记入审计日志。"
                "安全管理员与审计员须为单独的账号（三员分立）。新密码至少 8 位，含大写、小写、数字、符号中的三类，首次登录须修改。",
                "Accounts, roles and township scopes; every change is audited."))
done = st.session_state.pop("acct.done", None)
if done:
    st.success(done)

rows = accounts.listing(url, caller())
limits = accounts.throttle_listing(url, caller())
waiting = accounts.limited_logins(limits)
table = pd.DataFrame([{
    "登录名": a["login"], "姓名": a["display_name"], "角色": "、".join(ROLE_ZH[r] for r in a["roles"]),
    "乡镇": "、".join(a["townships"]) or "—", "范围": a["area"] or "全部区县",
    "状态": "停用" if a["disabled"] else ("登录受限" if a["login"] in waiting else "正常"),
    "须改密码": "是" if a["must_change_password"] else "", "创建": f"{a['created_at']:%Y-%m-%d}"} for a in rows])
st.dataframe(table, hide_index=True, width="stretch")

tab_add, tab_change, tab_limits = st.tabs([pick("新建账号", "New account"), pick("停用 / 解锁 / 重置密码", "Change"),
                                           pick(f"登录限制（{len(limits)}）", f"Sign-in limits ({len(limits)})")])


def run(action: str, login: str, **kw) -> None:
    try:
        st.session_state["acct.done"] = accounts.change(url, caller(), action, login, **kw)
    except AccountError as exc:
        st.error(str(exc))
        return
    st.rerun()


with tab_add, st.form("acct_add", clear_on_submit=False):
    c1, c2 = st.columns(2)
    login = c1.text_input(pick("登录名", "Login"), max_chars=40, placeholder="wang.planner")
    name = c2.text_input(pick("姓名", "Name"), max_chars=60)
    roles = st.multiselect(pick("角色", "Roles"), options=list(ROLES), format_func=ROLE_ZH.get)
    codes = st.text_input(pick("乡镇代码（乡镇负责人必填，12 位，多个用逗号分隔）", "Township codes"), max_chars=400)
    area = st.text_input(pick("范围（6 位区县代码，如 120118；或城市代码，如 120000 = 全市；空 = 全部区县）",
                              "Area: a district's or a city's code (empty: every district)"), max_chars=6)
    c3, c4 = st.columns(2)
    password = c3.text_input(pick("初始密码", "Initial password"), type="password", max_chars=200)
    again = c4.text_input(pick("再次输入", "Again"), type="password", max_chars=200)
    subject = st.text_input(pick("统一身份认证标识（oidc 模式，可空）", "OIDC subject (optional)"), max_chars=200)
    if st.form_submit_button(pick("创建", "Create"), type="primary"):
        if password != again:
            st.error(pick("两次输入的密码不一致", "The passwords differ"))
        else:
            run("add", login, password=password, roles=tuple(roles), display_name=name,
                townships=tuple(c.strip() for c in codes.replace("，", ",").split(",") if c.strip()),
                area_code=area.strip() or None, external_id=subject.strip() or None)

with tab_change:
    logins = [a["login"] for a in rows]
    if logins:
        who = st.selectbox(pick("账号", "Account"), options=logins)
        c1, c2 = st.columns(2)
        if c1.button(pick("停用（结束其全部会话）", "Disable"), disabled=not who):
            run("disable", who)
        if c2.button(pick("解除登录限制", "Clear sign-in limits"), disabled=not who):
            run("unlock", who)
        with st.form("acct_townships", clear_on_submit=False):
            current = next((a["townships"] for a in rows if a["login"] == who), [])
            codes_now = st.text_input(pick("乡镇范围（12 位代码，多个用逗号分隔；空 = 不限）", "Township codes"),
                                      value=",".join(current), max_chars=400)
            if st.form_submit_button(pick("修改乡镇范围", "Change townships")):
                run("townships", who, townships=tuple(c.strip() for c in codes_now.replace("，", ",").split(",")
                                                      if c.strip()))
        with st.form("acct_reset", clear_on_submit=True):
            new = st.text_input(pick("新的临时密码（下次登录须修改）", "New temporary password"), type="password",
                                max_chars=200)
            if st.form_submit_button(pick("重置密码", "Reset password")):
                run("reset-password", who, password=new)

with tab_limits:
    st.caption(pick("密码错误按“登录名+地址”、地址、登录名分别计数；超过免费次数后每次错误等待时间加倍"
                    "（最长见 [auth] lockout_minutes）。陌生地址的尝试只会让该地址等待，不会锁住本人。",
                    "Failures per login and address; a doubling wait."))
    if limits:
        st.dataframe(pd.DataFrame([{"限制对象": t["key"], "失败次数": t["failures"],
                                    "最近失败（UTC）": f"{t['last_failure_at']:%Y-%m-%d %H:%M:%S}",
                                    "还需等待（秒）": round(t["waits_s"])} for t in limits]),
                     hide_index=True, width="stretch")
        key = st.selectbox(pick("解除哪一项", "Clear"), options=[t["key"] for t in limits])
        if st.button(pick("解除该限制", "Clear it")):
            run("clear-throttle", key)
    else:
        st.info(pick("当前没有登录限制。", "No sign-in limits."))
