"""python cli.py simulate against the real ingest service: what a demo of the live page relies on."""

import re
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from config import load_config
from data.db import make_engine, session_factory
from data.live_models import Alert, IngestCredential, LiveEvent, StationStatus
from data.models import DataVersion, Facility
from tests.conftest import ROOT
from tools.ingest_process import IngestProcess
from tools.net import free_port
from tools.wait import wait_until

pytestmark = pytest.mark.timeout(240)


def simulate(url: str, api: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "cli.py", "simulate", "--api", api, "--database-url", url, *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_simulator_posts_realistic_traffic(writable_demo_url, tmp_path):
    url = writable_demo_url
    with IngestProcess(url, log=tmp_path / "ingest.log") as server:
        run = simulate(url, server.base, "--rate", "20", "--duration", "6", "--heartbeat-s", "2")
        assert run.returncode == 0, run.stderr
        silent = re.search(r"失联站点 (\S+)，", run.stdout).group(1)
        stored, dupes = map(int, re.search(r"新存 (\d+)，重复 (\d+)", run.stdout.splitlines()[-1]).groups())
        engine = make_engine(url)
        with session_factory(engine)() as s:
            def timed_alerts_fired() -> bool:  # the service's timed rules run every check_interval_s
                s.rollback()
                return s.scalar(select(func.count()).select_from(Alert).where(
                    Alert.rule_id.in_(["station_silent", "ticket_sla"]))) >= 2

            wait_until(timed_alerts_fired, timeout_s=30, what="the silent-station and ticket-SLA alerts", poll_s=0.5)
            stations = s.scalar(select(func.count()).select_from(Facility).join(  # the current facility list
                DataVersion, DataVersion.id == Facility.version_id).where(
                DataVersion.is_current, Facility.kind_id.in_(load_config().live.station_kinds),
                Facility.status == "operating"))
            assert s.scalar(select(func.count()).select_from(StationStatus)) == stations
            assert s.scalar(select(func.count()).select_from(LiveEvent)) == stored > 100
            assert dupes > 0  # the burst re-sent delivered events; each was stored once
            alerts = {(a.rule_id, a.station_code): a for a in s.scalars(select(Alert))}
            assert alerts[("station_silent", silent)].state == "firing"
            assert any(rule == "ticket_sla" and a.state == "firing" for (rule, _), a in alerts.items())
            assert {rule for rule, _ in alerts} >= {"sos", "vitals", "device_offline", "over_capacity"}
            assert not any(re.search(r"\bE\d{5}\b", a.detail) for a in alerts.values())  # elder refs never shown
            assert s.scalar(select(func.count()).select_from(IngestCredential).where(
                IngestCredential.label == "simulator", IngestCredential.revoked_at.is_(None))) == 0
        engine.dispose()


def test_simulator_says_to_start_the_service(writable_demo_url):
    run = simulate(writable_demo_url, f"http://127.0.0.1:{free_port()}", "--duration", "1")
    assert run.returncode == 2
    assert "请先运行 python cli.py ingest" in run.stderr
