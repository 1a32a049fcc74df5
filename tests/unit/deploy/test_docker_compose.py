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
       "S3_SECRET_KEY": "s3-sk-x4", "CALLGUARD_AGENTS": "1001:pw-x5", "CUSTOMER_SIP_HOST": "trunk.invalid",
       "PBX_PUBLIC_ADDRESS": "203.0.113.10"}
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
    assert set(compose["services"]) == {"pbx", "callguard", "ingest", "postgres", "seaweedfs"}
    for service in compose["services"].values():
        build = service.get("build")
        if build:
            assert (ROOT / build["context"] / build.get("dockerfile", "Dockerfile")).exists()


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
    assert settings.storage.s3_endpoint_url == f"http://seaweedfs:{services['seaweedfs']['environment']['S3_PORT']}"
    assert '-s3.port="${S3_PORT}"' in (ROOT / "docker" / "seaweedfs" / "entrypoint.sh").read_text()
    assert json.loads(svc["CALLGUARD__PBX"])[0]["ami_port"] == int(pbx["AMI_PORT"])


def test_pbx_and_its_ingest_role_share_the_recordings_volume_and_the_service_reads_none(compose: dict[str, Any]
                                                                                         ) -> None:
    services = interpolate(compose["services"], ENV)

    def mount(service: str, volume: str) -> str:
        for v in services[service]["volumes"]:
            name, _, path = v.partition(":")
            if name == volume:
                return path.split(":")[0]
        raise AssertionError(f"{service} does not mount {volume}")

    assert "recordings" in compose["volumes"]
    assert mount("pbx", "recordings") == services["pbx"]["environment"]["RECORDINGS_DIR"]
    ingest = services["ingest"]
    assert mount("ingest", "recordings") == ingest["environment"]["CALLGUARD__RECORDINGS__SPOOL_DIR"]
    assert ingest["command"][:1] == ["ingest"] and ingest["user"] == services["callguard"]["user"]
    assert "volumes" not in services["callguard"]
    assert services["callguard"]["environment"]["CALLGUARD__RECORDINGS__INGEST"] == "external"


def test_the_ingest_role_shares_the_services_database_and_store(compose: dict[str, Any],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    services = interpolate(compose["services"], ENV)
    loaded = {}
    for name in ("callguard", "ingest"):
        with monkeypatch.context() as m:
            for key, value in services[name]["environment"].items():
                m.setenv(key, value)
            loaded[name] = load_settings(None)
    svc, role = loaded["callguard"], loaded["ingest"]
    assert role.database.url == svc.database.url and role.storage == svc.storage
    assert svc.recordings.ingest == "external" and role.server.instance_id


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


def _dockerfile(path: Path) -> str:
    return (ROOT / path).read_text().replace("\\\n", " ")


def _healthcheck_cmd(dockerfile: str) -> list[str]:
    found = re.search(r"^HEALTHCHECK .*?CMD (\[.*\])\s*$", dockerfile, re.M)
    assert found, "no HEALTHCHECK"
    cmd: list[str] = json.loads(found.group(1))
    return cmd


def _image_of(service: dict[str, Any]) -> str | None:
    build = service.get("build")
    return str(Path(build["context"]) / build.get("dockerfile", "Dockerfile")) if build else None


def test_every_image_is_pinned_to_an_exact_version() -> None:
    compose_images = [s["image"] for s in yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
                      .values() if "image" in s]
    from_images = [m.group(1) for path in ("Dockerfile", "docker/pbx/Dockerfile", "docker/seaweedfs/Dockerfile")
                   for m in re.finditer(r"^FROM (\S+)", _dockerfile(Path(path)), re.M)]
    assert compose_images and from_images
    for image in compose_images + from_images:
        name, _, tag = image.partition(":")
        # a digest, or a tag naming an exact release (a patch version or a dated snapshot), never a moving one
        assert "@sha256:" in image or re.fullmatch(r"(\d+\.\d+(\.\d+)?|sid-\d{8})(-[a-z-]+)?", tag), image


def test_every_container_runs_unprivileged(compose: dict[str, Any]) -> None:
    services = compose["services"]
    service_dockerfile = _dockerfile(Path("Dockerfile"))
    uid = re.search(r"^ARG CALLGUARD_UID=(\d+)", service_dockerfile, re.M)
    gid = re.search(r"^ARG CALLGUARD_GID=(\d+)", service_dockerfile, re.M)
    assert uid and gid and int(uid.group(1)) >= 1000
    assert re.search(r"^USER callguard:callguard$", service_dockerfile, re.M)
    assert services["callguard"]["user"] == f"{uid.group(1)}:{gid.group(1)}"
    assert services["callguard"]["build"]["args"] == {"CALLGUARD_UID": uid.group(1), "CALLGUARD_GID": gid.group(1)}
    # the PBX shares the recordings directory with that group (not with root, not world-readable)
    assert services["pbx"]["environment"]["RECORDINGS_GID"] == gid.group(1)
    entrypoint = (ROOT / "docker" / "pbx" / "entrypoint.sh").read_text()
    assert 'chmod 2770 "${RECORDINGS_DIR}"' in entrypoint and "umask 0007" in entrypoint
    weed = _dockerfile(Path("docker/seaweedfs/Dockerfile"))
    assert re.search(r"^USER seaweed:seaweed$", weed, re.M) and "--uid 10002" in weed
    assert services["seaweedfs"]["user"] == "10002:10002"
    assert services["postgres"]["user"] == "postgres"
    assert all(str(s.get("user", "")).split(":")[0] not in ("0", "root") for s in services.values())


def test_every_service_has_a_health_check_and_the_service_waits_for_healthy(compose: dict[str, Any]) -> None:
    services = interpolate(compose["services"], ENV)
    for name, service in services.items():
        check = service["healthcheck"]
        assert check["test"][0] == "CMD" and check["retries"] >= 1, name
        image = _image_of(service)
        if image:  # the compose check is the image's own (the ingest role's: its own kind of it)
            own = _healthcheck_cmd(_dockerfile(Path(image))) + (["--ingest"] if name == "ingest" else [])
            assert check["test"][1:] == own, name
    assert services["callguard"]["depends_on"] == {
        other: {"condition": "service_healthy"} for other in ("pbx", "postgres", "seaweedfs")}
    assert services["postgres"]["healthcheck"]["test"][1] == "pg_isready"
    # the service's check is its own CLI, which reads the same settings as `serve`
    assert services["callguard"]["healthcheck"]["test"] == ["CMD", "python", "-m", "app", "healthcheck"]


def test_sdp_advertises_the_public_address_not_the_container(compose: dict[str, Any]) -> None:
    services = interpolate(compose["services"], ENV)
    pbx = services["pbx"]["environment"]
    assert pbx["EXTERNAL_MEDIA_ADDRESS"] == pbx["EXTERNAL_SIGNALING_ADDRESS"] == ENV["PBX_PUBLIC_ADDRESS"]
    subnet = compose["networks"]["callguard"]["ipam"]["config"][0]["subnet"]
    assert pbx["LOCAL_NET"] == subnet
    with pytest.raises(KeyError, match="PBX_PUBLIC_ADDRESS"):
        interpolate(compose["services"]["pbx"]["environment"], {k: v for k, v in ENV.items()
                                                                if k != "PBX_PUBLIC_ADDRESS"})
    template = (ROOT / "config" / "asterisk" / "pjsip.conf.tmpl").read_text()
    transport = template[template.index("[transport-udp]"):].split("\n\n")[0]
    for line in ("external_media_address = @@EXTERNAL_MEDIA_ADDRESS@@",
                 "external_signaling_address = @@EXTERNAL_SIGNALING_ADDRESS@@", "local_net = @@LOCAL_NET@@"):
        assert line in transport


def test_the_service_image_holds_every_package_the_web_assets_and_the_sip_extra() -> None:
    dockerfile = _dockerfile(Path("Dockerfile"))
    packages = sorted(p.name for p in ROOT.iterdir() if (p / "__init__.py").exists() and p.name not in
                      ("tests", "bench", "scripts", "docs"))
    copied = set(re.findall(r"^COPY (\w+)/ \1/$", dockerfile, re.M))
    assert set(packages) <= copied, f"not in the image: {sorted(set(packages) - copied)}"
    assert "COPY --from=web /src/web/dist/ web/dist/" in dockerfile
    assert re.search(r'pip install .*"\.\[sip\]"', dockerfile)
    pyproject = (ROOT / "pyproject.toml").read_text()
    include = re.search(r"^include = \[(.*)\]$", pyproject, re.M)
    assert include
    assert {f'"{p}*"' for p in packages} <= {s.strip() for s in include.group(1).split(",")}
