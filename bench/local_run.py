"""`make run` as it fills: POST time per statement, the process's memory, and a restart, at stored-statement sizes.

Starts the local system as `make run` does (``python -m chalicelib.local``, free ports, its own state
folder) and signs distinct made-up people over HTTP one after another as a browser would (form, then
POST), the first person signing again every WINDOW statements (a duplicate: a cancelled transaction on
moto, not counted, its time not measured). At each size it prints the median POST time of the last
WINDOW statements and the process's CPU time per statement over them (its pump and count function
included; what a busy machine disturbs least), each as a ratio to statements 101 to 200 of the same run
(the first hundred warm caches up; flat is about 1), and the process's resident memory, once the public
total equals the statements signed. After the last size it stops the system (which saves its state),
starts it again on the same ports and prints how long until it serves with the same total, beside the
first, empty start.

``make bench`` (and ``python -m bench.local_run``) prints both sizes, 1,000 and 10,000 statements (about
five minutes of it); ``python -m bench.local_run 1000`` only the first.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

from bench import BenchError, Figure, progress
from bench.identities import submission
from chalicelib.local.provision import DEFAULT_STAGE
from chalicelib.local.state_file import state_path
from chalicelib.local.system_process import LocalSystemError, free_port, running_local_system

DEFAULT_SIZES = (1_000, 10_000)
WINDOW = 100  # statements per median
FIRST_INDEX = 6_000_000  # made-up people no other benchmark uses
_COUNT_SECONDS = 120.0


def _post(url: str, index: int) -> float:
    """Sign as person `index`; return the seconds the POST took (the form's GET not included)."""
    code, fields = submission(index)
    with urllib.request.urlopen(f"{url}/sign/{code}?lang=en", timeout=30) as page:  # noqa: S310 - loopback
        token = re.search(rb'name="form_token" value="([^"]+)"', page.read())
    if token is None:
        raise BenchError(f"the form for {code} carries no token")
    body = urlencode({"form_token": token.group(1).decode(), "lang": "en", "homepage": "", **fields}).encode()
    request = urllib.request.Request(f"{url}/sign/{code}?lang=en", data=body, method="POST",  # noqa: S310
                                     headers={"content-type": "application/x-www-form-urlencoded"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as receipt:  # noqa: S310 - loopback only
        answer = receipt.read()
    elapsed = time.perf_counter() - started
    if b"receipt" not in answer:
        raise BenchError(f"made-up statement number {index} got no receipt")
    return elapsed


def _shown_total(url: str) -> int:
    with urllib.request.urlopen(url + "/counts.json", timeout=30) as response:  # noqa: S310 - loopback only
        return int(json.loads(response.read())["total"])


def _exact_total(url: str, expected: int) -> None:
    deadline = time.monotonic() + _COUNT_SECONDS
    while (shown := _shown_total(url)) != expected:
        if time.monotonic() > deadline:
            raise BenchError(f"{expected} statements signed, the public total shows {shown}")
        time.sleep(0.2)


def resident_mb(pid: int) -> float:
    """The process's resident set (VmRSS, Linux) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) the process has used so far (/proc/PID/stat, Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def figures(sizes: tuple[int, ...] = DEFAULT_SIZES) -> list[Figure]:
    if not sizes or min(sizes) <= 2 * WINDOW or any(size % WINDOW for size in sizes):
        raise BenchError(f"sizes must be multiples of {WINDOW} above {2 * WINDOW}")
    results: list[Figure] = []
    ports = (free_port(), free_port())
    with tempfile.TemporaryDirectory() as state_dir:
        try:
            started = time.monotonic()
            with running_local_system(state_dir=Path(state_dir), ports=ports) as system:
                results.append(Figure("local_run_start_seconds_empty", f"{time.monotonic() - started:.1f}", "s"))
                progress(f"local run: signing up to {max(sizes)} statements on {system.url}")
                times: list[float] = []
                cpu_at = {0: cpu_seconds(system.pid)}  # the process's CPU time after every WINDOW statements
                for size in sorted(sizes):
                    while len(times) < size:
                        times.append(_post(system.url, FIRST_INDEX + len(times)))
                        if len(times) % WINDOW == 1:
                            _post(system.url, FIRST_INDEX)  # the first person again: a cancelled transaction
                        if len(times) % WINDOW == 0:
                            cpu_at[len(times)] = cpu_seconds(system.pid)
                        if len(times) % 500 == 0:
                            progress(f"local run: {len(times)} statements signed")
                    _exact_total(system.url, size)
                    baseline = statistics.median(times[WINDOW:2 * WINDOW])
                    recent = statistics.median(times[-WINDOW:])
                    # CPU per statement (the pump's and count function's share included) is what a busy
                    # machine disturbs least: other processes lengthen the wall time, not this.
                    cpu_baseline = (cpu_at[2 * WINDOW] - cpu_at[WINDOW]) / WINDOW
                    cpu_recent = (cpu_at[size] - cpu_at[size - WINDOW]) / WINDOW
                    if not results[1:]:
                        results += [
                            Figure(f"local_run_post_ms_statements_{WINDOW + 1}_to_{2 * WINDOW}",
                                   f"{baseline * 1000:.1f}", "ms"),
                            Figure(f"local_run_cpu_ms_per_statement_{WINDOW + 1}_to_{2 * WINDOW}",
                                   f"{cpu_baseline * 1000:.1f}", "ms"),
                        ]
                    results += [
                        Figure(f"local_run_post_ms_at_{size}", f"{recent * 1000:.1f}", "ms"),
                        Figure(f"local_run_post_time_at_{size}_vs_at_{2 * WINDOW}", f"{recent / baseline:.2f}", "x"),
                        Figure(f"local_run_cpu_ms_per_statement_at_{size}", f"{cpu_recent * 1000:.1f}", "ms"),
                        Figure(f"local_run_cpu_per_statement_at_{size}_vs_at_{2 * WINDOW}",
                               f"{cpu_recent / cpu_baseline:.2f}", "x"),
                        Figure(f"local_run_resident_mb_at_{size}", f"{resident_mb(system.pid):.0f}", "MB"),
                    ]
                    for figure in results[-5:]:
                        progress(figure.line())
            saved = state_path(Path(state_dir), DEFAULT_STAGE).stat().st_size / 1e6
            results.append(Figure(f"local_run_state_file_mb_at_{max(sizes)}", f"{saved:.0f}", "MB"))
            progress("local run: stopped (state saved); starting it again on the same ports")
            started = time.monotonic()
            with running_local_system(state_dir=Path(state_dir), ports=ports) as system:
                serving = time.monotonic() - started
                _exact_total(system.url, max(sizes))
        except LocalSystemError as error:
            raise BenchError(str(error).splitlines()[0]) from None
    results.append(Figure(f"local_run_restart_seconds_at_{max(sizes)}", f"{serving:.1f}", "s"))
    return results


def main(argv: list[str]) -> None:
    sizes = tuple(int(argument) for argument in argv) or DEFAULT_SIZES
    for figure in figures(sizes):
        print(figure.line(), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
