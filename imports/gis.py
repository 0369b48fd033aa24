"""Reading a GIS file (Shapefile as .zip or folder, GeoJSON, GeoPackage) into WGS84.

The file's own CRS is used (.prj, GeoJSON, GeoPackage). CGCS2000 (EPSG:4490)
is taken as WGS84 (they differ by centimetres). Gauss–Krüger eastings are
checked against the zone prefix: a CGCS2000 3° zone file whose eastings carry
the zone number (39,500,000) or lack it (500,000) is read with the matching
EPSG code either way. A file without a CRS is refused unless ``crs`` is given.
A zipped shapefile is unpacked with limits (members, total size, ratio) and
never to a path taken from the archive. Pure: no database, no Streamlit.
"""

from __future__ import annotations

import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from geo.crs import lonlat_to_wgs84
from imports.archive import ArchiveError, checked_entries

GIS_SUFFIXES = (".zip", ".shp", ".geojson", ".json", ".gpkg")
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


class GisError(ValueError):
    """A GIS file that cannot be read; the message says what to do."""


@dataclass(frozen=True)
class GisLayer:
    frame: gpd.GeoDataFrame  # WGS84
    source_crs: str
    notices: list[str] = field(default_factory=list)


def _safe_unzip(path: Path, dest: Path, *, max_entries: int, max_ratio: float, max_bytes: float) -> Path:
    """The .shp inside a zip, its parts written under ``dest`` with names we choose."""
    try:
        infos = checked_entries(path, max_entries=max_entries, max_ratio=max_ratio, max_bytes=max_bytes)
    except ArchiveError as exc:
        raise GisError(f"{exc}；只打包一个图层的 .shp/.shx/.dbf/.prj/.cpg") from None
    with zipfile.ZipFile(path) as zf:
        shps = [i for i in infos if PurePosixPath(i.filename).suffix.lower() == ".shp"]
        if len(shps) != 1:
            names = ", ".join(PurePosixPath(i.filename).name for i in shps) or "无"
            msg = f"zip 中应恰有一个 .shp 图层，实际：{names}"
            raise GisError(msg)
        stem = PurePosixPath(shps[0].filename).with_suffix("")
        written = 0
        for info in infos:
            p = PurePosixPath(info.filename)
            if p.with_suffix("") == stem and p.suffix.lower() in SHAPEFILE_PARTS:
                # our own file name; nothing of the archive's path reaches the file system
                written += _stream_member(zf, info, dest / f"layer{p.suffix.lower()}", max_bytes - written)
    return dest / "layer.shp"


def _stream_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: float) -> int:
    """Copy one member to ``target`` a megabyte at a time, never more than ``budget`` bytes (a member may unpack to
    more than its header says); returns the bytes written."""
    written = 0
    name = PurePosixPath(info.filename).name
    try:
        with zf.open(info) as src, target.open("wb") as out:
            while chunk := src.read(1 << 20):
                written += len(chunk)
                if written > budget:
                    msg = f"zip 中的 {name} 解压后超过上限（其目录所记的大小不实）：可能是恶意构造的压缩文件，未读取"
                    raise GisError(msg)
                out.write(chunk)
    except (zipfile.BadZipFile, EOFError, OSError) as exc:  # a member that does not unpack to what its header says
        msg = f"zip 中的 {name} 已损坏或与其目录不符（{exc}）：请重新打包后再导入"
        raise GisError(msg) from None
    return written


def _gk_fix(crs: CRS, frame: gpd.GeoDataFrame) -> tuple[CRS, str | None]:
    """The CGCS2000 Gauss–Krüger code matching the eastings' zone prefix (EPSG:4491–4554)."""
    epsg = crs.to_epsg() or 0
    if not 4491 <= epsg <= 4554 or frame.empty:
        return crs, None
    minx, _, maxx, _ = frame.total_bounds
    prefixed = minx > 1_000_000
    # 6° zones 13–23: 4491–4501 with prefix, 4502–4512 without; 3° zones 25–45: 4513–4533 with, 4534–4554 without
    if 4491 <= epsg <= 4512:
        zone, has = (epsg - 4491 + 13, True) if epsg <= 4501 else (epsg - 4502 + 13, False)
        fixed = (4491 if prefixed else 4502) + zone - 13
    else:
        zone, has = (epsg - 4513 + 25, True) if epsg <= 4533 else (epsg - 4534 + 25, False)
        fixed = (4513 if prefixed else 4534) + zone - 25
    if prefixed:
        found = int(minx // 1_000_000)
        if found != zone or int(maxx // 1_000_000) != zone:
            msg = (f"坐标东坐标带号为 {found}，与 .prj 中的 {crs.name}（带号 {zone}）不一致；"
                   f"用 --crs EPSG:N 指定正确的高斯-克吕格投影带")
            raise GisError(msg)
    if has == prefixed:
        return crs, None
    note = (f".prj 声明 {crs.name}，但东坐标{'带' if prefixed else '不带'}带号：按 EPSG:{fixed} 读取")
    return CRS.from_epsg(fixed), note


def parse_crs(text: str) -> CRS:
    t = text.strip().lower()
    if t in ("wgs84", "cgcs2000", "epsg:4326", "epsg:4490", "auto"):
        return CRS.from_epsg(4326)
    try:
        return CRS.from_user_input(text)
    except Exception:  # pyproj raises CRSError and others
        msg = f"无法识别的坐标系 {text!r}；例如 wgs84、cgcs2000、EPSG:4527"
        raise GisError(msg) from None


def read_gis(path: str | Path, *, layer: str | None = None, crs: str | None = None, encoding: str | None = None,
             max_entries: int = 200, max_ratio: float = 100.0, max_bytes: float = 1e9) -> GisLayer:
    """The layer's features in WGS84, with notices (CRS used, encoding, fixes)."""
    import pyogrio

    path = Path(path)
    notices: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        src = path
        if path.suffix.lower() == ".zip":
            src = _safe_unzip(path, Path(tmp), max_entries=max_entries, max_ratio=max_ratio, max_bytes=max_bytes)
        elif path.is_dir():
            shps = sorted(path.glob("*.shp"))
            if len(shps) != 1:
                msg = f"文件夹 {path.name} 中应恰有一个 .shp，实际 {len(shps)} 个"
                raise GisError(msg)
            src = shps[0]
        if src.suffix.lower() == ".gpkg":
            layers = [name for name, _ in pyogrio.list_layers(src)]
            if layer is None and len(layers) > 1:
                msg = f"GeoPackage 有多个图层：{', '.join(layers)}；用 --layer 选一个"
                raise GisError(msg)
            if layer is not None and layer not in layers:
                msg = f"GeoPackage 中没有图层 {layer!r}；现有：{', '.join(layers)}"
                raise GisError(msg)
        kwargs = {"layer": layer} if layer else {}
        if src.suffix.lower() == ".shp" and not src.with_suffix(".cpg").exists() and encoding is None:
            encoding = _dbf_encoding(src.with_suffix(".dbf"))
            if encoding:
                notices.append(f"没有 .cpg 文件：属性表按 {encoding} 读取")
        if encoding:
            kwargs["encoding"] = encoding
        try:
            frame = pyogrio.read_dataframe(src, **kwargs)
        except Exception as exc:  # GDAL errors come in many kinds
            msg = f"无法读取 {path.name}：{exc}"
            raise GisError(msg) from None
    shift = None
    if crs and crs.strip().lower() in ("gcj02", "bd09"):
        shift, crs = crs.strip().lower(), "wgs84"  # longitude / latitude on a Chinese web map: unshifted below
    if crs:
        declared = parse_crs(crs)
        frame = frame.set_crs(declared, allow_override=True)
        notices.append(f"坐标系按 --crs {shift or crs} 读取")
    elif frame.crs is None:
        msg = (f"{path.name} 没有坐标系信息（缺 .prj？）；用 --crs 指定，例如 --crs EPSG:4527（CGCS2000 3° 带 39，"
               "带带号）或 --crs wgs84")
        raise GisError(msg)
    source = frame.crs
    fixed, note = _gk_fix(CRS.from_user_input(source), frame)
    if note:
        notices.append(note)
        frame = frame.set_crs(fixed, allow_override=True)
    frame = frame.set_crs(4326, allow_override=True) if fixed.to_epsg() in (4490, 4326) else frame.to_crs(4326)
    notices.insert(0, f"坐标系：{CRS.from_user_input(fixed).name}（EPSG:{CRS.from_user_input(fixed).to_epsg()}）→ WGS84")
    frame = frame[~frame.geometry.isna()].copy()
    if shift:
        frame["geometry"] = shapely.transform(
            frame.geometry.values, lambda xy: np.column_stack(lonlat_to_wgs84(xy[:, 0], xy[:, 1], shift)))
        notices.append(f"每个顶点由 {shift.upper()} 转换为 WGS84（迭代反算，误差 < 1 m）")
    frame["geometry"] = frame.geometry.make_valid()
    return GisLayer(frame=frame, source_crs=str(CRS.from_user_input(fixed).to_epsg()), notices=notices)


def _dbf_encoding(dbf: Path) -> str | None:
    """UTF-8 when the .dbf's text decodes as UTF-8, else GB18030 (a GBK .dbf from Chinese GIS software)."""
    if not dbf.exists():
        return None
    data = dbf.read_bytes()
    if all(b < 0x80 for b in data[32:]):
        return None
    try:
        data[32:].decode("utf-8")
    except UnicodeDecodeError:
        return "GB18030"
    return "UTF-8"
