"""Reusable page pieces: the shared sidebar, KPI cards, the footer."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from dashboard import auth
from dashboard.i18n import pick, t
from dashboard.state import (
    AUTH_USER,
    DISTRICT,
    LINKED_DISTRICT,
    LINKED_TOWNSHIP,
    MAP_TOWNSHIP,
    MARK_SINCE,
    SC_SINCE,
    SC_TARGET,
    init_state,
)
from services import access, base
from services import scorecard as sc
from services.accounts import User
from services.engine import database_url


def leave_legacy_page_mode() -> None:
    """Make a deep link like /map work on a freshly started server.

    Streamlit treats an app with a ``pages/`` folder as a legacy multipage
    app until ``st.navigation`` has run once in the process, so the first
    request to /map would run this page directly, without app.py's page
    config and navigation. Switch the flag off and rerun through app.py.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


TOWNSHIP_QUERY = "township"
DISTRICT_QUERY = "district"


def pick_district(url: str, default: str, user: User) -> str | None:
    """The district picker of the shared sidebar, kept in the URL as ?district=CODE: the districts the user may
    see only.

    A link's district wins once; then the picker. None (after saying what to do)
    when the database has no district at all.
    """
    listing = base.district_list(url)
    listing = listing[[access.may_see_district(user, c) for c in listing["code"]]]
    if listing.empty:
        st.error(t("no_district"))
        return None
    names = district_names(listing)
    follow_district_link(names)
    if st.session_state.get(DISTRICT) not in names:
        st.session_state[DISTRICT] = default if default in names else next(iter(names))
    if len(names) > 1:
        with st.sidebar:
            st.selectbox(t("district"), options=list(names), format_func=names.get, key=DISTRICT)
    code = st.session_state[DISTRICT]
    if st.query_params.get(DISTRICT_QUERY) != code:
        st.query_params[DISTRICT_QUERY] = code
    return code


def district_names(listing) -> dict[str, str]:
    return {r.code: f"{r.name}（演示）" if r.is_demo else r.name for r in listing.itertuples()}


def follow_district_link(names: dict[str, str]) -> None:
    """A link ending in ?district=CODE selects that district once; the picker rules afterwards."""
    linked = st.query_params.get(DISTRICT_QUERY)
    if linked in names and linked != st.session_state.get(LINKED_DISTRICT):
        st.session_state[DISTRICT] = linked
        st.session_state[LINKED_DISTRICT] = linked


def follow_target_link(labels: dict[str, str]) -> None:
    """A link ending in &target=ID (the city overview's drill-down) selects that target once, before the map's
    target picker (keyed SC_TARGET) is drawn; the picker rules afterwards."""
    linked = st.query_params.get("target")
    if linked in labels and linked != st.session_state.get("sc.linked_target"):
        st.session_state[SC_TARGET] = linked
        st.session_state["sc.linked_target"] = linked


def city_page(page: str, title: str, province_title: str | None = None):
    """The start of a city page: the signed-in user who may open ``page``, the title, the city shown (the page
    stops with a note when the user may see no whole city) and its districts' current versions: (city, refs).
    With ``province_title``, a province may be chosen too (its overview), titled so."""
    from services import city

    user = page_start(page)
    heading = st.empty()
    heading.title(title)  # said before the choice, which may stop the page with its note
    url = database_url()
    chosen = city_choice(user, url, provinces=province_title is not None)
    if chosen.level == "province":
        heading.title(province_title)
    return chosen, city.district_refs(url, chosen)


def city_footer(chosen, refs) -> None:
    """A city page's footer: demo or not, the districts' data dates; their versions are on their own pages."""
    from services import city

    footer({"is_demo": "true" if chosen.districts["is_demo"].all() else "false",
            "data_date": "、".join(city.data_dates(refs)),
            "versions": pick("各区县的数据版本见其页面", "each district's versions: on its own pages")})


def city_choice(user: User, url: str, *, provinces: bool = False):
    """The city the page shows (services.city.City): the only one the user may see whole, or the one picked in the
    sidebar; the page stops with a note when there is none."""
    from services import city

    found = city.cities_of(url, user, provinces=provinces)
    if not found:
        st.info(pick("本账号的范围不是整个城市（或数据库中一个城市只有一个区县），没有全市视图；请在“联席会议总览”查看所在区县。",
                     "This account does not cover a whole city held here: see its district's scorecard."))
        st.stop()
    if len(found) == 1:
        return found[0]
    with st.sidebar:
        by_code = {c.code: c for c in found}  # the codes are the options: a City holds a frame, not comparable
        if st.session_state.get("city.chosen") not in by_code:  # a province chosen on 全市总览, then a city page
            st.session_state.pop("city.chosen", None)
        code = st.selectbox(pick("城市或省", "City or province") if provinces else pick("城市", "City"),
                            options=list(by_code), key="city.chosen",
                            format_func=lambda c: by_code[c].name + (
                                pick(f"（全省 {len(by_code[c].districts)} 个区县）", f" ({len(by_code[c].districts)} "
                                     "districts)") if by_code[c].level == "province" else ""))
        return by_code[code]


def follow_since_link(history: list[dt.date]) -> None:
    """A link with &since=YYYY-MM-DD (the city overview's drill-down, compared with a baseline) selects that
    baseline once, when the district has that data date, before the baseline picker (keyed SC_SINCE) is drawn."""
    linked = st.query_params.get("since")
    if not linked or linked == st.session_state.get("sc.linked_since"):
        return
    st.session_state["sc.linked_since"] = linked
    try:
        date = dt.date.fromisoformat(linked)
    except ValueError:
        return  # not a date: the page's own default stands
    if date in history:
        st.session_state[SC_SINCE] = date


def follow_township_link(names: dict[str, str]) -> None:
    """A link ending in ?township=CODE selects that township once; the area picker rules afterwards.

    Call before the picker (keyed MAP_TOWNSHIP) is drawn in this run.
    """
    linked = st.query_params.get(TOWNSHIP_QUERY)
    if linked in names and linked != st.session_state.get(LINKED_TOWNSHIP):
        st.session_state[MAP_TOWNSHIP] = linked
        st.session_state[LINKED_TOWNSHIP] = linked
    elif linked and linked not in names and linked != st.session_state.get(LINKED_TOWNSHIP):
        # another township's link (or a code that does not exist): refused, said, and in the audit trail
        st.session_state[LINKED_TOWNSHIP] = linked
        from services import audit

        audit.record(database_url(), "township.view", object=str(linked)[:120], township=str(linked)[:12],
                     actor=caller().actor, outcome="refused", detail={"via": "link"})
        st.warning(f"无权查看乡镇 {str(linked)[:12]}（或该乡镇不存在）：只显示您负责的乡镇。")


def page_start(page: str) -> User:
    """The start of every page: out of legacy page mode, state, the signed-in user who may open ``page``
    (else a prompt or a refusal, and the run stops). The interface is Chinese: an English one is offered again
    once every label, kind, legend, caption and message goes through the catalogue (dashboard/i18n.py)."""
    leave_legacy_page_mode()
    config = base.get_config()
    init_state(default_basemap=config.app.default_basemap, kind_ids=[k.id for k in config.facility_kinds])
    user = auth.gate(page)
    st.session_state[AUTH_USER] = user
    return user


def current_user() -> User:
    """The user the gate let through in this run (page_start)."""
    return st.session_state[AUTH_USER]


def caller() -> access.Caller:
    """This session's user as the services are told who asks (session and address for the audit trail)."""
    return access.Caller(current_user(), auth.session_hash(), auth.client_address())


def page_setup(page: str, *, area_picker: bool = True, needs: tuple[str, ...] = ()) -> base.BaseLayers | None:
    """Common start of every data page: the gate, state, sidebar (language, district, area), data.

    Returns None (after saying precisely what is missing and how to load it)
    when the district lacks data the page needs: the base layers, and the kinds
    in ``needs`` (say roads, for walking). Without ``area_picker`` the page shows
    its own picker of the same key (乡镇视图).
    """
    user = page_start(page)
    config = base.get_config()
    url = database_url()
    district = pick_district(url, config.app.district_code, user)
    if district is None:
        return None
    scope = access.scope_of(user, district)
    try:  # a township head's facilities and elders: theirs only, read through the scoped data layer
        layers = base.base_layers(base.current_ref(url, district), scope.townships)
    except base.DataMissingError as exc:
        st.error(str(exc))
        return None
    missing = [k for k in needs if k not in layers.ref.version_map]
    if missing:
        st.error(base.missing_message(district, missing))
        footer(layers.meta)
        return None
    names = visible_townships(layers, user)
    if not names:
        st.error(f"账号 {user.login} 在区县 {district} 没有可查看的乡镇（街道），请联系安全管理员。")
        return None
    whole = scope.whole
    if st.session_state.get(MAP_TOWNSHIP) not in (("",) if whole else ()) + tuple(names):  # another district's
        st.session_state[MAP_TOWNSHIP] = "" if whole else next(iter(names))
    if not area_picker:
        return layers
    follow_township_link(names)
    with st.sidebar:
        st.selectbox(
            t("area"),
            options=["", *names] if whole else list(names),
            format_func=lambda c: t("whole_district") if c == "" else names[c],
            key=MAP_TOWNSHIP,
        )
    return layers


def visible_townships(layers: base.BaseLayers, user: User) -> dict[str, str]:
    """code -> name of the townships whose rows the user may see (a township head's own; else every one)."""
    scope = access.scope_of(user, layers.ref.district_code)
    return {c: n for c, n in zip(layers.townships["code"], layers.townships["name"], strict=True)
            if scope.allows(c)}


def neighbours_note(n: int) -> str:
    """What the grey rings of a township's coverage map are (services.scoped: kind and position only)."""
    return pick(f"灰色圆圈：邻近乡镇的 {n} 处设施，步行可达本乡镇的老人，计入覆盖；按权限只显示其位置与类型。",
                f"Grey rings: {n} sites of neighbouring townships that serve elders here (position and kind only).")


def across_border_note(own: float, across: float, total: float, counted: bool) -> str:
    """What a district's walk reaches only across its border (services.coverage.across_border), in words."""
    if not across:
        return pick("跨区可达：0 人（没有仅靠相邻区县的设施才步行可达的老人）。", "Reached across the border: none.")
    share = (own + across) / total if total else 0.0
    own_share = own / total if total else 0.0
    return pick(f"跨区可达：{across:,.0f} 人仅由相邻区县的设施步行可达；本区设施覆盖 {own_share:.1%}，含跨区 {share:.1%}"
                f"（按配置{'计入' if counted else '不计入'}本区覆盖率）。",
                f"Reached across the border: {across:,.0f} elders only by a neighbouring district's sites; own sites "
                f"{own_share:.1%}, with them {share:.1%} ({'counted' if counted else 'not counted'} in the figure).")


def kpi_cards(kpis, *, beds_target: float, level_names: dict[str, str]) -> None:
    c1, c2, c3 = st.columns(3)
    c1.metric(t("kpi_elders"), f"{kpis.elders_60_plus:,}", border=True)
    share = kpis.share_80_plus
    c2.metric(t("kpi_elders80"), f"{kpis.elders_80_plus:,}",
              delta=t("kpi_share80", share=share) if share is not None else None, delta_color="off",
              delta_arrow="off", border=True)
    beds = "—" if kpis.beds_per_1000 is None else f"{kpis.beds_per_1000:.1f}"
    gap = None if kpis.beds_per_1000 is None else kpis.beds_per_1000 - beds_target
    c3.metric(t("kpi_beds"), beds, delta=None if gap is None else f"{gap:+.1f} vs {beds_target:g}",
              help=t("kpi_beds_help", target=f"{beds_target:g}"), border=True)
    st.caption(t("facilities_by_level"))
    cols = st.columns(len(kpis.facilities_by_level))
    for col, (level_id, n) in zip(cols, kpis.facilities_by_level.items(), strict=True):
        col.metric(level_names.get(level_id, level_id), f"{n:,}", border=True)


def mark_since(ref) -> tuple[object, frozenset[str] | None, frozenset[str] | None]:
    """The sidebar's 'new since' date (default a year or a quarter back) and what is new since then:
    (date or None, facility codes, project names); the sets are None when no version is that old."""
    history = sc.since_dates(ref)
    if not history:
        return None, None, None
    options = [None, *history]
    if st.session_state.get(MARK_SINCE, "unset") not in options:
        st.session_state[MARK_SINCE] = sc.default_baseline(ref)
    with st.sidebar:
        since = st.selectbox(t("mark_since"), options, key=MARK_SINCE,
                             format_func=lambda d: t("mark_none") if d is None else str(d))
    if since is None:
        return None, None, None
    return since, sc.new_since(ref, since, "facilities"), sc.new_since(ref, since, "projects")


def footer(meta: dict[str, str]) -> None:
    parts = []
    if meta.get("is_demo") == "true":
        parts.append(f"**{t('demo_footer')}**")
    if meta.get("data_date"):
        parts.append(f"{t('data_date')} {meta['data_date']}")
    if meta.get("versions"):
        parts.append(f"{t('versions')}：{meta['versions']}")
    parts.append(t("sources") if meta.get("is_demo") == "true" else t("sources_imported"))
    st.divider()
    st.caption(" · ".join(parts))


def audited_download(label: str, *, data, file_name: str, what: str, district_code: str = "", key: str | None = None,
                     **kwargs) -> None:
    """A download button whose click is a row of the audit trail (action ``download``: what and which file)."""
    from services import audit

    def note() -> None:
        audit.record(database_url(), "download", object=f"{district_code} {file_name}".strip(), detail={"what": what},
                     actor=caller().actor)

    st.download_button(label, data=data, file_name=file_name, on_click=note, key=key, **kwargs)
