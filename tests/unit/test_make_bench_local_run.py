"""`make bench` prints, on `make run`'s own system, the POST time and the process's memory at 1,000 and at
10,000 stored statements (issue #10: the local system must stay fast and small as it fills, and the
figures that show it come from `make bench`). The system is replaced by stand-ins here: this checks which
figures the benchmark prints by default, not their values."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bench import local_run


@dataclass
class _System:
    url: str = "http://127.0.0.1:1"
    pid: int = 1


def test_make_bench_prints_post_time_and_memory_of_make_run_at_1000_and_at_10000_statements(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    @contextlib.contextmanager
    def running(**_: Any) -> Iterator[_System]:
        yield _System()

    saved = tmp_path / "dev.state"
    saved.write_bytes(b"state")
    monkeypatch.setattr(local_run, "running_local_system", running)
    monkeypatch.setattr(local_run, "_post", lambda url, index: 0.01)
    monkeypatch.setattr(local_run, "_exact_total", lambda url, expected: None)
    ticks = iter(range(1, 1_000_000))
    monkeypatch.setattr(local_run, "cpu_seconds", lambda pid: float(next(ticks)))
    monkeypatch.setattr(local_run, "resident_mb", lambda pid: 300.0)
    monkeypatch.setattr(local_run, "state_path", lambda folder, stage: saved)

    printed = {figure.name for figure in local_run.figures()}

    for size in (1_000, 10_000):
        assert f"local_run_post_ms_at_{size}" in printed
        assert f"local_run_resident_mb_at_{size}" in printed
