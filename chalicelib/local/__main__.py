"""``python -m chalicelib.local`` (``make run``): the whole system locally, on moto, with no AWS account."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from chalicelib.config import PROJECT_ROOT
from chalicelib.local.moto_server import DEFAULT_PORT as DEFAULT_MOTO_PORT
from chalicelib.local.moto_server import PortInUseError
from chalicelib.local.provision import DEFAULT_STAGE
from chalicelib.local.runner import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_STATE_FOLDER, run_local
from chalicelib.local.state_file import LocalStateError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chalicelib.local",
        description="Run the ECI collection system locally: moto for AWS, Chalice's server for the app.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address the app listens on ({DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port of the app ({DEFAULT_PORT})")
    parser.add_argument(
        "--moto-port",
        type=int,
        default=DEFAULT_MOTO_PORT,
        help=f"port of the moto server ({DEFAULT_MOTO_PORT}; 0 picks a free one)",
    )
    parser.add_argument(
        "--stage", default=DEFAULT_STAGE, help=f"stage: resource names and Chalice config ({DEFAULT_STAGE})"
    )
    parser.add_argument("--project-dir", type=Path, default=PROJECT_ROOT, help="holds app.py and .chalice/")
    parser.add_argument("--state-dir", type=Path, default=None,
                        help=f"keep the data there across restarts (`make run` gives {DEFAULT_STATE_FOLDER}); "
                             "without it nothing is kept")
    parser.add_argument("--fresh", action="store_true", help="forget the kept data and start empty")
    args = parser.parse_args(argv)
    try:
        run_local(
            host=args.host,
            port=args.port,
            moto_port=args.moto_port,
            stage=args.stage,
            project_dir=args.project_dir.resolve(),
            state_dir=args.state_dir,
            fresh=args.fresh,
        )
    except (LocalStateError, PortInUseError) as error:
        print(f"make run: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
