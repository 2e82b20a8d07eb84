"""Benchmarks that print figures: ``python -m bench`` (``make bench``).

Each figure is one ``name: value unit`` line on stdout and nothing else goes there; progress goes
to stderr. Tests never assert on timings: this package measures, the tests check behaviour.

Kept import-light on purpose: the get-pages probe imports this package in the interpreter whose
modules it inspects.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    name: str
    value: str
    unit: str

    def line(self) -> str:
        return f"{self.name}: {self.value} {self.unit}"


class BenchError(RuntimeError):
    """A benchmark could not measure what it claims to (its messages carry no personal data)."""


def progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)
