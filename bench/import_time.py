"""Cold-start cost of the one Lambda that serves every route: `import app`, and what GET pages import."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

from bench import BenchError, Figure, progress
from chalicelib.config import PROJECT_ROOT

IMPORT_RUNS = 15

# Timed inside the child, around the import only: interpreter start-up is not the app's to cut.
_TIME_IMPORT = "import time\nstart = time.perf_counter()\nimport app\nprint((time.perf_counter() - start) * 1000)\n"


def _stage_environment(stage: str = "dev") -> dict[str, str]:
    """The variables Lambda would set for the stage (.chalice/config.json), and nothing from AWS."""
    config = json.loads((PROJECT_ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    variables: dict[str, str] = {**config.get("environment_variables", {})}
    variables.update(config["stages"][stage].get("environment_variables", {}))
    kept = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TZ") if name in os.environ}
    return {**kept, **variables}


def _run_child(arguments: list[str]) -> str:
    # Our own interpreter with fixed arguments: no shell, no untrusted input.
    completed = subprocess.run(  # noqa: S603
        [sys.executable, *arguments],
        cwd=PROJECT_ROOT,
        env=_stage_environment(),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if completed.returncode != 0:
        raise BenchError(f"child {arguments[:2]} failed ({completed.returncode}): {completed.stderr.strip()[-400:]}")
    return completed.stdout.strip()


def import_app_ms(runs: int = IMPORT_RUNS) -> float:
    """Median wall time of `import app` over fresh interpreters (cached bytecode, as in a deployed package)."""
    _run_child(["-c", _TIME_IMPORT])  # warm-up: fills the OS file cache and writes any missing bytecode
    times = [float(_run_child(["-c", _TIME_IMPORT])) for _ in range(runs)]
    return statistics.median(times)


def get_pages_sdk_modules() -> int:
    """How many aws_encryption_sdk modules a fresh process holds after serving GET / and GET /sign/PL."""
    return int(_run_child(["-m", "bench.get_pages_probe"]))


def figures() -> list[Figure]:
    progress(f"timing `import app` in {IMPORT_RUNS} fresh interpreters")
    median_ms = import_app_ms()
    progress("serving GET pages in a fresh interpreter")
    modules = get_pages_sdk_modules()
    return [
        Figure("import_app_ms", f"{median_ms:.1f}", "ms"),
        Figure("get_pages_import_encryption_sdk", str(modules), "modules"),
    ]
