"""The mutation score per module, from the results `mutmut run` left in mutants/ (make mutate prints it).

A mutant is killed when a test failed (or timed out) with it; it survived when every test that calls the
mutated function passed, or when no unit test calls the function at all ("no tests"). A survivor that
no test could kill, because the mutant behaves as the code does for every input a person can give, is
listed with its reason in tests/mutation_equivalents.txt; such survivors are left out of the score, and
any other survivor is printed so that someone writes the test that kills it.

    python -m tests.mutation_score            # every module make mutate covers
    python -m tests.mutation_score signing    # one or more of the groups below
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "mutants"
EQUIVALENTS = ROOT / "tests" / "mutation_equivalents.txt"

# The modules where a bug hurts most, by the prefix of their mutants' names.
GROUPS = {
    "signing": "chalicelib.signing.",
    "exporting": "chalicelib.exporting.",
    "web.form_token": "chalicelib.web.form_token.",
    "web.headers": "chalicelib.web.headers.",
    "counting": "chalicelib.counting.",
}

# mutmut's exit codes (mutmut/stats.py): what the tests did with a mutant.
KILLED = {1, 3, 24, -24, 36, 152, 255, 37}  # a test failed, pytest broke, timed out, or the type check caught it
SURVIVED = {0}
NO_TESTS = {5, 33}


@dataclass
class Score:
    killed: int = 0
    equivalent: int = 0
    not_checked: int = 0
    survivors: list[str] = field(default_factory=list)

    @property
    def checked(self) -> int:
        return self.killed + self.equivalent + len(self.survivors)

    def line(self, name: str) -> str:
        if not self.checked:
            return f"{name}: no results ({self.not_checked} mutants not run yet: run make mutate)"
        counted = self.killed + len(self.survivors)
        percent = 100.0 * self.killed / counted if counted else 100.0
        extra = f", {self.not_checked} not run yet" if self.not_checked else ""
        return (f"{name}: {percent:.1f}% ({self.killed} of {counted} mutants killed, {len(self.survivors)} "
                f"surviving, {self.equivalent} equivalent{extra})")


def equivalents(path: Path = EQUIVALENTS) -> dict[str, str]:
    """Mutant name -> why it is equivalent, from lines `name  reason` ('#' starts a comment line)."""
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, reason = line.partition(" ")
            found[name] = reason.strip()
    return found


def results(directory: Path = RESULTS) -> dict[str, int | None]:
    """Each mutant's exit code, from mutmut's .meta files (None: not run yet)."""
    codes: dict[str, int | None] = {}
    for meta in sorted(directory.glob("chalicelib/**/*.py.meta")):
        codes.update(json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"])
    return codes


def scores(codes: dict[str, int | None], explained: dict[str, str]) -> dict[str, Score]:
    by_group = {group: Score() for group in GROUPS}
    for name, code in sorted(codes.items()):
        group = next((g for g, prefix in GROUPS.items() if name.startswith(prefix)), None)
        if group is None:
            continue
        score = by_group[group]
        if code is None:
            score.not_checked += 1
        elif code in KILLED:
            score.killed += 1
        elif name in explained:
            score.equivalent += 1
        elif code in SURVIVED or code in NO_TESTS:
            score.survivors.append(f"{name} ({'no tests' if code in NO_TESTS else 'survived'})")
        else:
            score.survivors.append(f"{name} (exit code {code}: suspicious)")
    return by_group


def main(arguments: list[str]) -> int:
    wanted = arguments or list(GROUPS)
    unknown = sorted(set(wanted) - set(GROUPS))
    if unknown:
        print(f"unknown module group(s) {unknown}; choose from {sorted(GROUPS)}", file=sys.stderr)
        return 2
    codes, explained = results(), equivalents()
    by_group = scores(codes, explained)
    stale = sorted(name for name in explained if name not in codes)
    unexplained = 0
    for group in wanted:
        score = by_group[group]
        print(score.line(group))
        for survivor in score.survivors:
            print(f"  surviving: {survivor}  (mutmut show {survivor.split()[0]})")
        unexplained += len(score.survivors)
    if stale:
        print(f"{len(stale)} line(s) of {EQUIVALENTS.name} name no mutant any more: {', '.join(stale[:5])}")
    # A listed mutant that a test now kills: its name has come to mean another mutation (the function
    # changed), or a test covers it now; either way its line no longer explains anything.
    killed = sorted(name for name in explained if codes.get(name) in KILLED)
    if killed:
        print(f"{len(killed)} line(s) of {EQUIVALENTS.name} name a mutant a test kills: {', '.join(killed[:5])}")
    states = Counter("killed" if c in KILLED else "other" for c in codes.values())
    print(f"mutants with results: {sum(states.values())}")
    return 1 if unexplained or stale or killed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
