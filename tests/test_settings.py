"""Settings come from a mapping passed in, never from globals."""

from __future__ import annotations

from pathlib import Path

import pytest

from etclod.errors import SettingsError
from etclod.settings import Settings


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.base_uri == "http://localhost:8000/"
    assert settings.data_dir == Path("data") and settings.var_dir == Path("var")


def test_environment_overrides() -> None:
    settings = Settings.from_env({"ETCLOD_BASE_URI": "https://etc.example.lv", "ETCLOD_DATA": "/d",
                                  "ETCLOD_VAR": "/v", "ETCLOD_QUERY_TIMEOUT": "2.5",
                                  "ETCLOD_MAX_ROWS": "10"})
    assert settings.base_uri == "https://etc.example.lv/"
    assert (settings.data_dir, settings.var_dir) == (Path("/d"), Path("/v"))
    assert (settings.query_timeout, settings.max_rows) == (2.5, 10)
    assert settings.releases_dir == Path("/v/releases")


@pytest.mark.parametrize("env, message", [
    ({"ETCLOD_BASE_URI": "ftp://x"}, "ETCLOD_BASE_URI"),
    ({"ETCLOD_MAX_ROWS": "lots"}, "ETCLOD_MAX_ROWS must be an integer"),
    ({"ETCLOD_MAX_ROWS": "0"}, "at least 1"),
    ({"ETCLOD_QUERY_TIMEOUT": "-1"}, "positive"),
    ({"ETCLOD_STORE": "http://x/sparql"}, "sparql\\+http"),
    ({"ETCLOD_STORE_UPDATE": "x/update"}, "ETCLOD_STORE_UPDATE must be an http"),
    ({"ETCLOD_STORE_POLL": "soon"}, "ETCLOD_STORE_POLL"),
])
def test_bad_settings_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_the_base_uri_flag_is_checked_like_the_variable(capsys) -> None:
    """Regression: --base-uri skipped the http(s) check that ETCLOD_BASE_URI gets."""
    from etclod.cli import main
    assert main(["validate", "--base-uri", "ftp://x"], environ={}) == 2
    assert "--base-uri must be an http(s) URI" in capsys.readouterr().err


def test_remote_store_endpoints() -> None:
    from etclod.remote import RemoteStore

    virtuoso = RemoteStore.from_settings(Settings.from_env({"ETCLOD_STORE": "sparql+http://db:8890/sparql"}))
    assert (virtuoso.endpoint, virtuoso.update_endpoint, virtuoso.graph_store) == (
        "http://db:8890/sparql", "http://db:8890/sparql-auth", "http://db:8890/sparql-graph-crud-auth")
    fuseki = RemoteStore.from_settings(Settings.from_env({
        "ETCLOD_STORE": "sparql+https://f/ds/query", "ETCLOD_STORE_UPDATE": "https://f/ds/update",
        "ETCLOD_STORE_GRAPH_STORE": "https://f/ds/data"}))
    assert (fuseki.endpoint, fuseki.update_endpoint, fuseki.graph_store) == (
        "https://f/ds/query", "https://f/ds/update", "https://f/ds/data")


@pytest.mark.parametrize("spelling, value", [(s, True) for s in ("1", "true", "True", "YES", "on", " On ")]
                         + [(s, False) for s in ("0", "false", "False", "NO", "off", "OFF")])
def test_yes_no_settings_as_people_write_them(spelling: str, value: bool) -> None:
    """Regression: ETCLOD_VERIFY_CHECKSUMS=off (or False) still verified."""
    assert Settings.from_env({"ETCLOD_VERIFY_CHECKSUMS": spelling}).verify_checksums is value


@pytest.mark.parametrize("spelling", ["maybe", "2", "y", "disable"])
def test_other_yes_no_spellings_are_a_clear_error_and_exit_2(spelling: str, capsys) -> None:
    from etclod.cli import main
    with pytest.raises(SettingsError, match="ETCLOD_VERIFY_CHECKSUMS must be one of 1/true/yes/on or 0/false/no/off"):
        Settings.from_env({"ETCLOD_VERIFY_CHECKSUMS": spelling})
    assert main(["releases"], environ={"ETCLOD_VERIFY_CHECKSUMS": spelling}) == 2
    err = capsys.readouterr().err
    assert "ETCLOD_VERIFY_CHECKSUMS" in err and repr(spelling) in err and "Traceback" not in err


def test_verify_checksums_off_serves_a_release_that_does_not_match(make_settings) -> None:
    """With verification off, a release whose dump was altered is served as it is; on, it is
    refused (it is the only one, so nothing is served)."""
    import warnings

    from etclod.release import build_release

    from conftest import project
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    from fastapi.testclient import TestClient

    from etclod.api.app import create_app
    settings = make_settings([project()])
    release = build_release(settings)
    dump = release.path / "dumps" / "etclod.nt.gz"
    dump.write_bytes(dump.read_bytes() + b"\0")
    for spelling, status in (("Off", "ok"), ("ON", "no_release")):
        checked = Settings.from_env({"ETCLOD_DATA": str(settings.data_dir), "ETCLOD_VAR": str(settings.var_dir),
                                     "ETCLOD_VERIFY_CHECKSUMS": spelling})
        with TestClient(create_app(checked)) as client:
            health = client.get("/health")
            assert health.json()["status"] == status, (spelling, health.text)
