"""The low-code configuration: valid file loads; typos and bad values are named."""

from pathlib import Path

import pytest

from config import DEFAULT_CONFIG_PATH, ConfigError, load_config

TEXT = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "dashboard.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_bundled_config_loads_with_domain_defaults():
    cfg = load_config()
    assert cfg.walking.speed_mps == 1.0
    assert cfg.walking.time_bands_min == (5, 10, 15)
    assert cfg.kind("township_centre").level == "township"
    assert cfg.target("beds_per_1000").target == 30
    assert cfg.target("four_sync_rate").target == 100
    assert cfg.basemap(cfg.app.default_basemap).url == ""  # default works offline


def test_unknown_key_is_named_with_file(tmp_path):
    bad = TEXT.replace('colour = "#c62828"', 'colour = "#c62828"\ncolr = "#000000"', 1)
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, bad))
    msg = str(exc.value)
    assert str(tmp_path / "dashboard.toml") in msg
    assert "facility_kinds[1].colr: unknown key" in msg


def test_unknown_top_level_section(tmp_path):
    with pytest.raises(ConfigError, match=r"walkng: unknown key"):
        load_config(write(tmp_path, TEXT + "\n[walkng]\nspeed_mps = 1.0\n"))


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("speed_mps = 1.0", "speed_mps = -1.0", r"walking.speed_mps: .*greater than 0.2.*\(got -1.0\)"),
        ('colour = "#c62828"', 'colour = "red"', r"facility_kinds\[1\].colour: .*#rrggbb.*'red'"),
        ("time_bands_min = [5, 10, 15]", "time_bands_min = [15, 5]", r"walking.time_bands_min: .*ascending"),
        ('direction = "at_least"', 'direction = "more"', r"targets\[0\].direction: .*'at_least' or 'at_most'"),
        ('level = "township"', 'level = "province"', r"unknown level 'province'"),
        ('default_basemap = "none"', 'default_basemap = "baidu"', r"unknown basemap 'baidu'"),
        ("disabled = 2.0,", "disabld = 2.0,", r"siting.extra_weight: .*unknown elder categories \['disabld'\]"),
        ("disabled = 2.0,", "disabled = -2.0,", r"siting.extra_weight: .*between 0 and 100"),
        ('new_site_kind = "community_station"', 'new_site_kind = "kiosk"', r"siting.new_site_kind: unknown .*'kiosk'"),
        ('aliases = ["幸福院",', 'aliases = ["养老院", "幸福院",',
         r"facility_kinds: '养老院' names both 'rural_mutual_aid' and 'institution'"),
        ('lat = ["纬度",', 'lat = ["纬度", "纬度 ",', r"imports: .*synonyms.lat: repeated synonym\(s\) \['纬度'\]"),
        ("max_zip_ratio = 100", "max_zip_ratio = 0.5", r"imports.max_zip_ratio: .*greater than 1"),
    ],
)
def test_bad_values_are_named(tmp_path, old, new, expected):
    assert old in TEXT
    with pytest.raises(ConfigError, match=expected):
        load_config(write(tmp_path, TEXT.replace(old, new, 1)))


def test_missing_key_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"app.title_en: required key is missing"):
        load_config(write(tmp_path, TEXT.replace('title_en = "Eldercare One-Map"\n', "", 1)))


def test_duplicate_ids_rejected(tmp_path):
    dup = TEXT + '\n[[basemaps]]\nid = "osm"\nname_zh = "x"\nname_en = "x"\nurl = ""\ncrs = "wgs84"\nattribution = ""\n'
    with pytest.raises(ConfigError, match=r"basemaps: duplicate id\(s\) \['osm'\]"):
        load_config(write(tmp_path, dup))


def test_not_toml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[app\n"))
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "nope.toml")


def test_new_facility_kind_needs_no_code(tmp_path):
    extra = (
        '\n[[facility_kinds]]\nid = "bath_service"\nname_zh = "助浴点"\nname_en = "Bathing service"\n'
        'level = "community"\ncolour = "#0097a7"\nicon = "浴"\ncare_service = true\n'
    )
    cfg = load_config(write(tmp_path, TEXT + extra))
    assert cfg.kind("bath_service").name_zh == "助浴点"
    with pytest.raises(KeyError, match="unknown facility kind 'sauna'"):
        cfg.kind("sauna")


def test_the_dashboard_listens_on_loopback_by_default():
    """Without a sign-in in front of it, the dashboard must not listen on every interface (Streamlit's default)."""
    import tomllib

    from tests.conftest import ROOT

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    server = config["server"]
    assert server["address"] == "127.0.0.1"
    # a table's own toolbar CSV would export names as written (=cmd|…): only our neutralised exports remain
    assert config["client"]["disableDataExport"] is True
    assert server.get("enableXsrfProtection", True) is True and server.get("enableCORS", True) is True


def test_streamlit_runs_no_full_collection_after_every_run(monkeypatch):
    """Streamlit's default collects every generation after each run and fragment run: with a district's cached
    networks and geometries in the process that held the interpreter for 200-350 ms after every map click.
    The project's settings, as Streamlit itself reads them from the project folder, turn it off."""
    from streamlit import config as st_config

    from tests.conftest import ROOT

    monkeypatch.chdir(ROOT)
    st_config.get_config_options(force_reparse=True)
    assert st_config.get_option("runner.postScriptGC") is False
