"""Administrative area codes (行政区划代码): which city a district belongs to, and which districts an area covers.

A 6-digit code names a province (``PP0000``), a prefecture-level city (``PPCC00``) or a county-level district
(``PPCCDD``); a 12-digit code a township (its first 6 digits are its district). The four municipalities
(直辖市: 北京, 天津, 上海, 重庆) are cities and provinces at once: their districts (``PP01DD``, ``PP02DD``) belong to
the city ``PP0000`` (Tianjin's 16 to ``120000``).
"""

from __future__ import annotations

import re

MUNICIPALITIES = {"110000": "北京市", "120000": "天津市", "310000": "上海市", "500000": "重庆市"}
AREA_CODE = re.compile(r"^\d{6}$")


def city_of(district_code: str) -> str:
    """The code of the city a district belongs to: ``120118`` → ``120000`` (a municipality), ``130102`` →
    ``130100``."""
    if not AREA_CODE.match(district_code):
        msg = f"district code {district_code!r}: 6 digits (行政区划代码)"
        raise ValueError(msg)
    province = district_code[:2] + "0000"
    return province if province in MUNICIPALITIES else district_code[:4] + "00"


def level_of(code: str) -> str:
    """``province``, ``city``, ``district`` or ``township`` (a municipality's code is a city here)."""
    if len(code) == 12:
        return "township"
    if not AREA_CODE.match(code):
        msg = f"area code {code!r}: 6 digits (or 12 for a township)"
        raise ValueError(msg)
    if code in MUNICIPALITIES or code.endswith("00") and not code.endswith("0000"):
        return "city"
    return "province" if code.endswith("0000") else "district"


def covers(area: str, district_code: str) -> bool:
    """Whether ``area`` (a province, city or district code) holds the district ``district_code``."""
    level = level_of(area)
    if level == "district":
        return area == district_code
    if level == "city":
        return city_of(district_code) == area
    return district_code[:2] == area[:2]
