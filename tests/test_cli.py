"""The command-line entry point."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def cli(*args, env=None):
    return subprocess.run([sys.executable, "cli.py", *args], cwd=ROOT, capture_output=True, text=True, env=env)


@pytest.mark.parametrize("args", [["--help"], ["demo", "--help"]])
def test_help(args):
    out = cli(*args)
    assert out.returncode == 0 and "usage: python cli.py" in out.stdout


def test_unknown_command_fails_clearly():
    out = cli("frobnicate")
    assert out.returncode == 2 and "invalid choice: 'frobnicate'" in out.stderr


def test_demo_builds_then_skips(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    first = cli("demo", "--seed", "5", "--database-url", url)
    assert first.returncode == 0, first.stderr
    steps = [ln for ln in first.stdout.splitlines() if ln.startswith("[")]
    assert len(steps) == 7  # six generation steps and the write
    assert "道路节点" in first.stdout and "老人 150,000" in first.stdout
    second = cli("demo", "--seed", "5", "--database-url", url)
    assert second.returncode == 0 and "跳过构建" in second.stdout and "[1/6]" not in second.stdout


def test_bad_database_url_is_explained(tmp_path):
    out = cli("demo", "--database-url", "mysql://x@localhost/db")
    assert out.returncode == 2 and "is not supported: use sqlite:///PATH or postgresql://" in out.stderr
    assert "Traceback" not in out.stderr
