"""Run the benchmarks and print their figures: ``python -m bench`` (all), ``python -m bench count_batch post_path``
(only those named)."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from bench import (
    Figure,
    aws_calls,
    count_batch,
    count_lag,
    export_throughput,
    import_time,
    local_run,
    moto_process,
    moto_transactions,
    page_weight,
    post_path,
    progress,
)


def _print(figures: list[Figure]) -> None:
    for figure in figures:
        print(figure.line(), flush=True)


ALONE = {"import_time": import_time, "page_weight": page_weight, "count_lag": count_lag, "local_run": local_run,
         "moto_transactions": moto_transactions}
ON_MOTO = {"post_path": post_path, "aws_calls": aws_calls, "count_batch": count_batch,
           "export_throughput": export_throughput}


def main(names: Sequence[str] = ()) -> int:
    unknown = sorted(set(names) - set(ALONE) - set(ON_MOTO))
    if unknown:
        print(f"bench: no benchmark named {', '.join(unknown)}; there are {', '.join([*ALONE, *ON_MOTO])}",
              file=sys.stderr)
        return 2
    chosen = set(names) or set(ALONE) | set(ON_MOTO)
    started = time.perf_counter()
    # Fresh interpreters first, before this process points AWS SDKs at moto. In order: import_time and
    # page_weight in process (fakes), count_lag and local_run each on its own `make run`, moto_transactions
    # on moto's backend in process (its rollback against ours).
    for name, module in ALONE.items():
        if name in chosen:
            _print(module.figures())
    if chosen & set(ON_MOTO):
        with moto_process.moto_server() as moto:
            progress("provisioning infra/data.yaml on moto")
            settings = moto_process.provisioned_settings(moto)
            for name, module in ON_MOTO.items():
                if name in chosen:
                    _print(aws_calls.figures(moto, settings) if module is aws_calls else module.figures(settings))
    progress(f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
