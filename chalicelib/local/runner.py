"""The whole system on one machine: moto, the data template provisioned on it, the app on Chalice's server."""

from __future__ import annotations

import importlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from threading import Thread
from typing import TYPE_CHECKING

from chalicelib.config import PROJECT_ROOT, Settings
from chalicelib.local.moto_server import DEFAULT_PORT as DEFAULT_MOTO_PORT
from chalicelib.local.moto_server import PortInUseError, check_port_free, start_moto_server
from chalicelib.local.provision import DEFAULT_STAGE, provision

if TYPE_CHECKING:
    from types import FrameType

    from chalice.app import Chalice
    from chalice.config import Config

    from chalicelib.local.stream_pump import StreamPump

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_STATE_FOLDER = ".make-run"  # in the project, git-ignored
# Settings the person running the system chooses (`make run INITIATIVE_FILE=... ECI_TODAY=...`): they win
# over the stage's defaults in .chalice/config.json, so a tester or a test can run another initiative or
# another day.
PERSON_SETTINGS = ("INITIATIVE_FILE", "ECI_TODAY")
_WORKER_STOP_SECONDS = 5.0
# A pump in the middle of a batch finishes it before the state is saved (the count function's own timeout).
_PUMP_STOP_SECONDS = 60.0


def start_background_workers(
    app: Chalice, settings: Settings, pumps: list[StreamPump], stop: threading.Event
) -> list[Thread]:
    """Start what AWS runs beside the routes; return the started threads, which end once stop is set.

    On AWS, Lambda feeds the statements table's stream to the count handler and EventBridge fires the
    scheduled handlers (the recount, later export and purge). Locally nobody does, so the runner starts
    a stream pump (moto's DynamoDB stream into each stream handler of the app) and a scheduler.
    """
    from chalicelib.local.scheduler import start_scheduler
    from chalicelib.local.stream_pump import start_stream_pumps

    return [*start_stream_pumps(pumps, stop), *start_scheduler(app, settings.region, stop)]


def load_chalice_app(project_dir: Path) -> Chalice:
    """Import ``app`` from project_dir as Chalice does: project first on sys.path, vendor/ last."""
    from chalice.app import Chalice

    if str(project_dir) not in sys.path:
        sys.path.insert(0, str(project_dir))
    vendor_dir = project_dir / "vendor"
    if vendor_dir.is_dir() and str(vendor_dir) not in sys.path:
        sys.path.append(str(vendor_dir))
    module = importlib.import_module("app")
    app = getattr(module, "app", None)
    if not isinstance(app, Chalice):
        raise RuntimeError(f"{project_dir / 'app.py'} has no Chalice object named app")
    return app


def chalice_config(project_dir: Path, chalice_stage: str, app_loader: Callable[[], Chalice]) -> Config:
    """The stage's Chalice configuration from .chalice/config.json (empty if there is none yet)."""
    from chalice.config import Config

    config_file = project_dir / ".chalice" / "config.json"
    from_disk = json.loads(config_file.read_text(encoding="utf-8")) if config_file.is_file() else {}
    return Config(
        chalice_stage=chalice_stage,
        user_provided_params={"project_dir": str(project_dir), "chalice_app": app_loader},
        config_from_disk=from_disk,
    )


def run_local(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    moto_port: int = DEFAULT_MOTO_PORT,
    stage: str = DEFAULT_STAGE,
    project_dir: Path = PROJECT_ROOT,
    state_dir: Path | None = None,
    fresh: bool = False,
) -> None:
    """Start moto with the saved state, provision it, serve the app until Ctrl-C, save the state, stop.

    With a state_dir (`make run` gives project_dir/.make-run) the data is kept there across restarts, and
    fresh forgets it first; without one the run starts empty and keeps nothing (tests, the smoke check).
    """
    from chalice.local import create_local_server

    from chalicelib.local.state_file import load_state, remove_state, save_state, state_path
    from chalicelib.local.stream_pump import stream_pumps

    # Like `chalice local`: the app's log lines go to stdout as they would to CloudWatch.
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)  # not one line per client about credentials
    state = state_path(state_dir, stage) if state_dir is not None else None
    if fresh and state is not None:
        remove_state(state)
    if port:
        # Before moto starts and is provisioned: a second `make run` learns at once that the app's port is taken.
        check_port_free(host, port, PortInUseError, "--port")
    moto = start_moto_server(port=moto_port, keep_alive=True)
    try:
        loaded = load_state(state) if state is not None else None
        resources = provision(moto.endpoint_url, stage=stage)
        config = chalice_config(project_dir, stage, lambda: load_chalice_app(project_dir))
        # The stage's variables first, then the provisioned names over any AWS names they carry, then
        # what the person chose.
        chosen = {name: os.environ[name] for name in PERSON_SETTINGS if os.environ.get(name, "").strip()}
        os.environ.update(config.environment_variables)
        os.environ.update(resources)
        os.environ.update(chosen)
        os.environ["COUNT_REPORTS_ITEM_FAILURES"] = "true"  # the stream pump takes partial batch responses
        app = load_chalice_app(project_dir)
        settings = Settings.from_environ(os.environ)
        pumps = stream_pumps(app)
        for pump in pumps:
            pump.resume(loaded.pump_positions.get(pump.stream_arn, {}) if loaded else {})
        stop = threading.Event()
        workers = start_background_workers(app, settings, pumps, stop)
        server = create_local_server(app, config, host, port)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops as Ctrl-C does: the state is saved
        print(f"ECI app:      http://{host}:{port}/", flush=True)
        print(f"AWS on moto:  {moto.endpoint_url}", flush=True)
        if state is not None:
            print(f"State:        {state} ({'loaded' if loaded else 'new'}; saved when this stops; "
                  "`make run FRESH=1` starts empty)", flush=True)
        else:
            print("State:        in memory only (no --state-dir): nothing is kept when this stops", flush=True)
        print(f"Data:         {resources['STATEMENTS_TABLE']}, {resources['COUNTERS_TABLE']}", flush=True)
        print(f"Initiative:   {settings.initiative_file}", flush=True)
        if settings.today_setting is not None:
            print(f"Today:        {settings.today_setting} (ECI_TODAY)", flush=True)
        print(f"Exports:      {resources['EXPORT_BUCKET']}; export now with "
              f".venv/bin/python -m chalicelib.operator_cli --local --endpoint {moto.endpoint_url} run", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        try:
            server.server.serve_forever()
        except KeyboardInterrupt:
            print("\nStopping.", flush=True)
        finally:
            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second `kill` must not cut the save short
            stop.set()
            server.server.server_close()
            for worker in workers:
                worker.join(timeout=_PUMP_STOP_SECONDS if worker.name == "stream-pump" else _WORKER_STOP_SECONDS)
            moto.stop()  # nothing else writes while the state is saved (moto's data stays in memory)
            if state is not None:
                save_state(state, {pump.stream_arn: pump.positions() for pump in pumps})
                print(f"Saved:        {state}", flush=True)
    finally:
        moto.stop()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
