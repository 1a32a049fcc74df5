"""Build and cache the PBX root filesystem (Debian sid + Asterisk) with debootstrap.

The rootfs lives outside the repository, in ``$CALLGUARD_PBX_ROOTFS_CACHE`` (default
``/var/cache/callguard``), named after a hash of the package list and this script's version, so
it is rebuilt only when either changes. It is built in a temporary directory and renamed into
place once complete; a lock file serialises concurrent builders. Blocking: call it from a thread.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

SUITE = "sid"
PACKAGES: tuple[str, ...] = ("asterisk", "asterisk-modules", "asterisk-config")
SCRIPT_VERSION = "1"
COMPLETE_MARKER = ".callguard-rootfs-complete"
DEFAULT_CACHE_PARENT = Path("/var/cache/callguard")
ASTERISK_BINARY = "usr/sbin/asterisk"
RUN_USER = "asterisk"  # created by the Debian package; Asterisk drops to it (-U/-G) after start-up


class RootfsBuildError(RuntimeError):
    """debootstrap (or installing it) failed."""


def run_ids(root: Path, user: str = RUN_USER) -> tuple[int, int]:
    """(uid, gid) of ``user`` and its group as the rootfs defines them (its /etc/passwd and /etc/group)."""
    uid = _id_of(root / "etc" / "passwd", user)
    gid = _id_of(root / "etc" / "group", user)
    if uid is None or gid is None:
        raise RootfsBuildError(f"the rootfs at {root} has no user and group {user!r}")
    return uid, gid


def _id_of(path: Path, name: str) -> int | None:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split(":")
        if len(fields) >= 3 and fields[0] == name and fields[2].isdigit():
            return int(fields[2])
    return None


def cache_parent() -> Path:
    """Directory holding cached root filesystems (env ``CALLGUARD_PBX_ROOTFS_CACHE`` overrides)."""
    override = os.environ.get("CALLGUARD_PBX_ROOTFS_CACHE")
    return Path(override) if override else DEFAULT_CACHE_PARENT


def rootfs_key() -> str:
    """Short hash identifying the rootfs contents (suite, package list, script version)."""
    spec = f"{SUITE}\n{','.join(sorted(PACKAGES))}\n{SCRIPT_VERSION}"
    return hashlib.sha256(spec.encode()).hexdigest()[:12]


def rootfs_path() -> Path:
    """Where the complete rootfs for the current package list lives (may not exist yet)."""
    return cache_parent() / f"pbx-rootfs-{rootfs_key()}"


def is_complete(path: Path) -> bool:
    """True if ``path`` is a finished rootfs (marker written after debootstrap succeeded)."""
    return (path / COMPLETE_MARKER).is_file() and (path / ASTERISK_BINARY).is_file()


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _ensure_debootstrap() -> str:
    found = shutil.which("debootstrap", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    if found:
        return found
    log.info("installing debootstrap with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", "debootstrap"]
    if subprocess.run(cmd, env=env, check=False, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=False, capture_output=True)
        result = subprocess.run(cmd, env=env, check=False, capture_output=True, text=True)
        if result.returncode != 0:
            raise RootfsBuildError(f"apt-get install debootstrap failed: {result.stderr[-2000:]}")
    found = shutil.which("debootstrap", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    if not found:
        raise RootfsBuildError("debootstrap not found after installing it")
    return found


def build_rootfs(*, force: bool = False) -> Path:
    """Return the path of a complete cached rootfs, building it first if needed (blocking, ~1 min)."""
    final = rootfs_path()
    if is_complete(final) and not force:
        return final
    parent = final.parent
    with _locked(parent / f"{final.name}.lock"):
        if is_complete(final) and not force:
            return final  # another builder finished while we waited for the lock
        # We hold the lock: any temp dir of this name is a dead builder's leftover.
        for stale in parent.glob(f"{final.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        debootstrap = _ensure_debootstrap()
        tmp = parent / f"{final.name}.tmp-{os.getpid()}"
        cmd = [debootstrap, "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(tmp)]
        log.info("building PBX rootfs: %s", " ".join(cmd))
        result = subprocess.run(cmd, check=False, capture_output=True, text=True)
        if result.returncode != 0 or not (tmp / ASTERISK_BINARY).is_file():
            tail = (result.stdout + result.stderr)[-3000:]
            shutil.rmtree(tmp, ignore_errors=True)
            raise RootfsBuildError(f"debootstrap failed (exit {result.returncode}):\n{tail}")
        (tmp / COMPLETE_MARKER).write_text(f"{rootfs_key()}\n", encoding="utf-8")
        if final.exists():  # force rebuild, or an incomplete dir from an older script
            old = parent / f"{final.name}.tmp-old-{os.getpid()}"
            final.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        tmp.rename(final)
        log.info("PBX rootfs ready at %s", final)
        return final
