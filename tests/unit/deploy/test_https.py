"""HTTPS served natively: the real ``callguard serve`` with a throwaway certificate, reached over TLS only;
a certificate that does not load stops start-up with a message naming it."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import ConfigError, load_settings
from tests.support.certs import Cert, self_signed

ROOT = Path(__file__).resolve().parents[3]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD")}
    env.update({
        "PYTHONPATH": str(ROOT),
        "CALLGUARD__DATABASE__URL": f"sqlite+aiosqlite:///{tmp / 'svc.db'}",
        "CALLGUARD__SERVER__HOST": "127.0.0.1", "CALLGUARD__SERVER__PORT": "0",
        "CALLGUARD__PBX": json.dumps([{"name": "local", "ami_port": _closed_port()}]),  # no PBX: not needed here
        "CALLGUARD__RECORDINGS__SPOOL_DIR": str(tmp / "spool"), "CALLGUARD__RECORDINGS__MIN_FREE_BYTES": "0",
        "CALLGUARD__STORAGE__LOCAL_ROOT": str(tmp / "store"),
    })
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Cert:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def https_service(cert: Cert, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """The real service process with TLS on; yields where it listens (read from its start-up log line)."""
    tmp = tmp_path_factory.mktemp("svc")
    env = _env(tmp, CALLGUARD__SERVER__TLS_CERT_FILE=str(cert.cert), CALLGUARD__SERVER__TLS_KEY_FILE=str(cert.key))
    proc = subprocess.Popen([sys.executable, "-m", "app", "serve"], cwd=tmp, env=env, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stderr is not None
    try:
        seen = []
        for line in proc.stderr:  # until the service says where it listens (or exits)
            seen.append(line)
            found = re.search(r"listening on (\w+)://([\d.]+):(\d+)", line)
            if found:
                assert found.group(1) == "https"
                break
        else:
            pytest.fail("the service exited before listening:\n" + "".join(seen))
        yield found.group(2), int(found.group(3))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)


def test_the_service_answers_over_tls_verified_against_its_certificate(https_service: tuple[str, int],
                                                                       cert: Cert) -> None:
    host, port = https_service
    conn = http.client.HTTPSConnection(host, port, context=ssl.create_default_context(cafile=cert.cert), timeout=30)
    conn.request("GET", "/healthz")
    response = conn.getresponse()
    assert response.status == 200
    peer = conn.sock.getpeercert()
    assert peer is not None and ("IP Address", "127.0.0.1") in peer["subjectAltName"]
    assert conn.sock.version() in ("TLSv1.2", "TLSv1.3")
    conn.close()


def test_a_client_that_does_not_trust_the_certificate_is_refused(https_service: tuple[str, int]) -> None:
    host, port = https_service
    conn = http.client.HTTPSConnection(host, port, context=ssl.create_default_context(), timeout=30)
    with pytest.raises(ssl.SSLCertVerificationError):
        conn.request("GET", "/healthz")
    conn.close()


def test_plain_http_to_the_tls_port_gets_no_answer(https_service: tuple[str, int]) -> None:
    host, port = https_service
    conn = http.client.HTTPConnection(host, port, timeout=30)
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        conn.request("GET", "/healthz")
        conn.getresponse()
    conn.close()


def test_a_key_that_does_not_match_stops_start_up_with_a_clear_message(cert: Cert, tmp_path: Path) -> None:
    other = self_signed(tmp_path / "other", "other")
    env = _env(tmp_path, CALLGUARD__SERVER__TLS_CERT_FILE=str(cert.cert),
               CALLGUARD__SERVER__TLS_KEY_FILE=str(other.key))
    done = subprocess.run([sys.executable, "-m", "app", "serve"], check=False, cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert f"certificate {cert.cert} with key {other.key} does not load" in done.stderr
    assert "the key does not belong to the certificate" in done.stderr
    assert "listening" not in done.stderr


def test_bad_tls_files_are_refused_when_the_settings_load(cert: Cert, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"server\.tls_key_file: Path does not point to a file"):
        load_settings(None, server={"tls_cert_file": str(cert.cert), "tls_key_file": str(tmp_path / "missing")})
    with pytest.raises(ConfigError, match="given together"):
        load_settings(None, server={"tls_cert_file": str(cert.cert)})
    with pytest.raises(ConfigError, match="not a PEM certificate and key"):  # a key for a certificate
        load_settings(None, server={"tls_cert_file": str(cert.key), "tls_key_file": str(cert.key)})
    encrypted = tmp_path / "encrypted.key"
    subprocess.run(["openssl", "pkey", "-in", str(cert.key), "-aes256", "-passout", "pass:x", "-out", str(encrypted)],
                   check=True, capture_output=True)
    with pytest.raises(ConfigError, match="is encrypted"):
        load_settings(None, server={"tls_cert_file": str(cert.cert), "tls_key_file": str(encrypted)})
    settings = load_settings(None, server={"tls_cert_file": str(cert.cert), "tls_key_file": str(cert.key)})
    assert settings.server.tls_key_file == cert.key


def test_the_container_health_check_answers_over_tls(https_service: tuple[str, int], cert: Cert,
                                                     tmp_path: Path) -> None:
    host, port = https_service
    tls = {"CALLGUARD__SERVER__TLS_CERT_FILE": str(cert.cert), "CALLGUARD__SERVER__TLS_KEY_FILE": str(cert.key)}
    check = [sys.executable, "-m", "app", "healthcheck"]
    up = subprocess.run(check, check=False, cwd=tmp_path, capture_output=True, text=True, timeout=60,
                        env=_env(tmp_path, **tls, CALLGUARD__SERVER__HOST="0.0.0.0", CALLGUARD__SERVER__PORT=str(port)))
    assert up.returncode == 0, up.stderr
    down = subprocess.run(check, check=False, cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env=_env(tmp_path, **tls, CALLGUARD__SERVER__PORT=str(_closed_port())))
    assert down.returncode == 1 and "/healthz" in down.stderr
