"""`make test` on a fresh machine: the browser tests' Debian packages are installed, or named, never missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from chalicelib.config import PROJECT_ROOT

MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="make is not installed")


def _fake_bin(folder: Path, uid: int) -> Path:
    """`id` answering `uid`, and an apt-get that records what it was asked."""
    folder.mkdir()
    (folder / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    (folder / "apt-get").write_text(f'#!/bin/sh\necho "$@" >> {folder / "apt-get.log"}\n')
    for tool in ("id", "apt-get"):
        (folder / tool).chmod(0o755)
    return folder


def _system_deps(fake: Path, packages: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}
    return subprocess.run(  # noqa: S603 - make from PATH, the project's own Makefile
        [str(MAKE), "--no-print-directory", "-C", str(PROJECT_ROOT), "system-deps", f"SYSTEM_PACKAGES={packages}"],
        capture_output=True, text=True, env=environment, timeout=60, check=False,
    )


def test_as_root_the_missing_packages_are_installed_from_debian(tmp_path: Path) -> None:
    fake = _fake_bin(tmp_path / "bin", uid=0)

    done = _system_deps(fake, "sh no-such-browser-xyz")

    assert done.returncode == 0, done.stderr
    assert (fake / "apt-get.log").read_text().splitlines() == [
        "update -qq", "install -y -qq no-such-browser-xyz"]


def test_as_another_user_make_stops_naming_the_command(tmp_path: Path) -> None:
    fake = _fake_bin(tmp_path / "bin", uid=1000)

    done = _system_deps(fake, "no-such-browser-xyz")

    assert done.returncode != 0
    assert "the browser tests need Debian's no-such-browser-xyz: sudo apt-get install no-such-browser-xyz" in (
        done.stderr)
    assert not (fake / "apt-get.log").exists()


def test_nothing_is_installed_when_everything_is_there(tmp_path: Path) -> None:
    fake = _fake_bin(tmp_path / "bin", uid=0)

    done = _system_deps(fake, "sh")

    assert done.returncode == 0, done.stderr
    assert not (fake / "apt-get.log").exists()
