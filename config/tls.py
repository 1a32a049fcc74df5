"""TLS contexts from configured files: the HTTPS server's and the AMI client's.

Both are built once at start-up (the settings validate them, so a missing or unreadable certificate, a key
that does not match it, or a bad CA file stops start-up with a message naming the file), never per connection.
"""

from __future__ import annotations

import ssl
from pathlib import Path

__all__ = ["TlsError", "client_context", "server_context"]


class TlsError(ValueError):
    """A certificate, key or CA file does not load."""


def server_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """A server context (TLS 1.2 or later) presenting ``cert_file`` with ``key_file``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert_file, key_file, password=_no_password)
    except _EncryptedKey:
        raise TlsError(f"key {key_file} is encrypted: give an unencrypted key, readable by the service only"
                       ) from None
    except (OSError, ssl.SSLError) as exc:
        raise TlsError(f"certificate {cert_file} with key {key_file} does not load: {_reason(exc)}") from None
    return context


def client_context(ca_file: Path | None, *, verify: bool = True) -> ssl.SSLContext:
    """A client context (TLS 1.2 or later) trusting ``ca_file`` (else the system's CAs); ``verify=False``
    accepts any certificate (encryption without authentication, for a lab only)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise TlsError(f"CA file {ca_file} does not load: {_reason(exc)}") from None
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class _EncryptedKey(Exception):
    pass


def _no_password() -> str:
    # an encrypted key would otherwise make OpenSSL prompt on the terminal at start-up
    raise _EncryptedKey


_REASONS = {"KEY_VALUES_MISMATCH": "the key does not belong to the certificate",
            "PEM_LIB": "not a PEM certificate and key", "NO_CERTIFICATE_OR_CRL_FOUND": "no PEM certificate in it"}


def _reason(exc: OSError) -> str:
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or ""
        if not reason and "PEM lib" in str(exc):
            reason = "PEM_LIB"
        return _REASONS.get(reason, reason or str(exc))
    return exc.strerror or str(exc)
