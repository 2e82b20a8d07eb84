"""Run every benchmark and print its figures: ``python -m bench``."""

from __future__ import annotations

import time

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


def main() -> None:
    started = time.perf_counter()
    # Fresh interpreters first, before this process points AWS SDKs at moto.
    _print(import_time.figures())
    _print(page_weight.figures())  # in process, on in-memory fakes
    _print(count_lag.figures())  # its own `make run`, with its own moto
    _print(local_run.figures())  # another `make run`, filled to 1,000 statements and restarted
    _print(moto_transactions.figures())  # in process, on moto's backend: its rollback against ours
    with moto_process.moto_server() as moto:
        progress("provisioning infra/data.yaml on moto")
        settings = moto_process.provisioned_settings(moto)
        _print(post_path.figures(settings))
        _print(aws_calls.figures(moto, settings))
        _print(count_batch.figures(settings))
        _print(export_throughput.figures(settings))
    progress(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
