"""Rootfs cache: atomic build, reuse, failure leaves nothing, concurrent builders build once.

A stand-in ``debootstrap`` script on PATH plays the real one (the real build takes a minute and is
exercised by every integration test run through ``build_rootfs``).
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from sandbox import rootfs

FAKE_DEBOOTSTRAP = """#!/bin/sh
# args: --variant=minbase --include=... sid DIR
echo run >> "{log}"
sleep 0.2
[ -n "$FAIL" ] && {{ echo "E: boom" >&2; exit 1; }}
dir="$4"
mkdir -p "$dir/usr/sbin" && echo fake > "$dir/usr/sbin/asterisk"
"""


@pytest.fixture
def fake_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "debootstrap"
    script.write_text(FAKE_DEBOOTSTRAP.format(log=tmp_path / "runs.log"))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    monkeypatch.setenv("CALLGUARD_PBX_ROOTFS_CACHE", str(tmp_path / "cache"))
    return tmp_path


def _runs(tmp: Path) -> int:
    log = tmp / "runs.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_key_depends_on_package_list(monkeypatch: pytest.MonkeyPatch) -> None:
    before = rootfs.rootfs_key()
    monkeypatch.setattr(rootfs, "PACKAGES", (*rootfs.PACKAGES, "sox"))
    assert rootfs.rootfs_key() != before


def test_build_then_reuse(fake_env: Path) -> None:
    path = rootfs.build_rootfs()
    assert path == fake_env / "cache" / f"pbx-rootfs-{rootfs.rootfs_key()}"
    assert rootfs.is_complete(path)
    assert rootfs.build_rootfs() == path
    assert _runs(fake_env) == 1
    assert not list((fake_env / "cache").glob("*.tmp-*"))


def test_failed_build_leaves_no_rootfs(fake_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIL", "1")
    with pytest.raises(rootfs.RootfsBuildError, match="boom"):
        rootfs.build_rootfs()
    assert not rootfs.rootfs_path().exists()
    assert not list((fake_env / "cache").glob("*.tmp-*"))


def test_incomplete_dir_is_rebuilt(fake_env: Path) -> None:
    half = rootfs.rootfs_path()
    (half / "usr").mkdir(parents=True)  # e.g. copied by hand, no completion marker
    assert not rootfs.is_complete(half)
    assert rootfs.is_complete(rootfs.build_rootfs())
    assert _runs(fake_env) == 1


def test_concurrent_builders_build_once(fake_env: Path) -> None:
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(rootfs.build_rootfs())) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1 and len(results) == 3
    assert _runs(fake_env) == 1


def test_run_ids_come_from_the_rootfs_own_passwd_and_group(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\nasterisk:x:101:102:PBX:/var/lib:/bin/false\n")
    (tmp_path / "etc" / "group").write_text("root:x:0:\naudio:x:29:asterisk\nasterisk:x:102:\n")
    assert rootfs.run_ids(tmp_path) == (101, 102)
    (tmp_path / "etc" / "group").write_text("root:x:0:\n")
    with pytest.raises(rootfs.RootfsBuildError, match="asterisk"):
        rootfs.run_ids(tmp_path)
