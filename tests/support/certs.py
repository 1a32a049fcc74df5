"""Throwaway self-signed certificates for TLS tests, made by the openssl command line (no Python package)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Cert:
    """A self-signed certificate (also its own CA) and its unencrypted key, PEM files."""

    cert: Path
    key: Path


def self_signed(directory: Path, name: str = "callguard-test", *, ips: tuple[str, ...] = ("127.0.0.1",),
                dns: tuple[str, ...] = ("localhost",)) -> Cert:
    """A P-256 certificate for ``ips`` and ``dns`` names, valid for one day."""
    openssl = shutil.which("openssl")
    assert openssl, "the openssl command is needed to make test certificates"
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    san = ",".join([*(f"IP:{ip}" for ip in ips), *(f"DNS:{d}" for d in dns)])
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "1", "-subj", f"/CN={name}", "-addext", f"subjectAltName={san}",
                    "-addext", "basicConstraints=critical,CA:TRUE", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return Cert(cert, key)
