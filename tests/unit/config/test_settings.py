"""Settings: file + environment, validated at start-up, secrets masked, the example file complete."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from config.settings import ConfigError, Settings, load_settings

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "callguard.example.toml"


def test_example_file_loads_and_documents_every_key() -> None:
    data = tomllib.loads(EXAMPLE.read_text())
    load_settings(EXAMPLE)

    def keys(model: type[BaseModel]) -> set[str]:
        return set(model.model_fields)

    for section, field in Settings.model_fields.items():
        assert section in data, f"example lacks [{section}]"
        value: Any = data[section][0] if isinstance(data[section], list) else data[section]
        annotation: Any = field.annotation
        inner = annotation.__args__[0] if hasattr(annotation, "__args__") else annotation
        assert isinstance(inner, type) and issubclass(inner, BaseModel)
        missing = keys(inner) - set(value)
        assert not missing, f"example [{section}] lacks {sorted(missing)}"


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[server]\nport = 9000\nhost = "127.0.0.2"\n')
    monkeypatch.setenv("CALLGUARD__SERVER__PORT", "9100")
    s = load_settings(cfg)
    assert s.server.port == 9100 and s.server.host == "127.0.0.2"


def test_bad_value_names_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLGUARD__RECORDINGS__RETENTION_DAYS", "30")
    with pytest.raises(ConfigError, match="recordings"):
        load_settings(None)
    monkeypatch.delenv("CALLGUARD__RECORDINGS__RETENTION_DAYS")
    cfg = tmp_path / "c.toml"
    cfg.write_text('[database]\nurl = "mysql://x"\n')
    with pytest.raises(ConfigError, match=r"database\.url"):
        load_settings(cfg)
    cfg.write_text('[servr]\nport = 1\n')
    with pytest.raises(ConfigError, match="servr"):
        load_settings(cfg)
    cfg.write_text('[analytics]\nrollup_zones = ["UTC", "Asia/Kolkata"]\n')  # +05:30: no whole-hour days
    with pytest.raises(ConfigError, match=r"analytics\.rollup_zones.*Asia/Kolkata"):
        load_settings(cfg)
    cfg.write_text("not toml [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(cfg)


def test_secrets_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLGUARD__PBX", '[{"name": "a", "ami_secret": "hunter2-very-secret"}]')
    monkeypatch.setenv("CALLGUARD__STORAGE__S3_SECRET_KEY", "s3-secret-value")
    monkeypatch.setenv("CALLGUARD__METRICS__TOKEN", "metrics-scrape-token-0123456789abcdef")
    s = load_settings(None)
    assert s.pbx[0].ami_secret.get_secret_value() == "hunter2-very-secret"
    assert s.metrics.token.get_secret_value() == "metrics-scrape-token-0123456789abcdef"
    for text in (repr(s), str(s), s.model_dump_json()):
        assert "hunter2" not in text and "s3-secret-value" not in text and "metrics-scrape-token" not in text


def test_a_short_metrics_token_and_the_removed_cors_setting_stop_start_up() -> None:
    with pytest.raises(ConfigError, match=r"metrics\.token.*at least 32") as err:
        load_settings(None, metrics={"token": "short-secret"})
    assert "short-secret" not in str(err.value)
    # browsers reach the API only through the console, same origin (README "Operations"): no CORS to configure
    with pytest.raises(ConfigError, match=r"server\.cors_origins"):
        load_settings(None, server={"cors_origins": ["https://a.example"]})


def test_a_webhook_lease_no_longer_than_a_request_stops_start_up() -> None:
    # the dispatcher sends a claimed message only while a whole request fits in its lease: with lease_s 5 and
    # the default 10 s timeout it gave every claim back unsent, forever, and said nothing
    with pytest.raises(ConfigError, match=r"hooks.*lease_s \(5\) must be longer than request_timeout_s \(10\)"):
        load_settings(None, hooks={"lease_s": 5})
    with pytest.raises(ConfigError, match=r"lease_s \(2\) must be longer than request_timeout_s \(2\)"):
        load_settings(None, hooks={"lease_s": 2, "request_timeout_s": 2})
    assert load_settings(None, hooks={"lease_s": 5, "request_timeout_s": 2}).hooks.lease_s == 5
