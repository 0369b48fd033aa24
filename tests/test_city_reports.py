"""The city's reports (issue 29, item 3) on the two hand-made districts of tests/test_across_border.py: the PDF has
the city, its comparison with a baseline and a page per district, with figures derived by hand; the command line
writes it (and the workbook) or says what is wrong."""

from __future__ import annotations

import subprocess

from tests.conftest import run_cli
from tests.test_across_border import A, city, city_then  # noqa: F401  (the fixtures)


def pdf_pages(path) -> list[str]:
    """Each page's text (pdftotext, layout kept)."""
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return text.split("\f")[:-1]


def cli(*args: str):
    return run_cli("report", *args)


def test_the_city_pdf_has_the_city_its_baseline_and_a_page_per_district(city_then, tmp_path):  # noqa: F811
    """Pre-job training (tests/test_across_border.py, by hand): the city 100 % now, 50 % at 2025-06-30; 甲区 0 % then
    and 100 % now (+100 points), 乙区 100 % both times; both districts first of two. Fonts embedded."""
    out = tmp_path / "city.pdf"
    done = cli("--city", "120000", "--format", "pdf", "--target", "prejob_training_rate", "--since", "2025-06-30",
               "--database-url", city_then, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "已生成" in done.stdout and "区县 2/2：乙区" in done.stdout
    pages = pdf_pages(out)
    assert len(pages) == 3 + 2  # cover with the city map, the city's targets, the comparison; one page per district
    assert "养老服务规划目标对照（全市及各区县）" in pages[0] and "2 个区县" in pages[0]
    assert "护理人员岗前培训率" in pages[1]
    row = next(line for line in pages[2].splitlines() if "护理人员岗前培训率" in line)
    assert row.split()[1:4] == ["50.0%", "100.0%", "+50.0"]
    assert pages[3].lstrip().startswith("甲区（120101）") and pages[4].lstrip().startswith("乙区（120102）")
    a = next(line for line in pages[3].splitlines() if "护理人员岗前培训率" in line).split()
    assert a[2:] == ["100.0%", "≥", "100%", "100.0%", "1/2", "0.0%", "+100.0", "个百分点"]
    b = next(line for line in pages[4].splitlines() if "护理人员岗前培训率" in line).split()
    assert b[-4:] == ["1/2", "100.0%", "+0.0", "个百分点"]
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True, check=True).stdout
    assert "NotoSansCJK" in fonts.replace("-", "") and " no " not in fonts.split("\n", 2)[2]


def test_the_city_workbook_from_the_command_line(city, tmp_path):  # noqa: F811
    import openpyxl

    out = tmp_path / "city.xlsx"
    done = cli("--city", "120000", "--format", "xlsx", "--database-url", city, "--out", str(out))
    assert done.returncode == 0, done.stderr
    matrix = openpyxl.load_workbook(out)["区县×指标"]
    assert [row[0] for row in matrix.iter_rows(min_row=2, values_only=True)] == ["甲区", "乙区"]


def test_a_wrong_city_or_format_says_what_to_do(city, tmp_path):  # noqa: F811
    out = tmp_path / "x.pdf"
    done = cli("--city", "990000", "--format", "pdf", "--database-url", city, "--out", str(out))
    assert done.returncode == 2 and "没有城市 990000" in done.stderr and "120000" in done.stderr
    done = cli("--city", "120000", "--format", "html", "--database-url", city, "--out", str(out))
    assert done.returncode == 2 and "pdf 与 xlsx" in done.stderr
    done = cli("--city", "120000", "--format", "pdf", "--township", f"{A}001000", "--database-url", city,
               "--out", str(out))
    assert done.returncode == 2 and "--township" in done.stderr
    done = cli("--city", "120000", "--format", "pdf", "--target", "no_such", "--database-url", city, "--out", str(out))
    assert done.returncode == 2 and "没有指标 no_such" in done.stderr
    assert not out.exists() and "Traceback" not in done.stderr


def test_the_city_page_makes_the_pdf_on_request(city, monkeypatch):  # noqa: F811
    from tests.conftest import app_test, assert_clean

    at = app_test("pages/city.py", city, monkeypatch, role="leader")
    at.run()
    assert not any(b.proto.label.startswith("下载全市 PDF") for b in at.get("download_button"))
    at.button(key="city.make_pdf").click().run()
    assert_clean(at)
    assert any(b.proto.label.startswith("下载全市 PDF") for b in at.get("download_button"))
