"""`make run`'s kept state (chalicelib/local/state_file.py): a file it cannot use is refused, never half read."""

from __future__ import annotations

import pickle
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from chalicelib.config import PROJECT_ROOT
from chalicelib.local.state_file import LocalStateError, load_state, state_path
from chalicelib.local.system_process import free_port


def _written_by_another_moto(path: Path) -> None:
    with path.open("wb") as file:
        pickle.dump({"format": 1, "moto": "4.0.0"}, file)
        pickle.dump({"backends": {}, "pump_positions": {}}, file)


def test_a_state_file_of_another_moto_release_is_refused_with_how_to_start_fresh(tmp_path: Path) -> None:
    path = state_path(tmp_path, "dev")
    _written_by_another_moto(path)

    with pytest.raises(LocalStateError, match=r"written by moto 4\.0\.0.*make run FRESH=1"):
        load_state(path)


def test_a_file_that_is_not_a_state_file_is_refused(tmp_path: Path) -> None:
    path = state_path(tmp_path, "dev")
    path.write_text("not a pickle", encoding="utf-8")

    with pytest.raises(LocalStateError, match="is not a state file of make run"):
        load_state(path)


def test_no_state_file_is_a_first_start(tmp_path: Path) -> None:
    assert load_state(state_path(tmp_path, "dev")) is None


def test_make_run_with_an_unusable_state_says_so_in_one_line_and_exits_2(tmp_path: Path) -> None:
    _written_by_another_moto(state_path(tmp_path, "dev"))
    command = [sys.executable, "-m", "chalicelib.local", "--port", str(free_port()), "--moto-port", "0",
               "--state-dir", str(tmp_path)]
    finished = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,  # noqa: S603
                              check=False)

    assert finished.returncode == 2
    assert finished.stderr.strip().splitlines() == [
        f"make run: {state_path(tmp_path, 'dev')} was written by moto 4.0.0, this is moto "
        f"{version('moto')}: start fresh with `make run FRESH=1` "
        f"(or delete {state_path(tmp_path, 'dev')})"]
