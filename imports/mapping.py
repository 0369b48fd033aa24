"""Which column holds which field: synonyms from config, overridden by a mapping file.

A mapping file (``--mapping M.toml``) names the source column of a field and,
optionally, value maps::

    [columns]
    name = "机构全称"
    beds_total = "核定床位"

    [values.kind]            # the bureau's own words → a configured facility kind id
    "综合养老服务中心" = "township_centre"

Pure: no database, no Streamlit.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from imports.values import header_key


class MappingError(ValueError):
    """A mapping that cannot be used; the message names the field, the columns found and the fix."""


@dataclass(frozen=True)
class Field:
    name: str
    label_zh: str
    required: bool = False


@dataclass(frozen=True)
class MappingFile:
    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)


def read_mapping_file(path: str | Path, fields: list[Field]) -> MappingFile:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        msg = f"映射文件不存在：{path}"
        raise MappingError(msg) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        msg = f"映射文件 {path.name} 不是有效的 UTF-8 TOML：{exc}"
        raise MappingError(msg) from None
    unknown = sorted(set(raw) - {"columns", "values"})
    if unknown:
        msg = f"映射文件 {path.name}：未知的表 {unknown}；只能有 [columns] 和 [values.字段]"
        raise MappingError(msg)
    known = {f.name for f in fields}
    columns = raw.get("columns", {})
    bad = sorted(set(columns) - known)
    if bad:
        msg = f"映射文件 {path.name} [columns]：未知字段 {bad}；本类数据的字段：{', '.join(sorted(known))}"
        raise MappingError(msg)
    values = raw.get("values", {})
    bad = sorted(set(values) - known)
    if bad:
        msg = f"映射文件 {path.name} [values]：未知字段 {bad}"
        raise MappingError(msg)
    return MappingFile(columns={k: str(v) for k, v in columns.items()},
                       values={k: {str(a): str(b) for a, b in v.items()} for k, v in values.items()})


def map_columns(header: list[str], fields: list[Field], synonyms: Mapping[str, tuple[str, ...]],
                override: MappingFile | None = None, *, partial: bool = False) -> dict[str, int]:
    """field name → column index. A required field without a column is an error listing the columns found
    (with ``partial``, the fields that could be mapped; a page then asks for the rest)."""
    keys = [header_key(h) for h in header]
    out: dict[str, int] = {}
    taken: set[int] = set()
    override = override or MappingFile()
    for f in fields:  # the mapping file first: its choices are never taken by a synonym
        if override.columns.get(f.name) == "":  # explicitly left unmapped
            continue
        if f.name in override.columns:
            wanted = header_key(override.columns[f.name])
            if wanted not in keys and partial:
                continue
            if wanted not in keys:
                msg = (f"映射文件把字段 {f.name}（{f.label_zh}）指向列“{override.columns[f.name]}”，但文件中没有这一列；"
                       f"文件中的列：{', '.join(h for h in header if h)}")
                raise MappingError(msg)
            out[f.name] = keys.index(wanted)
            taken.add(out[f.name])
    for f in fields:
        if f.name in out or override.columns.get(f.name) == "":
            continue
        for syn in (f.name, *synonyms.get(f.name, ())):
            k = header_key(syn)
            hits = [i for i, key in enumerate(keys) if key == k and i not in taken]
            if hits:
                out[f.name] = hits[0]
                taken.add(hits[0])
                break
    missing = [f for f in fields if f.required and f.name not in out]
    if missing and not partial:
        need = "；".join(f"{f.name}（{f.label_zh}，可用列名：{'、'.join(synonyms.get(f.name, ())[:6])}）" for f in missing)
        msg = (f"找不到必填字段的列：{need}。文件中的列：{', '.join(h for h in header if h) or '（无）'}。"
               "改列名，把列名加入 config/dashboard.toml [imports.synonyms]，或用 --mapping 指定")
        raise MappingError(msg)
    return out


def describe(mapping: dict[str, int], header: list[str], fields: list[Field]) -> list[str]:
    """Lines 'field（label） ← column' in field order, and the columns left unused."""
    lines = [f"{f.name}（{f.label_zh}） ← {header[mapping[f.name]]}" for f in fields if f.name in mapping]
    unused = [h for i, h in enumerate(header) if h and i not in mapping.values()]
    if unused:
        lines.append(f"未使用的列：{', '.join(unused)}")
    return lines
