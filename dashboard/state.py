"""Per-user session state: every key is namespaced and created here, in one place."""

from __future__ import annotations

import streamlit as st

LANG = "ui.lang"
AUTH_TOKEN = "auth.token"  # the session token of the browser's first request (local mode); "" = none
AUTH_USER = "auth.user"  # the user the page gate let through in this run (data.accounts.User)
AUTH_SEEN = "auth.seen"  # oidc and proxy modes: the last run's time, for the app's own idle timeout
DISTRICT = "ui.district"  # the district every page shows
LINKED_DISTRICT = "ui.linked_district"  # the ?district=CODE link already followed
MAP_TOWNSHIP = "map.township"
LINKED_TOWNSHIP = "map.linked_township"  # the ?township=CODE link already followed
MAP_BASEMAP = "map.basemap"
MAP_LAYERS = "map.layers"
MAP_KINDS = "map.kinds"
MAP_CLUSTER = "map.cluster"

COV_KINDS = "cov.kinds"
COV_MINUTES = "cov.minutes"
COV_SPEED = "cov.speed"
COV_MODE = "cov.mode"
COV_CATEGORY = "cov.category"
COV_BASIS = "cov.basis"  # reach (within the walk) | served (within the walk and the facilities' capacity)

SC_SINCE = "sc.since"  # the baseline data date of the scorecard's comparison
MARK_SINCE = "ui.mark_since"  # lists mark what is new since this earlier data date (None: no marks)
SC_TARGET = "sc.target"  # the target on the scorecard's and the city's maps: kept when drilling down
SC_MAP_CHANGE = "sc.map_change"  # the township map shows the change since the baseline, not the value
CITY_COMPARE = "city.compare"  # 全市总览 compares with a baseline (on request: every district's card again)
CITY_PDF = "city.pdf"  # (what it was made of, file name, PDF bytes): the city's PDF generated on request

DA_KIND = "da.kind"  # the kind of data being imported
DA_SOURCE = "da.source"  # "upload" | "server"
DA_SERVER_FILE = "da.server_file"
DA_CRS = "da.crs"
DA_ENCODING = "da.encoding"
DA_SHEET = "da.sheet"
DA_DATE = "da.date"
DA_COLUMNS = "da.columns"  # field -> column chosen by hand ("" = not used); the rest from the synonyms
DA_VALUES = "da.values"  # field -> {value in the file -> id}: the value maps edited by hand
DA_TABLE = "da.table"  # (key of the file, encoding and sheet, the sheet as read): read once while mapping
DA_MAP = "da.map"  # (key of the points shown, the preview map): rebuilt only when they change
DA_CHECK = "da.check"  # (key of the file and options, the dry run's Check): rerun only when the key changes
DA_ACCEPT = "da.accept"  # warnings accepted
DA_FILTER = "da.filter"  # problems shown: all / error / warning
DA_DONE = "da.done"  # the last import's (or rollback's) message, shown once
DA_IMPORTED = "da.imported"  # (file key, kind, district, version id) of the session's last import
DA_SUMMARY = "da.summary"  # the last import's (rows by township, change against the version it replaced), shown once
DA_ENTRY = "da.entry"  # 道路与入口: check the network (on after a roads import; building it takes seconds)
DA_NEW_CODE = "da.new_code"
DA_NEW_NAME = "da.new_name"

LIVE_NOTE = "live.note"
LIVE_MESSAGE = "live.message"

DEFAULT_LAYERS = ("townships", "facilities", "density", "roads")


def init_state(*, default_basemap: str, kind_ids: list[str]) -> None:
    defaults = {
        LANG: "zh",
        MAP_TOWNSHIP: "",
        MAP_BASEMAP: default_basemap,
        MAP_LAYERS: list(DEFAULT_LAYERS),
        MAP_KINDS: list(kind_ids),
        MAP_CLUSTER: True,
    }
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)


def init_coverage_state(*, care_kind_ids: list[str], speed_mps: float, minutes: int) -> None:
    defaults = {
        COV_KINDS: list(care_kind_ids),
        COV_MINUTES: minutes,
        COV_SPEED: speed_mps,
        COV_MODE: "bands",
        COV_CATEGORY: "elders",
        COV_BASIS: "reach",
    }
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)


SCN_ID = "scn.id"  # selected scenario id; 0 = the current situation
SCN_SELECT_NEXT = "scn.select_next"  # a scenario id to select on the next run (set after creating one)
SCN_VIEW = "scn.view"
SCN_KIND = "scn.kind"  # kind of the site a map click opens
SCN_CATEGORY = "scn.category"
SCN_FLASH = "scn.flash"  # a message to show once after a rerun
SCN_PROPOSAL = "scn.proposal"  # the optimiser's last answer, until saved or discarded
SCN_CURVE = "scn.curve"  # the last coverage curve (k = 1 … K) and its base scenario
SCN_MODEL = "scn.model"  # the siting model picked on 优化选址
SCN_CLICKS = "scn.clicks"  # {map instance: last click number handled}: every click applied once
SCN_REFUSED = "scn.refused"  # the last clicks that opened nothing, shown on the map with why
SCN_K = "scn.k"  # its number of new sites (the curve's chosen k lands here)
SCN_COMPARE = "scn.compare"  # the two scenario ids compared side by side
SCN_MAP = "scn.map"  # the clickable edit map; its new clicks are applied at the start of the next run
SCN_DETAILS = "scn.details"  # the edit view also shows its tables by township and category (off: faster clicks)


def init_scenario_state(*, new_site_kind: str) -> None:
    pending = st.session_state.pop(SCN_SELECT_NEXT, None)
    if pending is not None:
        st.session_state[SCN_ID] = pending
    defaults = {
        SCN_ID: 0,
        SCN_VIEW: "edit",
        SCN_KIND: new_site_kind,
        SCN_CATEGORY: "elders",
        SCN_PROPOSAL: None,
        SCN_CURVE: None,
        SCN_MODEL: "mclp",
    }
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)


REPORT_FILES = "report.files"  # the last generated files: {"request": ..., "files": [...], "seconds": ...}
REPORT_SECTIONS = "report.sections"
REPORT_FORMATS = "report.formats"
REPORT_SCENARIO = "report.scenario"  # 0 = no scenario section
REPORT_SINCE = "report.since"  # the baseline date of the 与基期对比 section; None = no comparison
