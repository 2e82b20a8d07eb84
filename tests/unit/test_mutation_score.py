"""make mutate's score: what a maintainer reads after a run, and when it says something needs doing."""

from __future__ import annotations

import pytest

from tests import mutation_score

SIGNING = "chalicelib.signing.fingerprint.x_fingerprint__mutmut_"


def _run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], codes: dict[str, int | None],
         explained: dict[str, str]) -> tuple[int, str]:
    monkeypatch.setattr(mutation_score, "results", lambda: codes)
    monkeypatch.setattr(mutation_score, "equivalents", lambda: explained)
    status = mutation_score.main(["signing"])
    return status, capsys.readouterr().out


def test_a_maintainer_sees_the_share_killed_leaving_out_explained_survivors(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    codes = {f"{SIGNING}1": 1, f"{SIGNING}2": 1, f"{SIGNING}3": 0, f"{SIGNING}4": None}

    status, out = _run(monkeypatch, capsys, codes, {f"{SIGNING}3": "the same codec"})

    assert status == 0
    assert "signing: 100.0% (2 of 2 mutants killed, 0 surviving, 1 equivalent, 1 not run yet)" in out


def test_an_unexplained_survivor_is_named_and_fails_the_run(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    status, out = _run(monkeypatch, capsys, {f"{SIGNING}1": 1, f"{SIGNING}2": 0}, {})

    assert status == 1
    assert f"surviving: {SIGNING}2 (survived)" in out


@pytest.mark.parametrize(("code", "says"), [(None, "name no mutant any more"), (1, "name a mutant a test kills")],
                         ids=["name-gone", "name-now-killed"])
def test_an_equivalence_line_that_explains_nothing_any_more_is_named_and_fails_the_run(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], code: int | None, says: str) -> None:
    codes: dict[str, int | None] = {f"{SIGNING}1": 1}
    if code is not None:
        codes[f"{SIGNING}2"] = code

    status, out = _run(monkeypatch, capsys, codes, {f"{SIGNING}2": "a reason written for another mutation"})

    assert status == 1
    assert says in out and f"{SIGNING}2" in out


def test_a_module_not_run_says_how_many_mutants_wait(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _, out = _run(monkeypatch, capsys, {f"{SIGNING}1": None, f"{SIGNING}2": None}, {})

    assert "signing: no results (2 mutants not run yet: run make mutate)" in out
