"""The page 实时监测's vocabulary and formatting: severities, station and alert states in Chinese and English,
durations. The panels' data and the alert actions are services (services/live.py)."""

from __future__ import annotations

SEVERITY = {"critical": ("紧急", "Critical", "#c62828"), "warning": ("警告", "Warning", "#ef6c00"),
            "info": ("提示", "Info", "#1565c0")}
STATION_STATE = {"open": ("开放中", "Open", "#2e7d32"), "closed": ("已闭馆", "Closed", "#90a4ae"),
                 "silent": ("失联", "Silent", "#263238"), "never": ("未接入", "Not reporting", "#e0e0e0")}
ALERT_STATE = {"firing": ("待确认", "Unacknowledged"), "acknowledged": ("已确认", "Acknowledged")}
ACTION_ZH = {"acknowledged": "确认", "resolved": "解除"}


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.0f} 秒"
    if seconds < 3600:
        return f"{seconds / 60:.1f} 分钟"
    return f"{seconds / 3600:.1f} 小时"
