"""The files the 数据管理 page may read and keep: uploads (their ending checked, their size bounded, saved under a
name chosen here), files of the server's import folder (nothing outside it), and the named column mappings saved
for next month's file."""

from __future__ import annotations

import tomllib
from pathlib import Path

from config import DashboardConfig
from data.db import PROJECT_ROOT
from data.models import KIND_ZH
from imports.mapping import MappingFile
from services.base import get_config

# What a file may be, by its name's ending (longest first); anything else is refused before it is written.
SUFFIXES = (".osm.pbf", ".osm.bz2", ".geojson", ".json", ".gpkg", ".zip", ".osm", ".csv", ".xlsx", ".xls")


class FileRefused(ValueError):
    """A file the page will not read: its kind of name, its size, or where it lies; the message says which."""


def suffix_of(name: str) -> str:
    """The allowed ending of a file name ('.osm.pbf', '.xlsx' …), lower case; FileRefused otherwise."""
    low = name.lower()
    for s in SUFFIXES:
        if low.endswith(s):
            return s
    msg = f"不支持的文件类型：{name!r}。可用：{'、'.join(SUFFIXES)}（Shapefile 请打包为 .zip）"
    raise FileRefused(msg)


def upload_limit_problem(size: int, kind: str, config: DashboardConfig) -> str | None:
    """Why an upload of ``size`` bytes of ``kind`` is refused (None when it is taken): ``[imports] upload_mb``."""
    limit = config.imports.upload_mb.get(kind, config.imports.max_file_mb)
    if size <= limit * 1e6:
        return None
    what = KIND_ZH.get(kind, {"candidates": "候选点"}.get(kind, kind))
    return (f"文件有 {size / 1e6:,.1f} MB，超过{what}文件的上传上限 {limit:g} MB；"
            f"大文件请放到服务器的导入目录 {config.imports.import_folder} 后从那里选择")


def save_upload(data: bytes, client_name: str, folder: Path, config: DashboardConfig, kind: str) -> Path:
    """The upload's bytes in ``folder`` under a server-chosen name with the client's (checked) ending, when
    within the kind's upload limit."""
    suffix = suffix_of(client_name)
    problem = upload_limit_problem(len(data), kind, config)
    if problem:
        raise FileRefused(problem)
    path = folder / f"upload{suffix}"
    path.write_bytes(data)
    return path


def _root(folder: str) -> Path:
    p = Path(folder)
    return (p if p.is_absolute() else PROJECT_ROOT / p).resolve()


def server_files(config: DashboardConfig) -> list[str]:
    """Importable files under the import folder, as paths relative to it (sorted)."""
    root = _root(config.imports.import_folder)
    if not root.is_dir():
        return []
    out = []
    for p in root.rglob("*"):
        if p.is_file() and not p.is_symlink():
            try:
                suffix_of(p.name)
            except FileRefused:
                continue
            out.append(p.relative_to(root).as_posix())
    return sorted(out)


def server_file(relative: str, config: DashboardConfig) -> Path:
    """A file under the import folder; anything that resolves outside it (.., absolute, a link) is refused."""
    root = _root(config.imports.import_folder)
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        msg = f"只能导入服务器导入目录（{config.imports.import_folder}）中的文件：{relative!r} 不在其中"
        raise FileRefused(msg)
    suffix_of(path.name)
    return path


def mapping_toml(mapping: MappingFile) -> str:
    """A mapping as the --mapping TOML file (the CLI reads the same file)."""
    def q(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["[columns]", *(f"{k} = {q(v)}" for k, v in mapping.columns.items())]
    for field_name, values in mapping.values.items():
        lines += ["", f"[values.{field_name}]", *(f"{q(a)} = {q(b)}" for a, b in values.items())]
    return "\n".join(lines) + "\n"


def _mapping_dir(config: DashboardConfig, district_code: str, kind: str) -> Path:
    return _root(config.imports.mapping_folder) / district_code / kind


def saved_mappings(district_code: str, kind: str) -> list[str]:
    folder = _mapping_dir(get_config(), district_code, kind)
    return sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []


def mapping_path(district_code: str, kind: str, name: str) -> Path:
    clean = "".join(ch for ch in name.strip() if ch.isalnum() or ch in "-_ ")[:40].strip()
    if not clean:
        msg = "映射名称只能用文字、数字、空格、- 和 _"
        raise FileRefused(msg)
    return _mapping_dir(get_config(), district_code, kind) / f"{clean}.toml"


def save_mapping(district_code: str, kind: str, name: str, mapping: MappingFile) -> str:
    """Keep a named mapping for next month's file; returns the name it was saved under."""
    path = mapping_path(district_code, kind, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(mapping_toml(mapping), encoding="utf-8")
    return path.stem


def load_mapping(district_code: str, kind: str, name: str) -> MappingFile:
    raw = tomllib.loads(mapping_path(district_code, kind, name).read_text(encoding="utf-8"))
    return MappingFile(columns=dict(raw.get("columns", {})), values={k: dict(v) for k, v in raw.get("values", {}).items()})
