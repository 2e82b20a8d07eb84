"""The operator tool's progress bar: drawn on a terminal, silent in pipes and CI logs."""

from __future__ import annotations

import io

from chalicelib.operator_cli import ProgressBar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_pipe_or_ci_log_gets_no_progress_bar() -> None:
    stream = io.StringIO()
    bar = ProgressBar("download r1", 3_000_000, stream=stream)
    bar.advance(1_000_000)
    bar.finish()

    assert stream.getvalue() == ""


def test_a_terminal_sees_the_label_and_how_far_it_is() -> None:
    stream = Terminal()
    bar = ProgressBar("export r1", 4, unit="Member States", stream=stream)
    for _ in range(4):
        bar.advance(1)
    bar.finish()

    drawn = stream.getvalue()
    assert "export r1" in drawn and "100%" in drawn and "4/4" in drawn
