"""`make run`'s data across restarts: moto's state written to a file when the local system stops, read at start.

What is kept: moto's DynamoDB tables (statements, counters, their stream), KMS keys (with their key material,
so what was encrypted before a restart decrypts after it), SSM parameters (the fingerprint key, so a second
signature after a restart is still a duplicate) and S3 buckets (exports), and where each stream pump had got
to, so a restart neither counts a record twice nor re-reads the whole stream. It is written once the app's
server and the pumps have stopped, so the file never holds half a delivery.

The file is a pickle of moto's own objects: it is trusted local state, written and read by this program only
(mode 0600, in a git-ignored folder). It holds moto's fake keys beside the data they encrypt: never put real
personal data into `make run`. A file written by another moto release or format is refused with a message
saying how to start fresh, never half read. Lost on a hard kill (the file is the state at the last stop).
"""

from __future__ import annotations

import os
import pickle
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

SAVED_SERVICES = ("dynamodb", "kms", "ssm", "s3")
_FORMAT = 1

# stream ARN -> shard id -> (sequence number, eventID) of the last record its pump delivered
PumpPositions = dict[str, dict[str, tuple[str, str | None]]]


class LocalStateError(RuntimeError):
    """The state file cannot be used; the message says why and how to start fresh."""


@dataclass(frozen=True)
class LoadedState:
    path: Path
    pump_positions: PumpPositions


def state_path(state_dir: Path, stage: str) -> Path:
    return state_dir / f"{stage}.state"


def save_state(path: Path, pump_positions: PumpPositions) -> None:
    """Write moto's state and the pumps' positions to path, atomically (a stop half way keeps the old file)."""
    backends = {
        service: {account: dict(dict.items(regions)) for account, regions in dict.items(_backends_of(service))}
        for service in SAVED_SERVICES
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".partial")
    with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as file:
        pickle.dump({"format": _FORMAT, "moto": version("moto")}, file)
        _StatePickler(file).dump({"backends": backends, "pump_positions": pump_positions})
    os.replace(temporary, path)


def load_state(path: Path) -> LoadedState | None:
    """Put the saved state into this process's moto; None if there is no file (a first start)."""
    if not path.is_file():
        return None
    fresh = f"start fresh with `make run FRESH=1` (or delete {path})"
    with path.open("rb") as file:
        try:
            header = pickle.load(file)  # noqa: S301 - our own state file, written by save_state
        except Exception:
            raise LocalStateError(f"{path} is not a state file of make run: {fresh}") from None
        if not isinstance(header, dict) or header.get("format") != _FORMAT or header.get("moto") != version("moto"):
            written_by = header.get("moto") if isinstance(header, dict) else "?"
            raise LocalStateError(
                f"{path} was written by moto {written_by}, this is moto {version('moto')}: {fresh}")
        try:
            saved: dict[str, Any] = pickle.load(file)  # noqa: S301 - as above
        except Exception as error:
            raise LocalStateError(f"{path} cannot be read ({type(error).__name__}): {fresh}") from None
    for service, accounts in saved["backends"].items():
        backend_dict = _backends_of(service)
        for account, regions in accounts.items():
            for region, backend in regions.items():
                dict.__setitem__(backend_dict[account], region, backend)
    return LoadedState(path, saved["pump_positions"])


def remove_state(path: Path) -> None:
    path.unlink(missing_ok=True)


def _backends_of(service: str) -> Any:
    """moto's BackendDict of a service: account id -> region -> backend (both dict subclasses)."""
    from moto.backends import get_backend

    backends: Any = get_backend
    return backends(service)


def _private_key(der: bytes) -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.load_der_private_key(der, None)


def _defaultdict_subclass(kind: type[defaultdict[Any, Any]], factory: Any, attributes: dict[str, Any],
                          items: dict[Any, Any]) -> defaultdict[Any, Any]:
    restored = kind.__new__(kind)
    defaultdict.__init__(restored, factory)
    vars(restored).update(attributes)
    restored.update(items)
    return restored


def _dict_of_dicts() -> defaultdict[Any, dict[Any, Any]]:
    return defaultdict(dict)


def _defaultdict_of_dicts(items: Mapping[Any, Any]) -> defaultdict[Any, defaultdict[Any, dict[Any, Any]]]:
    restored: defaultdict[Any, defaultdict[Any, dict[Any, Any]]] = defaultdict(_dict_of_dicts)
    restored.update(items)
    return restored


class _StatePickler(pickle.Pickler):
    """Pickles what moto holds and pickle alone cannot: KMS keys' private keys, SSM's dictionaries."""

    def reducer_override(self, obj: Any) -> Any:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec, rsa

        if isinstance(obj, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            der = obj.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
            return _private_key, (der,)
        if isinstance(obj, defaultdict) and type(obj) is not defaultdict:
            # SSM's ParameterDict: a defaultdict whose __init__ wants arguments pickle does not pass.
            return _defaultdict_subclass, (type(obj), obj.default_factory, dict(vars(obj)), dict(obj))
        if isinstance(obj, defaultdict) and getattr(obj.default_factory, "__name__", "") == "<lambda>":
            # SSM's resource tags: defaultdict(lambda: defaultdict(dict)), the only such one moto keeps here.
            probe = obj.default_factory() if obj.default_factory else None
            if isinstance(probe, defaultdict) and probe.default_factory is dict:
                return _defaultdict_of_dicts, (dict(obj),)
        return NotImplemented

