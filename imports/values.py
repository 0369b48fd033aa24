"""Cell values as bureaus' sheets hold them: codes, numbers with units, dates, kinds, place names.

Pure functions: text in, a value or a ``BadValue`` (why, and how to fix) out.
No database, no Streamlit.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from config.settings import header_key  # how names are compared: the config's synonyms are checked the same way

EXCEL_EPOCH = dt.date(1899, 12, 30)  # Excel's day 0 (the 1900 leap-year bug included)


@dataclass(frozen=True)
class BadValue:
    why: str
    fix: str


def is_missing(text: str, missing: Iterable[str]) -> bool:
    return text.strip() in _missing_set(missing if isinstance(missing, tuple) else tuple(missing))


@functools.lru_cache(maxsize=8)
def _missing_set(missing: tuple[str, ...]) -> frozenset[str]:
    return frozenset(missing)


_SCI = re.compile(r"^\s*([0-9]+)(?:\.([0-9]+))?[eE]\+?([0-9]+)\s*$")
_FLOATY_INT = re.compile(r"^\s*([0-9]+)\.0+\s*$")


def code_text(text: str, *, digits: int | None = None) -> str | BadValue:
    """A code kept as text: ``1.20103002001E+11`` and ``120103002001.0`` (Excel's number forms) are restored
    when every digit is written, leading zeros kept; ``digits`` checks the length of an official code."""
    t = str(text).strip().replace("'", "")
    m = _SCI.match(t)
    if m:
        whole, frac, exp = m.group(1), m.group(2) or "", int(m.group(3))
        if len(frac) != exp or len(whole) != 1:
            # Excel shows 120103002000 as 1.20103E+11: the missing digits cannot be told from zeros
            return BadValue(f"科学计数法 {t} 没有写出代码的全部数字", "在 Excel 中把该列设为“文本”后重新输入完整代码")
        t = whole + frac
    else:
        m = _FLOATY_INT.match(t)
        if m:
            t = m.group(1)
    if digits is not None and not (t.isdigit() and len(t) == digits):
        return BadValue(f"应为 {digits} 位数字代码", f"填写 {digits} 位统计用区划代码（文本格式，保留前导零）")
    if not t:
        return BadValue("代码为空", "填写代码")
    return t


_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_UNITS = tuple(sorted(("张", "人", "个", "户", "名", "平方米", "㎡", "m²", "m2", "平米", "岁", "床", "间", "处", "所", "家",
                       "元", "万元"), key=len, reverse=True))  # longest first: 万元 before 元


def number(text: str) -> float | BadValue:
    """``120张``, ``1,200``, ``1，200``, `` 3.5 `` → a finite number."""
    t = str(text).strip()
    try:  # the common case: a plain decimal number
        x = float(t)
    except ValueError:
        pass
    else:
        if math.isfinite(x) and _NUMBER.match(t):
            return x
    t = t.replace(",", "").replace("，", "").replace(" ", "")
    for unit in _UNITS:
        if t.endswith(unit):
            t = t[: -len(unit)]
            break
    if not _NUMBER.match(t):
        return BadValue("不是数字", "填写数字（可带单位，如 120张、1,200）")
    x = float(t)
    if not math.isfinite(x):
        return BadValue("不是有限的数字", "填写数字")
    return x


def count(text: str) -> int | BadValue:
    """A non-negative whole number (beds, people)."""
    x = number(text)
    if isinstance(x, BadValue):
        return x
    if x < 0 or x != int(x):
        return BadValue("应为不小于 0 的整数", "填写整数，如 120")
    return int(x)


_DATE_FORMS = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00)?)?$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
)
_YEAR_MONTH = re.compile(r"^(\d{4})(?:年|-|/|\.)(\d{1,2})月?$")


def date(text: str) -> dt.date | BadValue:
    """An Excel serial (``45107``), ``2023/6/30``, ``2023年6月30日``, ``2023-06-30``, ``2023.6.30`` or ``2023年6月``
    (the first of the month)."""
    t = str(text).strip()
    x = number(t) if re.fullmatch(r"\d{4,5}(?:\.0+)?", t) else None
    if isinstance(x, float) and 20000 <= x <= 80000:  # 1954 … 2119 as an Excel serial
        return EXCEL_EPOCH + dt.timedelta(days=int(x))
    for form in _DATE_FORMS:
        m = form.match(t)
        if m:
            try:
                return dt.date(*(int(g) for g in m.groups()))
            except ValueError:
                return BadValue("不是有效日期", "填写实际存在的日期，如 2023-06-30")
    m = _YEAR_MONTH.match(t)
    if m:
        try:
            return dt.date(int(m.group(1)), int(m.group(2)), 1)
        except ValueError:
            return BadValue("不是有效的年月", "填写如 2023年6月")
    return BadValue("无法识别的日期", "填写 2023-06-30、2023/6/30 或 2023年6月30日")


_YES = {"是", "有", "已签约", "签约", "yes", "y", "true", "1", "√", "✓"}
_NO = {"否", "无", "未签约", "no", "n", "false", "0", "×"}


def yes_no(text: str) -> bool | BadValue:
    t = str(text).strip().lower()
    if t in _YES:
        return True
    if t in _NO:
        return False
    return BadValue("应为 是 / 否", "填写 是 或 否")


def name_index(names: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """{comparison key of every name → its id} from {id: names}."""
    out: dict[str, str] = {}
    for ident, ns in names.items():
        for n in ns:
            out[header_key(n)] = ident
    return out


_TOWN_SUFFIXES = ("街道办事处", "街道", "镇", "乡", "地区", "办事处")
_COMMUNITY_SUFFIXES = ("社区居民委员会", "村民委员会", "居民委员会", "社区居委会", "居委会", "村委会", "社区", "村")


def strip_suffix(name: str, suffixes: Iterable[str]) -> str:
    n = header_key(name)
    for s in suffixes:
        if n.endswith(s) and len(n) > len(s):
            return n[: -len(s)]
    return n


class PlaceIndex:
    """Resolves a township or community within a district by official code or by name, with or without
    its suffix (街道/镇/乡; 社区居委会/村委会 …). Ambiguous short names are refused, never guessed."""

    def __init__(self, places: Mapping[str, str], *, suffixes: Iterable[str]) -> None:
        self.names = dict(places)  # code -> official name
        self._suffixes = tuple(suffixes)
        self._by_name: dict[str, set[str]] = {}
        for code, name in self.names.items():
            for key in {header_key(name), strip_suffix(name, self._suffixes)}:
                self._by_name.setdefault(key, set()).add(code)

    @classmethod
    def townships(cls, places: Mapping[str, str]) -> PlaceIndex:
        return cls(places, suffixes=_TOWN_SUFFIXES)

    @classmethod
    def communities(cls, places: Mapping[str, str]) -> PlaceIndex:
        return cls(places, suffixes=_COMMUNITY_SUFFIXES)

    def resolve(self, text: str) -> str | BadValue:
        t = str(text).strip()
        code = code_text(t)
        if isinstance(code, str) and code in self.names:
            return code
        hits = self._by_name.get(header_key(t)) or self._by_name.get(strip_suffix(t, self._suffixes)) or set()
        if len(hits) == 1:
            return next(iter(hits))
        shown = "、".join(list(self.names.values())[:8]) + (" …" if len(self.names) > 8 else "")
        if len(hits) > 1:
            return BadValue(f"名称“{t}”对应多个地方（{'、'.join(sorted(self.names[c] for c in hits))}）",
                            "改填 12 位代码或完整名称")
        return BadValue("不是本区的地名或代码", f"填写本区的名称或 12 位代码，如：{shown}")
