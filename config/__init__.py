"""The low-code configuration: ``config/dashboard.toml`` validated into models."""

from config.settings import (
    DEFAULT_CONFIG_PATH,
    Basemap,
    ConfigError,
    DashboardConfig,
    FacilityKind,
    Level,
    Target,
    load_config,
)

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "Basemap",
    "ConfigError",
    "DashboardConfig",
    "FacilityKind",
    "Level",
    "Target",
    "load_config",
]
