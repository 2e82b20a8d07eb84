"""The copies of statements an operator's tool writes on their own machine, and their destruction.

`download` writes a run's encrypted files and `decrypt` writes plaintext XML: copies of statements in
the sense of Art. 19 Reg. 2019/788, which must be destroyed by the same day as the system's own. The
purge cannot reach a laptop, so the tool keeps a register of every path it wrote (a JSON file,
``ECI_OPERATOR_COPIES``, by default ``~/.eci-operator/copies.json``), writes the due date into each
downloaded run folder, moves that date whenever the retention clock moves (a withdrawal recorded after
the download), warns on every command once a recorded copy is due, and ``destroy-copies`` deletes what
the register lists and records that it did.

Deleting a file does not overwrite its blocks: on SSDs and copy-on-write or journalling file systems
no user-level overwrite can promise that either. The README asks for full-disk encryption on machines
that hold plaintext; this register makes sure no copy is forgotten.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from pathlib import Path

REGISTER_VARIABLE = "ECI_OPERATOR_COPIES"
NOTICE_PREFIX = "DESTROY-BEFORE-"

PLAINTEXT = "plaintext XML"
DOWNLOAD = "downloaded run (encrypted files and manifest)"


class RegisterError(RuntimeError):
    """The register cannot be read or written; the message names the file."""


def register_path(environ: Mapping[str, str]) -> Path:
    configured = environ.get(REGISTER_VARIABLE, "").strip()
    return Path(configured) if configured else Path.home() / ".eci-operator" / "copies.json"


@dataclass(frozen=True)
class Copy:
    path: str  # absolute
    kind: str  # PLAINTEXT or DOWNLOAD
    initiative: str
    run: str
    destroy_before: str  # ISO date: the first day on which it may no longer exist; "" if unknown
    written_at: str
    destroyed_at: str = ""

    def due(self, today: date) -> bool:
        return bool(self.destroy_before) and today >= date.fromisoformat(self.destroy_before)


class CopyRegister:
    """The register file: every copy written, and when it was destroyed. Nothing in it is personal."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def copies(self) -> list[Copy]:
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError):
            raise RegisterError(f"the register of copies {self.path} cannot be read") from None
        if not isinstance(document, dict) or not isinstance(document.get("copies"), list):
            raise RegisterError(f"the register of copies {self.path} is not one this tool wrote")
        try:
            return [Copy(**entry) for entry in document["copies"]]
        except TypeError:
            raise RegisterError(f"the register of copies {self.path} is not one this tool wrote") from None

    def _write(self, copies: list[Copy]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text(json.dumps({"copies": [asdict(copy) for copy in copies]}, indent=1),
                                 encoding="utf-8")
            os.replace(temporary, self.path)  # a crash leaves the old register or the new, never half of one
        except OSError as error:
            raise RegisterError(f"cannot write the register of copies {self.path}: {error.strerror}") from None

    def record(self, path: Path, kind: str, initiative: str, run: str, destroy_before: date | None,
               at: datetime) -> None:
        absolute = str(path.resolve())
        kept = [copy for copy in self.copies() if copy.path != absolute or copy.destroyed_at]
        kept.append(Copy(absolute, kind, initiative, run, destroy_before.isoformat() if destroy_before else "",
                         at.isoformat()))
        self._write(kept)

    def follow_clock(self, initiative: str, destroy_before: date, reason: str) -> list[Copy]:
        """Give the initiative's live copies the clock's due date, and their run folders its notice.

        A withdrawal, a submission or a hold's end recorded after a copy was written moves the day by
        which the system's statements go, and the copies must go with them: the date a copy was written
        with is no promise. Returns the copies whose date moved.
        """
        due = destroy_before.isoformat()
        copies = self.copies()
        moving = [index for index, copy in enumerate(copies)
                  if copy.initiative == initiative and not copy.destroyed_at and copy.destroy_before != due]
        if not moving:
            return []
        for index in moving:
            copies[index] = replace(copies[index], destroy_before=due)
        self._write(copies)
        moved = [copies[index] for index in moving]
        for copy in moved:
            if copy.kind == DOWNLOAD and Path(copy.path).is_dir():
                write_notice(Path(copy.path), initiative, destroy_before, reason)
        return moved

    def live(self) -> list[Copy]:
        return [copy for copy in self.copies() if not copy.destroyed_at]

    def destroy(self, chosen: list[Copy], at: datetime) -> list[Copy]:
        """Delete each chosen copy (a file, or a folder with everything in it); returns those destroyed."""
        paths = {copy.path for copy in chosen}
        destroyed = []
        for copy in chosen:
            target = Path(copy.path)
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            destroyed.append(copy)
        updated = [Copy(**{**asdict(copy), "destroyed_at": at.isoformat()}) if copy.path in paths
                   and not copy.destroyed_at else copy for copy in self.copies()]
        self._write(updated)
        return destroyed


def write_notice(run_dir: Path, initiative: str, destroy_before: date, reason: str) -> Path:
    """A file in the run folder whose name carries the due date, saying what to do and how."""
    for old in run_dir.glob(f"{NOTICE_PREFIX}*.txt"):
        old.unlink()
    notice = run_dir / f"{NOTICE_PREFIX}{destroy_before.isoformat()}.txt"
    notice.write_text(
        f"These files hold statements of support for the initiative {initiative}.\n"
        f"Art. 19 Regulation (EU) 2019/788: destroy them, and every copy (the decrypted XML above all), before\n"
        f"{destroy_before.isoformat()} ({reason}).\n\n"
        "  python -m chalicelib.operator_cli destroy-copies\n\n"
        "deletes every copy the operator tool recorded on this machine. Copies made by other means (a USB\n"
        "stick, an e-mail, a backup of this machine) must be destroyed by hand.\n",
        encoding="utf-8",
    )
    return notice


def notice_date(run_dir: Path) -> date | None:
    """The due date a downloaded run folder carries, if it has one."""
    for notice in run_dir.glob(f"{NOTICE_PREFIX}*.txt"):
        try:
            return date.fromisoformat(notice.name.removeprefix(NOTICE_PREFIX).removesuffix(".txt"))
        except ValueError:
            continue
    return None
