"""moto's server in this process, and the environment that points boto3 and the encryption SDK at it."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
LOCAL_REGION = "eu-central-1"

# Variables that would steer botocore away from moto's test credentials.
_CREDENTIAL_OVERRIDES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


def moto_environment(endpoint_url: str, region: str = LOCAL_REGION) -> dict[str, str]:
    """What boto3, botocore and the encryption SDK need to talk to moto instead of AWS."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        # botocore 1.44 sends DynamoDB Streams calls to an account-based endpoint moto 5.2 does not serve.
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        # moto then checks the organisers' TOTP codes (against its one fixed secret: see the README).
        "MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP": "true",
    }


def apply_environment(environment: Mapping[str, str], target: MutableMapping[str, str] | None = None) -> None:
    """Set the variables (in os.environ unless told otherwise) and drop profile and session overrides."""
    if target is None:
        target = os.environ
    for name in _CREDENTIAL_OVERRIDES:
        target.pop(name, None)
    target.update(environment)


@dataclass
class RunningMotoServer:
    endpoint_url: str
    host: str
    port: int
    environment: dict[str, str]
    _stop: Callable[[], None]
    _stopped: bool = field(default=False, init=False)

    def stop(self) -> None:
        """Stop serving (idempotent); what moto holds stays in this process's memory."""
        if not self._stopped:
            self._stopped = True
            self._stop()


class PortInUseError(OSError):
    """A port the local system needs is taken: another server (often a second `make run`) listens there."""

    hint = ""

    def __init__(self, host: str, port: int, option: str) -> None:
        super().__init__(f"port {port} on {host} is in use (another `make run`?): stop it, or choose another "
                         f"with {option}{self.hint}")


class MotoPortInUseError(PortInUseError):
    """The requested port is taken; another moto (or anything else) is listening there."""

    hint = " (0 picks a free one)"  # moto's server reports the port it got; the app's does not


def check_port_free(host: str, port: int, error: type[PortInUseError], option: str) -> None:
    """Raise `error` if something listens on host:port. Binds with SO_REUSEADDR, as werkzeug and Python's
    HTTP server do, so that connections of a stopped run waiting out TIME_WAIT do not count as in use."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise error(host, port, option) from None


def start_moto_server(
    port: int = DEFAULT_PORT,
    host: str = DEFAULT_HOST,
    *,
    region: str = LOCAL_REGION,
    set_environment: bool = True,
    quiet: bool = True,
    keep_alive: bool = False,
) -> RunningMotoServer:
    """Start moto on host:port (port 0: any free port) in a daemon thread and wait until it listens.

    With set_environment, os.environ then points AWS SDKs at it. With quiet, moto's per-request log
    lines are silenced (the local runner would otherwise print one for every stream poll). With
    keep_alive (the local system), moto's application is served by cheroot instead of moto's own
    werkzeug server, which closes every connection after its response: each AWS call then opened a new
    one and left it in TIME_WAIT, hundreds a minute from the stream pump alone. cheroot keeps HTTP/1.1
    connections open, so the SDKs' connection pools reuse them.
    """
    from chalicelib.local import moto_rollback, moto_shard_iterators

    # Transactions that cost what they write, not the whole table; shard iterators that expire as on AWS,
    # not kept for ever (see each module's docstring).
    moto_rollback.install()
    moto_shard_iterators.install()
    if port:
        # ThreadedMotoServer would wait forever if its thread cannot bind: check first.
        check_port_free(host, port, MotoPortInUseError, "--moto-port")
    if quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    bound_host, bound_port, stop = _serve_keeping_connections(host, port) if keep_alive else _serve(host, port)
    endpoint_url = f"http://{bound_host}:{bound_port}"
    environment = moto_environment(endpoint_url, region)
    if set_environment:
        apply_environment(environment)
    return RunningMotoServer(
        endpoint_url=endpoint_url, host=bound_host, port=bound_port, environment=environment, _stop=stop
    )


def _serve(host: str, port: int) -> tuple[str, int, Callable[[], None]]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    return bound_host, bound_port, server.stop


# Requests served at once; more wait for a thread. Idle kept-alive connections hold none (cheroot
# watches them with a selector), and the local system's clients make a few calls at a time.
_KEEP_ALIVE_THREADS = 16


def _serve_keeping_connections(host: str, port: int) -> tuple[str, int, Callable[[], None]]:
    from cheroot import wsgi
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    # server_name: moto reads SERVER_NAME as werkzeug sets it (the address), not cheroot's default.
    server = wsgi.Server((host, port), DomainDispatcherApplication(create_backend_app),
                         numthreads=_KEEP_ALIVE_THREADS, server_name=host)
    server.prepare()  # binds (with SO_REUSEADDR) and listens before the address is handed out
    thread = threading.Thread(target=server.serve, name="moto-server", daemon=True)
    thread.start()
    bound_host, bound_port = server.bind_addr[:2]
    return str(bound_host), int(bound_port), server.stop
