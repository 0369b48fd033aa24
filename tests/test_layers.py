"""House rules: geo/ and planning/ stay pure (no streamlit, no sqlalchemy); services/, reports/ and cli.py
never run Streamlit code (they sit beside dashboard/, not on it)."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("streamlit", "sqlalchemy")


def test_pure_packages_do_not_import_ui_or_db_directly():
    offenders = []
    for pkg in ("geo", "planning"):
        for path in (ROOT / pkg).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_pure_packages_do_not_import_ui_or_db_transitively():
    modules = [
        f"{p.parent.name}.{p.stem}" for pkg in ("geo", "planning") for p in (ROOT / pkg).glob("*.py") if p.stem != "__init__"
    ]
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules) + (
        f"print(','.join(m for m in {FORBIDDEN!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def _direct_imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_services_reports_and_cli_import_no_dashboard_nor_streamlit():
    files = [*(ROOT / "services").rglob("*.py"), *(ROOT / "reports").rglob("*.py"), *(ROOT / "maps").rglob("*.py"),
             ROOT / "cli.py"]
    offenders = [f"{path.relative_to(ROOT)}: {name}" for path in files for name in _direct_imports(path)
                 if name.split(".")[0] in ("dashboard", "streamlit", "streamlit_folium")]
    assert offenders == []


def test_services_reports_and_cli_do_not_load_streamlit_transitively():
    modules = [f"{p.parent.name}.{p.stem}" for pkg in ("services", "reports", "maps")
               for p in (ROOT / pkg).glob("*.py") if p.stem != "__init__"]
    code = "import sys\nimport cli\n" + "".join(f"import {m}\n" for m in modules) + (
        "print(','.join(sorted({m.split('.')[0] for m in sys.modules} & {'streamlit', 'dashboard'})))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "services.scorecard" in modules and "reports.content" in modules
    assert out.stdout.strip() == ""


def test_pages_stay_thin():
    for page in (ROOT / "pages").glob("*.py"):
        n = len(page.read_text(encoding="utf-8").splitlines())
        assert n <= 150, f"{page.name} has {n} lines; move logic into dashboard/, geo/ or planning/"


def test_ruff_is_clean():
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_page_urls_are_the_file_names():
    """A deep link is resolved against the pages/ file names until st.navigation has run once
    (see dashboard.components.leave_legacy_page_mode); a different url_path shows "Page not found"."""
    import re

    app = (ROOT / "app.py").read_text(encoding="utf-8")
    pages = [(stem, url) for url, stem in re.findall(r'"(\w+)": \("pages/(\w+)\.py"', app)]
    assert len(pages) == len(list((ROOT / "pages").glob("*.py")))
    assert all(stem == url for stem, url in pages), pages


# The house's direction (../shared/DESIGN.md, issue 28): each top-level package and what it may import from the
# project. data → geo/planning → services → dashboard → pages; reports, cli, ingest and the web routes on services;
# imports/ (the import engine) and demo/ (the demo generator) above data/.
ALLOWED = {
    "config": set(), "geo": set(), "planning": {"config", "geo"}, "data": {"config"},
    "imports": {"config", "data", "geo", "planning"},  # planning: the project template is read into its Projects
    "demo": {"config", "data", "geo"},
    "services": {"config", "data", "geo", "planning", "imports", "demo"},
    "maps": {"config", "geo"}, "reports": {"config", "geo", "maps", "services"}, "web": {"config", "reports", "services"},
    "dashboard": {"config", "maps", "reports", "services", "web"},
    "pages": {"config", "dashboard", "maps", "reports", "services"},
    "ingest": {"config", "services"}, "cli": {"config", "ingest", "reports", "services"},  # cli starts the ingest service
    "app": {"config", "dashboard", "services"}, "server": {"config", "dashboard", "services", "web"},
}
SKIPPED = (".venv", "tests", "bench", "tools", ".git", ".hypothesis", "var")


def _product_files(root: Path):
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        if rel.parts[0] not in SKIPPED:
            yield path, rel


def imports_against_the_flow(root: Path = ROOT) -> set[tuple[str, str]]:
    """(file, the top-level package it imports that its layer may not), over every module of the product."""
    found = set()
    for path, rel in _product_files(root):
        layer = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        assert layer in ALLOWED, f"{rel}: a module outside the house's layers; add its folder to ALLOWED"
        for name in _direct_imports(path):
            top = name.split(".")[0]
            if top in ALLOWED and top != layer and top not in ALLOWED[layer]:
                found.add((rel.as_posix(), top))
    return found


def import_cycles(root: Path = ROOT) -> list[list[str]]:
    """Cycles of the module graph: an edge for every import of a product module (at the top or inside a function:
    a deferred import still ties the two), a name imported from a package counted as its module when it is one."""
    import networkx as nx

    modules = {}
    for path, rel in _product_files(root):
        name = ".".join(rel.with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    graph = nx.DiGraph()
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph.add_edge(name, target)
    return sorted(sorted(c) for c in nx.simple_cycles(graph))


def test_imports_flow_one_way():
    assert sorted(imports_against_the_flow()) == [], "imports against the house's direction (see ALLOWED)"


def test_no_import_cycles():
    assert import_cycles() == []


def test_the_checks_see_a_backward_import_and_a_cycle(tmp_path):
    """The two checks above can fail: a data module reading services, and two services reading each other."""
    for rel, text in {"data/__init__.py": "", "data/rows.py": "from services.figures import share\n",
                      "services/__init__.py": "", "services/figures.py": "def share():\n    from services import tables\n",
                      "services/tables.py": "import services.figures\nfrom data import rows\n"}.items():
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        (tmp_path / rel).write_text(text)
    assert imports_against_the_flow(tmp_path) == {("data/rows.py", "services")}
    assert import_cycles(tmp_path) == [["data.rows", "services.figures", "services.tables"],
                                       ["services.figures", "services.tables"]]


def test_options_are_keyword_only():
    """A public function with more than one option takes them by name (issue 28): ``f(x, a=1, b=2)`` is read as
    ``f(x, 1, 2)`` by its callers otherwise, and a new option in between silently shifts them. Route handlers are
    left out: their parameters are a request's query, named by the web framework."""
    offenders = []
    for path, rel in _product_files(ROOT):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith("_")
                    and len(node.args.defaults) >= 2 and not node.decorator_list):
                offenders.append(f"{rel}:{node.lineno} {node.name}")
    assert offenders == []
