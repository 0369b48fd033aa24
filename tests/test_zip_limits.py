"""Zipped shapefiles from outside (issue 26, finding 7): the unpacked total is capped by config, and members are
streamed to disk, never held whole in memory."""

from __future__ import annotations

import tracemalloc
import zipfile

import pytest

from imports.gis import GisError, _safe_unzip


def _zip(path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, data in members.items():
            z.writestr(name, data)


def test_a_large_member_is_streamed_not_read_whole(tmp_path):
    """A 64 MB .dbf of zeros (a 1,000:1 zip): unpacking it allocates a few megabytes of Python memory at most."""
    src = tmp_path / "big.zip"
    _zip(src, {"a.shp": b"\0" * 100, "a.dbf": b"\0" * (64 << 20)})
    out = tmp_path / "out"
    out.mkdir()
    tracemalloc.start()
    try:
        shp = _safe_unzip(src, out, max_entries=10, max_ratio=10_000, max_bytes=1e9)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert shp.name == "layer.shp" and (out / "layer.dbf").stat().st_size == 64 << 20
    assert peak < 8 << 20, f"peak {peak / 2**20:.0f} MiB: the member was held whole"


def test_the_unpacked_total_is_capped_by_config(tmp_path):
    from config import load_config

    cap = load_config().imports.max_unzipped_mb * 1e6
    assert cap <= 2e9  # a sane figure, not max_file_mb × max_zip_ratio (20 GB)
    src = tmp_path / "two.zip"
    _zip(src, {"a.shp": b"\0" * 100, "a.dbf": b"\0" * 3_000_000})
    with pytest.raises(GisError, match="解压后有 3 MB"):
        _safe_unzip(src, tmp_path, max_entries=10, max_ratio=10_000, max_bytes=2e6)


def test_a_member_that_unpacks_to_more_than_its_header_says_is_stopped(tmp_path):
    """The directory says 100 bytes; the member holds 5 MB. Python's zipfile stops at the size the directory
    gives and then finds the checksum wrong; either way the import is refused with words, and never unpacks it."""
    src = tmp_path / "liar.zip"
    _zip(src, {"a.shp": b"\0" * 100, "a.dbf": b"\0" * 5_000_000})
    with zipfile.ZipFile(src) as z:
        infos = z.infolist()
    from imports import gis

    real = gis.checked_entries

    def lying(path, **kw):  # what a forged central directory would report
        out = real(path, **{**kw, "max_bytes": 1e12})
        for i in out:
            i.file_size = 100
        return out

    gis.checked_entries = lying
    try:
        with pytest.raises(GisError, match="已损坏或与其目录不符|其目录所记的大小不实"):
            _safe_unzip(src, tmp_path, max_entries=10, max_ratio=10_000, max_bytes=1e6)
    finally:
        gis.checked_entries = real
    assert len(infos) == 2
