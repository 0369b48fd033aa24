"""数据管理's file handling against hostile input: server files stay inside the import folder, uploads are stored
under a name the server chooses and bounded in size, mapping names cannot leave their folder; and a new
district is created from its outline file through the page."""

import os

import geopandas as gpd
import pytest

from config import load_config
from services import import_files
from services.import_files import FileRefused
from tests.conftest import ROOT, app_test, assert_clean


def with_imports(tmp_path, **changes):
    config = load_config()
    return config.model_copy(update={"imports": config.imports.model_copy(update=changes)})


def test_server_files_are_listed_and_read_only_inside_the_import_folder(tmp_path):
    folder = tmp_path / "imports"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.csv").write_text("x")
    (folder / "sub" / "b.xlsx").write_bytes(b"x")
    (folder / "notes.txt").write_text("not importable")
    outside = tmp_path / "secret.csv"
    outside.write_text("outside")
    os.symlink(outside, folder / "link.csv")
    config = with_imports(tmp_path, import_folder=str(folder))

    assert import_files.server_files(config) == ["a.csv", "sub/b.xlsx"]  # no link, no .txt
    assert import_files.server_file("sub/b.xlsx", config) == (folder / "sub" / "b.xlsx").resolve()
    for hostile in ("../secret.csv", str(outside), "link.csv", "sub/../../secret.csv", "notes.txt", "missing.csv"):
        with pytest.raises(FileRefused):
            import_files.server_file(hostile, config)


def test_an_upload_is_stored_under_the_servers_name_and_bounded_per_kind(tmp_path):
    limits = {**load_config().imports.upload_mb, "facilities": 0.001, "roads": 0.002}  # 1,000 and 2,000 bytes
    config = with_imports(tmp_path, upload_mb=limits)
    folder = tmp_path / "up"
    folder.mkdir()
    path = import_files.save_upload(b"a,b\n1,2\n", "../../../etc/名单.CSV", folder, config, "facilities")
    assert path == folder / "upload.csv" and path.read_bytes() == b"a,b\n1,2\n"
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["upload.csv"]
    with pytest.raises(FileRefused, match="超过设施文件的上传上限 0.001 MB"):
        import_files.save_upload(b"x" * 1001, "big.csv", folder, config, "facilities")
    assert import_files.save_upload(b"x" * 1001, "lines.geojson", folder, config, "roads").stat().st_size == 1001
    assert import_files.upload_limit_problem(2001, "roads", config) is not None
    for name in ("run.exe", "sheet.xlsm", "noext"):
        with pytest.raises(FileRefused, match="不支持的文件类型"):
            import_files.save_upload(b"x", name, folder, config, "facilities")


def test_every_upload_kind_has_a_limit():
    from pydantic import ValidationError

    config = load_config()
    assert set(config.imports.upload_mb) == {"district", "townships", "communities", "facilities", "elders", "roads",
                                              "projects", "candidates"}
    with pytest.raises(ValidationError, match="missing \\['roads'\\]"):
        type(config.imports).model_validate({**config.imports.model_dump(),
                                             "upload_mb": {k: v for k, v in config.imports.upload_mb.items()
                                                           if k != "roads"}})


def test_a_mapping_name_cannot_leave_the_mapping_folder():
    path = import_files.mapping_path("120103", "facilities", "../../月报 v2/..")
    root = (ROOT / load_config().imports.mapping_folder).resolve()
    assert path.parent == root / "120103" / "facilities" and path.name == "月报 v2.toml"
    with pytest.raises(FileRefused):
        import_files.mapping_path("120103", "facilities", "../..")


def test_a_new_district_from_its_outline_file(tmp_path, monkeypatch):
    """Code and name are checked against the official list; the outline file holds all 16 districts of Tianjin and
    the one with the code is stored: the same shape as that feature of the file."""
    from data.db import make_engine, session_factory
    from data.repository import Repository

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    make_engine(url).dispose()
    source = ROOT / "data" / "sources" / "tianjin_districts_wgs84.geojson"
    at = app_test("pages/data_admin.py", url, monkeypatch)
    at.run()
    assert not at.exception
    at.selectbox(key="ui.district").set_value("__new__").run()  # the only choice in an empty database
    at.text_input(key="da.new_code").set_value("120103").run()
    at.text_input(key="da.new_name").set_value("河东区").run()
    assert any("正式名称是“河西区”" in e.value for e in at.error)
    at.text_input(key="da.new_name").set_value("河西区").run()
    at.file_uploader(key="da.upload").set_value(("天津各区.geojson", source.read_bytes(), "application/geo+json")).run()
    assert not at.exception
    assert any("取列" in m.value and "120103" in m.value for m in at.markdown)  # the one feature of 16 is taken
    next(b for b in at.button if b.label.startswith("导入为新版本")).click().run()
    assert_clean(at)
    assert any("已导入 1 行区界" in s.value for s in at.success)
    assert at.selectbox(key="ui.district").value == "120103"  # the sidebar now shows the district just made
    truth = gpd.read_file(source)
    truth = truth[truth["adcode"].astype(str) == "120103"].geometry.union_all()
    with session_factory(make_engine(url))() as s:
        stored = Repository(s, "120103").district().geometry.iloc[0]
    assert stored.symmetric_difference(truth).area < 1e-9
