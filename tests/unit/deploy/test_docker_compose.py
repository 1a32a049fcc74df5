"""docker-compose.yml parses and agrees with the service's configuration (no Docker engine runs here)."""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.settings import load_settings

ROOT = Path(__file__).resolve().parents[3]
ENV = {"CALLGUARD_AMI_SECRET": "ami-s3cret-x1", "POSTGRES_PASSWORD": "pg-pw-x2", "S3_ACCESS_KEY": "s3-ak-x3",
       "S3_SECRET_KEY": "s3-sk-x4", "CALLGUARD_AGENTS": "1001:pw-x5", "CUSTOMER_SIP_HOST": "trunk.invalid"}
_VAR = re.compile(r"\$\{(\w+)(?::?[?-]([^}]*))?\}")


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose-style ${VAR}, ${VAR:?err}, ${VAR:-default} substitution ($$ is a literal $)."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in env:
            return env[name]
        if ":?" in m.group(0):
            raise KeyError(f"{name}: {m.group(2)}")
        return m.group(2) or ""

    return _VAR.sub(sub, value.replace("$$", "\x00")).replace("\x00", "$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_parses_with_the_whole_stack(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"pbx", "callguard", "postgres", "seaweedfs"}
    assert (ROOT / compose["services"]["pbx"]["build"]["dockerfile"]).exists()
    assert (ROOT / "Dockerfile").exists()


def test_secrets_come_only_from_the_environment(compose: dict[str, Any]) -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for secret in ENV.values():
        assert secret not in text
    with pytest.raises(KeyError, match="CALLGUARD_AMI_SECRET"):
        interpolate(compose["services"]["pbx"]["environment"], {})


def test_service_settings_agree_with_pbx_postgres_and_s3(compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    services = interpolate(compose["services"], ENV)
    pbx, svc = services["pbx"]["environment"], services["callguard"]["environment"]
    pg = services["postgres"]["environment"]
    for key, value in svc.items():
        monkeypatch.setenv(key, value)
    settings = load_settings(None)  # the service's own validation accepts the compose environment
    ami = settings.pbx[0]
    assert ami.ami_host == "pbx" and str(ami.ami_port) == pbx["AMI_PORT"] and ami.ami_user == pbx["AMI_USER"]
    assert ami.ami_secret.get_secret_value() == pbx["AMI_SECRET"] == ENV["CALLGUARD_AMI_SECRET"]
    assert settings.database.url == (f"postgresql+asyncpg://{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}"
                                     f"@postgres:5432/{pg['POSTGRES_DB']}")
    assert settings.storage.backend == "s3" and settings.storage.s3_endpoint_url.endswith(":8333")
    assert settings.storage.s3_access_key.get_secret_value() == services["seaweedfs"]["environment"]["S3_ACCESS_KEY"]
    assert "-s3.port=8333" in services["seaweedfs"]["command"][0]
    assert json.loads(svc["CALLGUARD__PBX"])[0]["ami_port"] == int(pbx["AMI_PORT"])


def test_pbx_and_service_share_the_recordings_volume(compose: dict[str, Any]) -> None:
    services = interpolate(compose["services"], ENV)

    def mount(service: str, volume: str) -> str:
        for v in services[service]["volumes"]:
            name, _, path = v.partition(":")
            if name == volume:
                return path.split(":")[0]
        raise AssertionError(f"{service} does not mount {volume}")

    assert "recordings" in compose["volumes"]
    assert mount("pbx", "recordings") == services["pbx"]["environment"]["RECORDINGS_DIR"]
    assert mount("callguard", "recordings") == services["callguard"]["environment"]["CALLGUARD__RECORDINGS__SPOOL_DIR"]


def test_ami_is_permitted_only_from_the_compose_network(compose: dict[str, Any]) -> None:
    services = interpolate(compose["services"], ENV)
    subnet = ipaddress.ip_network(compose["networks"]["callguard"]["ipam"]["config"][0]["subnet"])
    assert subnet.is_private and subnet.prefixlen >= 16
    assert all(service.get("networks") == ["callguard"] for service in services.values())
    assert ipaddress.ip_network(services["pbx"]["environment"]["AMI_PERMIT"]) == subnet
    assert not any(str(port).split(":")[-1].startswith("5038") for port in services["pbx"].get("ports", []))


def test_the_pbx_image_permits_loopback_by_default_and_drops_root() -> None:
    entrypoint = (ROOT / "docker" / "pbx" / "entrypoint.sh").read_text()
    assert ': "${AMI_PERMIT:=127.0.0.1/255.255.255.255}"' in entrypoint
    assert 'exec /usr/sbin/asterisk -U "${RUN_USER}" -G "${RUN_USER}"' in entrypoint
    assert ': "${RUN_USER:=asterisk}"' in entrypoint
