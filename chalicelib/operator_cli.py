"""The operator's tools for exports: ``python -m chalicelib.operator_cli COMMAND``.

    list                      the initiative's export runs, with their totals and reconciliation
    run [--run-id ID]         start an export run now (on AWS: the export function does it)
    download RUN [--to DIR]   fetch a run's signed manifest and files to DIR/RUN/, checking the signature
                              and each file's SHA-256
    verify RUN|DIR [--public-key PEM]
                              check the manifest's signature and the files against it (in S3, or a
                              downloaded run folder; with --public-key, offline)
    decrypt PATH [--private-key PEM] [--public-key PEM]
                              decrypt a file, or every file of a downloaded run, to XML beside it
    public-key [--to FILE]    the exporter's public signing key (PEM), for authorities to verify offline
    copies                    the copies download and decrypt wrote on this machine, with their due date
    destroy-copies [--run ID] delete those copies (all, or one run's), and record that they are gone
    retention                 the retention clock: when the statements are destroyed and why
    record-submission DATE    record the initiative's submission to the Commission (audited)
    record-withdrawal DATE    record its withdrawal (audited)
    hold-start REF DATE       record proceedings that need the statements kept (audited)
    hold-end REF DATE         record the proceedings' final decision (audited)

``--local`` works against the moto server of ``make run`` (http://127.0.0.1:5000, or ``--endpoint``), and
only if that server holds this checkout's system. Otherwise the usual AWS configuration applies, with names
derived from ``--stage``. Long operations show a progress bar on stderr when it is a terminal (tqdm); every
failure is one line, ``error: ...``, and exit status 1; a run whose counts differ from the counters exits 3,
one with statements left out 4 (after its summary).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from chalicelib.exporting import layout
from chalicelib.exporting.manifest import ManifestError, ManifestFile, manifest_files, reconciliation_lines

if TYPE_CHECKING:
    from chalicelib.config import Settings
    from chalicelib.jobs import Jobs
    from chalicelib.operator_copies import Copy, CopyRegister
    from chalicelib.storage.export_reading import ExportBucketReader, ExportKey

LOCAL_ENDPOINT = "http://127.0.0.1:5000"
XML_SUFFIX = ".xml"
# Exit statuses a script can test, besides 1 for an error (one line, `error: ...`). For these two the run
# itself is complete and its summary printed; the error line says what is wrong with it.
EXIT_COUNTS_DIFFER = 3  # the export and the counters differ (the manifest's mismatches)
EXIT_LEFT_OUT = 4  # statements could not be written (the manifest's left_out, by id)


class OperatorError(Exception):
    """A failure to report as one clear line."""


# --- progress -----------------------------------------------------------------------------------------


class ProgressBar:
    """A one-line progress bar on a terminal (tqdm); quiet when stderr is a file or a pipe (scripts, CI)."""

    def __init__(self, label: str, total: int, unit: str = "B", stream: TextIO | None = None) -> None:
        from tqdm import tqdm

        target = stream if stream is not None else sys.stderr
        self._bar = tqdm(
            total=max(total, 0), desc=label, unit=unit, unit_scale=unit == "B", unit_divisor=1000,
            file=target, disable=not target.isatty(), leave=True, dynamic_ncols=True, mininterval=0.1,
        )

    def advance(self, amount: int) -> None:
        self._bar.update(amount)

    def finish(self) -> None:
        self._bar.close()


# --- context: settings, initiative, bucket ---------------------------------------------------------


def stage_environment(stage: str) -> dict[str, str]:
    """The names a stage's functions use (as .chalice/config.json and infra/data.yaml give them)."""
    return {
        "ECI_STAGE": stage,
        "STATEMENTS_TABLE": f"eci-{stage}-statements",
        "COUNTERS_TABLE": f"eci-{stage}-counters",
        "STATEMENTS_KEY": f"alias/eci-{stage}-statements",
        "FINGERPRINT_KEY_PARAMETER": f"/eci/{stage}/fingerprint-key",
    }


@dataclass
class Context:
    settings: Settings
    jobs: Jobs
    out: TextIO

    @property
    def initiative_id(self) -> str:
        return self.jobs.initiative.id

    def reader(self) -> ExportBucketReader:
        from chalicelib.storage.export_reading import ExportBucketReader

        return ExportBucketReader(self.jobs.clients.s3, self.jobs.bucket)

    def manifest(self, run_id: str) -> dict[str, Any]:
        try:
            layout.check_run_id(run_id)
        except layout.RunIdError as error:
            raise OperatorError(str(error)) from None
        manifest = self.reader().read_json(layout.manifest_key(self.initiative_id, run_id))
        if manifest is None:
            plan = self.reader().read_json(layout.plan_key(self.initiative_id, run_id))
            if plan is not None:
                raise OperatorError(f"export run {run_id!r} of {self.initiative_id} has not finished yet (no manifest)")
            raise OperatorError(
                f"there is no export run {run_id!r} of {self.initiative_id} in bucket {self.jobs.bucket} "
                "(`list` shows the runs)"
            )
        return manifest

    def export_key(self, private_key: Path | None) -> ExportKey:
        from chalicelib.storage.export_reading import ExportKey, WrongKeyError

        if private_key is None:
            return ExportKey.kms(self.jobs._key_arn(self.settings.export_key), self.jobs.clients.botocore_session)
        try:
            return ExportKey.rsa_private(private_key.read_bytes())
        except OSError as error:
            raise OperatorError(f"cannot read the private key {private_key}: {error.strerror}") from None
        except WrongKeyError as error:
            raise OperatorError(str(error)) from None


def _check_local_system(endpoint: str, stage: str) -> None:
    """Refuse a moto server that is not this checkout's `make run`: never list, run or create anything there."""
    from chalicelib.config import PROJECT_ROOT
    from chalicelib.local.provision import local_system_owner

    try:
        owner = local_system_owner(endpoint, stage)
    except Exception:  # nothing answers, or not as moto does: one line for the operator
        raise OperatorError(f"no local system answers at {endpoint}: start `make run` in {PROJECT_ROOT}, "
                            "or give its address with --endpoint") from None
    if owner is None:
        raise OperatorError(f"{endpoint} is not a local system of this project (stage {stage}): start `make run` "
                            f"in {PROJECT_ROOT}, or give its address with --endpoint")
    if owner != str(PROJECT_ROOT):
        raise OperatorError(f"{endpoint} is the local system of {owner}, not of {PROJECT_ROOT}: give this "
                            "checkout's `make run` address with --endpoint")


def build_context(args: argparse.Namespace, out: TextIO) -> Context:
    from chalicelib.config import ConfigError, Settings
    from chalicelib.initiative import InitiativeFileError, load_initiative
    from chalicelib.jobs import Jobs

    environment = {**stage_environment(args.stage), **os.environ}
    if args.local:
        from chalicelib.local.moto_server import apply_environment, moto_environment
        from chalicelib.local.provision import provision

        apply_environment(moto_environment(args.endpoint))
        _check_local_system(args.endpoint, args.stage)
        try:
            # Idempotent: on the running `make run` it finds what is there and returns its names.
            environment = {**os.environ, **provision(args.endpoint, stage=args.stage)}
        except Exception as error:  # any failure to reach moto is one line for the operator
            raise OperatorError(f"cannot reach the local system at {args.endpoint} (is `make run` running?): "
                                f"{type(error).__name__}") from None
    if args.bucket:
        environment["EXPORT_BUCKET"] = args.bucket
    if environment.get("ECI_TODAY", "").strip() and not (args.local or environment.get("AWS_ENDPOINT_URL")):
        raise OperatorError("ECI_TODAY is for the local system and tests (--local, or AWS_ENDPOINT_URL naming "
                            "moto): on AWS the day is the day")
    try:
        settings = Settings.from_environ(environment)
        initiative = load_initiative(settings.initiative_file)
    except (ConfigError, InitiativeFileError) as error:
        raise OperatorError(str(error).splitlines()[0]) from None
    return Context(settings, Jobs(settings, initiative), out)


# --- commands ----------------------------------------------------------------------------------------


def command_list(context: Context, args: argparse.Namespace) -> int:
    reader = context.reader()
    runs = reader.run_ids(context.initiative_id)
    if not runs:
        context.out.write(f"no export runs of {context.initiative_id} in bucket {reader.bucket}\n")
        return 0
    for run_id in runs:
        manifest = reader.read_json(layout.manifest_key(context.initiative_id, run_id))
        if manifest is None:
            context.out.write(f"{run_id}  in progress\n")
            continue
        totals = manifest.get("totals", {})
        mismatches = ", ".join(manifest.get("mismatches", []))
        state = "reconciled" if manifest.get("reconciled") else f"MISMATCH in {mismatches}"
        context.out.write(
            f"{run_id}  complete  {totals.get('statements')} statements in {totals.get('files')} files, "
            f"{len(manifest.get('member_states', {}))} Member States, counts {state}\n"
        )
    return 0


def command_run(context: Context, args: argparse.Namespace) -> int:
    from chalicelib.console.records import VIA_OPERATOR, RunStarter
    from chalicelib.exporting.retention import RetentionOverError, retention_over_message
    from chalicelib.exporting.run import UnitBusyError

    run_id = args.run_id or layout.on_demand_run_id(context.jobs.now())
    try:
        layout.check_run_id(run_id)
    except layout.RunIdError as error:
        raise OperatorError(str(error)) from None
    existing = context.reader().read_json(layout.manifest_key(context.initiative_id, run_id)) if args.run_id else None
    if existing is not None:
        totals = existing.get("totals", {})
        context.out.write(f"run {run_id} was already complete: nothing new was written "
                          f"({totals.get('statements')} statements in {totals.get('files')} files)\n")
        return _report_reconciliation(context, existing)
    started_by = RunStarter(_operator_identity(context), "operator", VIA_OPERATOR)
    if context.settings.export_fan_out == "lambda":
        response = context.jobs.clients.lambda_.invoke(
            FunctionName=context.settings.export_worker_function,
            InvocationType="RequestResponse",
            Payload=json.dumps({"action": "start", "run_id": run_id,
                                "started_by": started_by.to_json()}).encode("utf-8"),
        )
        if response.get("FunctionError"):
            raise OperatorError(f"the export function failed to start run {run_id} (see its logs)")
        if json.loads(response["Payload"].read() or b"{}").get("retention_over"):
            raise OperatorError(retention_over_message(context.initiative_id, context.jobs.retention_clock()))
        context.out.write(f"run {run_id} started on AWS; `list` shows it once its manifest is written\n")
        return 0
    try:
        status = context.jobs.begin_run(run_id, started_by)
        bar = ProgressBar(f"export {run_id}", len(status.pending), unit="Member States")
        for code in status.pending:
            while not context.jobs.export_unit(run_id, code):
                pass
            bar.advance(1)
        bar.finish()
        manifest = context.jobs.run.finish(run_id)
    except (RetentionOverError, UnitBusyError) as error:
        raise OperatorError(str(error)) from None
    assert manifest is not None
    context.out.write(f"run {run_id}: {manifest['totals']['statements']} statements in "
                      f"{manifest['totals']['files']} files\n")
    return _report_reconciliation(context, manifest)


def _report_reconciliation(context: Context, manifest: Mapping[str, Any]) -> int:
    """The per-State lines on stdout; a difference or a left-out statement is an error line and a status."""
    for line in reconciliation_lines(manifest):
        context.out.write(f"  {line}\n")
    status = 0
    left_out = manifest.get("left_out") or []
    if left_out:
        listed = ", ".join(f"{entry.get('member_state')} {entry.get('statement_id')} ({entry.get('reason')})"
                           for entry in left_out)
        sys.stderr.write(f"error: {len(left_out)} statement(s) could not be exported and are left out of the "
                         f"files: {listed}\n")
        status = EXIT_LEFT_OUT
    if not manifest.get("reconciled"):
        moving = " (collection was open: counts may have moved)" if manifest.get("collection_open") else ""
        sys.stderr.write(f"error: the export and the counters differ for {', '.join(manifest['mismatches'])}"
                         f"{moving}\n")
        status = EXIT_COUNTS_DIFFER
    return status


def _files_of(manifest: Mapping[str, Any]) -> list[ManifestFile]:
    try:
        return manifest_files(manifest)
    except ManifestError as error:
        raise OperatorError(str(error)) from None


def _local_path(run_dir: Path, file: ManifestFile) -> Path:
    return run_dir / file.member_state / file.name


def _public_key(context: Context | None, args: argparse.Namespace) -> bytes:
    """The exporter's public signing key: from --public-key (offline), else from KMS."""
    if getattr(args, "public_key", None):
        try:
            return Path(args.public_key).read_bytes()
        except OSError as error:
            raise OperatorError(f"cannot read the public key {args.public_key}: {error.strerror}") from None
    if context is None:
        raise OperatorError("checking the manifest's signature needs the exporter's public key: give --public-key "
                            "PEM (the `public-key` command writes it)")
    from chalicelib.storage.manifest_signing import signing_public_key_pem

    return signing_public_key_pem(context.jobs.clients.kms, context.jobs._key_arn(context.settings.export_signing_key))


def _check_signature(manifest: Mapping[str, Any], signature: Mapping[str, Any] | None, public_key: bytes) -> None:
    from chalicelib.exporting.manifest_signature import ManifestSignatureError, verify_manifest

    try:
        verify_manifest(manifest, signature, public_key)
    except ManifestSignatureError as error:
        raise OperatorError(str(error)) from None


def command_download(context: Context, args: argparse.Namespace) -> int:
    from chalicelib.exporting.manifest_signature import manifest_bytes

    manifest = context.manifest(args.run)
    signature = context.reader().read_json(layout.signature_key(context.initiative_id, args.run))
    _check_signature(manifest, signature, _public_key(context, args))
    files = _files_of(manifest)
    run_dir = Path(args.to) / args.run
    run_dir.mkdir(parents=True, exist_ok=True)
    reader = context.reader()
    bar = ProgressBar(f"download {args.run}", sum(file.size for file in files))
    altered = []
    for file in files:
        digest = reader.download(file.key, _local_path(run_dir, file), bar.advance)
        if digest != file.sha256:
            altered.append(file.name)
    bar.finish()
    # The signed bytes themselves (exporting.manifest_signature): an authority can check them with openssl.
    (run_dir / layout.MANIFEST_NAME).write_bytes(manifest_bytes(manifest))
    (run_dir / layout.SIGNATURE_NAME).write_text(json.dumps(signature, indent=1, sort_keys=True), encoding="utf-8")
    _record_download(context, run_dir, args.run)
    if altered:
        raise OperatorError(
            f"{len(altered)} file(s) differ from the manifest (altered or damaged): {', '.join(altered)}"
        )
    context.out.write(f"{len(files)} files of run {args.run} in {run_dir}, each matching the manifest's SHA-256; "
                      "the manifest's signature holds\n")
    return _report_reconciliation(context, manifest)


def command_verify(context: Context | None, args: argparse.Namespace, out: TextIO) -> int:
    target = Path(args.target)
    if target.is_dir():
        manifest = _read_local_manifest(target / layout.MANIFEST_NAME)
        signature = _read_local_signature(target)
        _check_signature(manifest, signature, _public_key(context, args))
        files = _files_of(manifest)
        missing = [file.name for file in files if not _local_path(target, file).is_file()]
        if missing:
            raise OperatorError(f"{len(missing)} file(s) of the manifest are missing in {target}: {', '.join(missing)}")
        from chalicelib.storage.export_reading import file_sha256

        def digest_of(file: ManifestFile, advance: Callable[[int], None]) -> str:
            return file_sha256(_local_path(target, file), advance)
    else:
        if context is None:
            raise OperatorError(f"{target} is not a folder here, and no AWS context was built")
        manifest = context.manifest(args.target)
        signature = context.reader().read_json(layout.signature_key(context.initiative_id, args.target))
        _check_signature(manifest, signature, _public_key(context, args))
        files = _files_of(manifest)
        reader = context.reader()

        def digest_of(file: ManifestFile, advance: Callable[[int], None]) -> str:
            return reader.sha256(file.key, advance)

    bar = ProgressBar(f"verify {target.name}", sum(file.size for file in files))
    altered = [file.name for file in files if digest_of(file, bar.advance) != file.sha256]
    bar.finish()
    if altered:
        raise OperatorError(f"{len(altered)} of {len(files)} file(s) do not match the manifest's SHA-256 "
                            f"(altered or damaged): {', '.join(altered)}")
    out.write(f"the manifest's signature holds, and all {len(files)} files match its SHA-256\n")
    return 0


def _read_local_manifest(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OperatorError(f"there is no {layout.MANIFEST_NAME} in {path.parent}: download the run first") from None
    except (OSError, ValueError):
        raise OperatorError(f"{path} is not a readable manifest") from None
    if not isinstance(document, dict):
        raise OperatorError(f"{path} is not a manifest")
    return document


def _read_local_signature(run_dir: Path) -> dict[str, Any] | None:
    """The signature document beside a downloaded manifest; None if there is none (verify then refuses)."""
    path = run_dir / layout.SIGNATURE_NAME
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        raise OperatorError(f"{path} is not a readable signature") from None
    return document if isinstance(document, dict) else None


def command_decrypt(context: Context | None, args: argparse.Namespace, out: TextIO) -> int:
    from chalicelib.storage.export_reading import (
        ContextMismatchError,
        DamagedFileError,
        ExportKey,
        WrongKeyError,
        decrypt_file,
        file_sha256,
    )

    target = Path(args.path)
    if target.is_dir():
        run_dir = target
        manifest: dict[str, Any] | None = _read_local_manifest(run_dir / layout.MANIFEST_NAME)
        assert manifest is not None
        files = _files_of(manifest)
        jobs: list[tuple[Path, ManifestFile | None]] = [(_local_path(run_dir, file), file) for file in files]
    elif target.is_file():
        run_dir = target.parent.parent
        manifest = _read_local_manifest(run_dir / layout.MANIFEST_NAME) if (
            run_dir / layout.MANIFEST_NAME).is_file() else None
        listed = {file.name: file for file in _files_of(manifest)} if manifest is not None else {}
        if not listed:
            sys.stderr.write(f"warning: no manifest beside {target.name}: its hash and place are not checked\n")
        jobs = [(target, listed.get(target.name))]
    else:
        raise OperatorError(f"{target} does not exist")
    if manifest is not None:
        if args.public_key is None and context is None:
            sys.stderr.write("warning: the manifest's signature is not checked: give --public-key PEM to check it\n")
        else:
            _check_signature(manifest, _read_local_signature(run_dir), _public_key(context, args))
    if args.private_key is not None:
        try:
            key: ExportKey = ExportKey.rsa_private(Path(args.private_key).read_bytes())
        except OSError as error:
            raise OperatorError(f"cannot read the private key {args.private_key}: {error.strerror}") from None
        except WrongKeyError as error:
            raise OperatorError(str(error)) from None
    else:
        if context is None:
            raise OperatorError("decrypting with the KMS export key needs the AWS context")
        key = context.export_key(None)
    bar = ProgressBar(f"decrypt {target.name}", sum(path.stat().st_size for path, _ in jobs if path.is_file()))
    written = []
    failed: list[str] = []  # every bad file is reported at the end; the good ones are decrypted
    for path, file in jobs:
        if not path.is_file():
            failed.append(f"{path.name} is missing")
            continue
        if file is not None and file_sha256(path) != file.sha256:
            failed.append(f"{path.name} does not match the manifest's SHA-256: it was altered or damaged")
            continue
        xml_path = path.with_name(path.name.removesuffix(layout.FILE_SUFFIX) + XML_SUFFIX)
        try:
            xml_digest = decrypt_file(path, xml_path, key, file.context if file else None, bar.advance)
        except (WrongKeyError, DamagedFileError, ContextMismatchError) as error:
            failed.append(str(error))
            continue
        if file is not None and xml_digest != file.xml_sha256:
            xml_path.unlink()
            failed.append(f"the XML of {path.name} does not match the manifest: it was altered")
            continue
        written.append(xml_path)
    bar.finish()
    _record_plaintext(context, written, run_dir if target.is_dir() else target.parent.parent, args)
    for path in written:
        out.write(f"{path}\n")
    if failed:
        if len(jobs) == 1:
            raise OperatorError(failed[0])
        raise OperatorError(f"{len(failed)} of {len(jobs)} file(s) could not be decrypted: {'; '.join(failed)}")
    return 0


def command_public_key(context: Context, args: argparse.Namespace) -> int:
    """The exporter's public signing key as PEM, for an authority to check runs offline."""
    pem = _public_key(context, argparse.Namespace(public_key=None))
    if args.to:
        Path(args.to).write_bytes(pem)
        context.out.write(f"the public key that checks this stage's export manifests is in {args.to}\n")
    else:
        context.out.write(pem.decode("ascii"))
    return 0


# --- copies on this machine, and the retention clock's records (Art. 19 Reg. 2019/788) -----------------


def _register() -> CopyRegister:
    from chalicelib.operator_copies import CopyRegister, register_path

    return CopyRegister(register_path(os.environ))


def _today() -> date:
    from chalicelib.config import today_in_brussels

    return today_in_brussels()


def _record_download(context: Context, run_dir: Path, run_id: str) -> None:
    """The downloaded run is a copy: its folder carries the due date, and the register lists it."""
    from chalicelib.operator_copies import DOWNLOAD, write_notice

    clock = context.jobs.retention_clock()
    write_notice(run_dir, context.initiative_id, clock.due_on, clock.reason)
    _register().record(run_dir, DOWNLOAD, context.initiative_id, run_id, clock.due_on, context.jobs.now())
    context.out.write(f"destroy this copy before {clock.due_on} ({clock.reason}): `destroy-copies` does it\n")


def _record_plaintext(context: Context | None, written: Sequence[Path], run_dir: Path,
                      args: argparse.Namespace) -> None:
    """Every XML file written is plaintext on this machine: the register lists each, with its due date."""
    from chalicelib.jobs import utc_now
    from chalicelib.operator_copies import PLAINTEXT, notice_date

    if not written:
        return  # nothing was written in the clear: nothing to record or to destroy
    due = notice_date(run_dir)
    if due is None and context is not None:
        due = context.jobs.retention_clock().due_on
    manifest_path = run_dir / layout.MANIFEST_NAME
    initiative = context.initiative_id if context is not None else ""
    if not initiative and manifest_path.is_file():
        initiative = str(_read_local_manifest(manifest_path).get("initiative", ""))
    register = _register()
    for path in written:
        register.record(path, PLAINTEXT, initiative, run_dir.name, due, utc_now())
    if due is not None:
        sys.stderr.write(f"{len(written)} plaintext file(s) recorded: destroy them before {due} "
                         "(`destroy-copies`)\n")
    else:
        sys.stderr.write(f"{len(written)} plaintext file(s) recorded with no known due date: destroy them as "
                         "soon as they are not needed (`destroy-copies`)\n")


def _copies_follow_the_clock(context: Context) -> list[Copy]:
    """The register's copies of this initiative get the clock's due date, wherever the clock was moved from
    (this tool, another operator's, the organisers' console); the clock is read only if there are any."""
    from chalicelib.operator_copies import RegisterError

    register = _register()
    try:
        if not any(copy.initiative == context.initiative_id for copy in register.live()):
            return []
        clock = context.jobs.retention_clock()
        return register.follow_clock(context.initiative_id, clock.due_on, clock.reason)
    except RegisterError as error:
        sys.stderr.write(f"warning: {error}\n")
        return []
    except Exception as error:  # the clock could not be read: the command itself may still work
        sys.stderr.write(f"warning: the due date of the copies on this machine was not checked: {_describe(error)}\n")
        return []


def _warn_of_due_copies(args: argparse.Namespace) -> None:
    from chalicelib.operator_copies import RegisterError

    if args.command in OFFLINE_COMMANDS:
        return
    try:
        due = [copy for copy in _register().live() if copy.due(_today())]
    except RegisterError as error:
        sys.stderr.write(f"warning: {error}\n")
        return
    if due:
        sys.stderr.write(f"warning: {len(due)} copie(s) of statements on this machine are past their destruction "
                         "date (Art. 19 Reg. 2019/788): run `destroy-copies` now\n")


def command_copies(args: argparse.Namespace, out: TextIO) -> int:
    from chalicelib.operator_copies import RegisterError

    try:
        live = _register().live()
    except RegisterError as error:
        raise OperatorError(str(error)) from None
    if not live:
        out.write("no copies recorded on this machine\n")
        return 0
    today = _today()
    for copy in live:
        state = "PAST DUE, destroy now" if copy.due(today) else f"destroy before {copy.destroy_before or '?'}"
        gone = "" if Path(copy.path).exists() else " (no longer there)"
        out.write(f"{copy.path}  {copy.kind}, {copy.initiative} run {copy.run}: {state}{gone}\n")
    return 0


def command_destroy_copies(args: argparse.Namespace, out: TextIO) -> int:
    from chalicelib.jobs import utc_now
    from chalicelib.operator_copies import RegisterError

    register = _register()
    try:
        chosen = [copy for copy in register.live() if args.run is None or copy.run == args.run]
        if not chosen:
            out.write("no copies to destroy" + (f" of run {args.run}" if args.run else "") + "\n")
            return 0
        destroyed = register.destroy(chosen, utc_now())
    except RegisterError as error:
        raise OperatorError(str(error)) from None
    except OSError as error:
        raise OperatorError(f"cannot delete {error.filename}: {error.strerror}") from None
    for copy in destroyed:
        out.write(f"destroyed {copy.path}\n")
    out.write(f"{len(destroyed)} copie(s) destroyed and recorded in {register.path}\n")
    return 0


def command_retention(context: Context, args: argparse.Namespace) -> int:
    records = context.jobs.retention_records
    clock = context.jobs.retention_clock()
    today = context.jobs.today()
    if clock.held_by:
        state = "held: nothing is destroyed until one week after the final decision is recorded"
    else:
        state = "due: destroyed by the hourly purge" if clock.due(today) else f"{(clock.due_on - today).days} days left"
    context.out.write(f"{context.initiative_id}: statements destroyed on {clock.due_on}, {clock.reason} ({state})\n")
    for trigger in sorted(records.triggers(context.initiative_id), key=lambda trigger: trigger.recorded_at):
        reference = f" {trigger.reference!r}" if trigger.reference else ""
        context.out.write(f"  {trigger.kind}{reference} {trigger.day}, recorded {trigger.recorded_at.isoformat()} "
                          f"by {trigger.by}\n")
    record = records.purge_record(context.initiative_id)
    if record is not None:
        progress = f"completed {record['completed_at']}" if "completed_at" in record else "in progress"
        context.out.write(f"  purge {progress}: {sum(record['statements'].values())} statements, "
                          f"{record['markers']} duplicate markers, {record.get('export_objects', 0)} export objects, "
                          f"backups {', '.join(record.get('backups', [])) or 'none'}\n")
        if record.get("test_statements") or record.get("test_markers"):
            context.out.write(f"  and of the test phase: {sum(record['test_statements'].values())} statements, "
                              f"{record['test_markers']} duplicate markers\n")
        if record.get("found_later"):
            found = ", ".join(f"{name} {number}" for name, number in sorted(record["found_later"].items()))
            context.out.write(f"  found and destroyed after completion: {found}\n")
    return 0


def _operator_identity(context: Context) -> str:
    """Who runs this tool, as AWS knows them (the audit log and the retention records name them so)."""
    return str(context.jobs.clients.sts.get_caller_identity().get("Arn", "unknown"))


def _record_trigger(context: Context, kind: str, day_text: str, reference: str = "") -> int:
    from chalicelib.exporting.retention import TriggerRefusedError

    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        raise OperatorError(f"{day_text!r} is not a date (YYYY-MM-DD)") from None
    by = _operator_identity(context)
    try:
        clock = context.jobs.record_trigger(kind, day, reference, by)
    except TriggerRefusedError as refused:
        raise OperatorError(str(refused)) from None
    context.out.write(f"recorded {kind} {day} by {by}\n")
    held = f"; held by proceedings {', '.join(clock.held_by)}" if clock.held_by else ""
    context.out.write(f"statements of {context.initiative_id} are destroyed on {clock.due_on} ({clock.reason}){held}\n")
    moved = _copies_follow_the_clock(context)
    if moved:
        context.out.write(f"{len(moved)} copie(s) on this machine are now to be destroyed before {clock.due_on} "
                          "(`copies` lists them, `destroy-copies` deletes them)\n")
    return 0


def command_record_submission(context: Context, args: argparse.Namespace) -> int:
    from chalicelib.exporting.retention import SUBMITTED

    return _record_trigger(context, SUBMITTED, args.day)


def command_record_withdrawal(context: Context, args: argparse.Namespace) -> int:
    from chalicelib.exporting.retention import WITHDRAWN

    return _record_trigger(context, WITHDRAWN, args.day)


def command_hold_start(context: Context, args: argparse.Namespace) -> int:
    from chalicelib.exporting.retention import HOLD_STARTED

    return _record_trigger(context, HOLD_STARTED, args.day, args.reference)


def command_hold_end(context: Context, args: argparse.Namespace) -> int:
    from chalicelib.exporting.retention import HOLD_ENDED

    return _record_trigger(context, HOLD_ENDED, args.day, args.reference)


RETENTION_COMMANDS: dict[str, Callable[[Context, argparse.Namespace], int]] = {
    "retention": command_retention,
    "record-submission": command_record_submission,
    "record-withdrawal": command_record_withdrawal,
    "hold-start": command_hold_start,
    "hold-end": command_hold_end,
}
OFFLINE_COMMANDS: dict[str, Callable[[argparse.Namespace, TextIO], int]] = {
    "copies": command_copies,
    "destroy-copies": command_destroy_copies,
}


def _add_retention_commands(commands: Any) -> None:
    commands.add_parser("copies", help="copies of statements this tool wrote on this machine")
    destroy = commands.add_parser("destroy-copies", help="delete the recorded copies on this machine")
    destroy.add_argument("--run", help="only this run's copies (default: all)")
    commands.add_parser("retention", help="when the statements are destroyed, and why")
    for name, what in (("record-submission", "the day the initiative was submitted to the Commission"),
                       ("record-withdrawal", "the day the organisers withdrew the initiative")):
        command = commands.add_parser(name, help=f"record {what}")
        command.add_argument("day", metavar="DATE", help=f"{what} (YYYY-MM-DD)")
    for name, what in (("hold-start", "the day proceedings that need the statements began"),
                       ("hold-end", "the day of the proceedings' final decision")):
        command = commands.add_parser(name, help=f"record {what}")
        command.add_argument("reference", help="the proceedings' reference (a case number)")
        command.add_argument("day", metavar="DATE", help=f"{what} (YYYY-MM-DD)")


# --- entry point --------------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="python -m chalicelib.operator_cli",
        description="Export runs of statements of support: list, run, download, verify, decrypt, public-key.",
    )
    # A flag, not an option with an optional value: `--local run` must not read `run` as the address.
    main.add_argument("--local", action="store_true", help="use the moto server of `make run`")
    main.add_argument("--endpoint", default=LOCAL_ENDPOINT, metavar="URL",
                      help=f"with --local: the moto server's address ({LOCAL_ENDPOINT})")
    main.add_argument("--stage", default=os.environ.get("ECI_STAGE", "dev"), help="stage (dev)")
    main.add_argument("--bucket", help="export bucket (default: EXPORT_BUCKET, else the stage's bucket)")
    commands = main.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the initiative's export runs")
    run = commands.add_parser("run", help="start an export run now")
    run.add_argument("--run-id", help="the run's id (default: the time now); an existing id resumes that run")
    download = commands.add_parser("download", help="fetch a run's manifest and files")
    download.add_argument("run", help="the run id")
    download.add_argument("--to", default="exports", help="folder to put RUN/ in (exports)")
    download.add_argument("--public-key", metavar="PEM", help="the exporter's public key (default: from KMS)")
    verify = commands.add_parser("verify", help="check the manifest's signature and the files' SHA-256")
    verify.add_argument("target", help="a run id (checks the files in S3) or a downloaded run folder")
    verify.add_argument("--public-key", metavar="PEM",
                        help="the exporter's public key (`public-key` writes it): checks a folder offline")
    decrypt = commands.add_parser("decrypt", help="decrypt a file or a downloaded run folder to XML")
    decrypt.add_argument("path", help="an export file or a downloaded run folder")
    decrypt.add_argument("--private-key", help="an authority's RSA private key (PEM); default: the KMS export key")
    decrypt.add_argument("--public-key", metavar="PEM", help="the exporter's public key, to check the manifest")
    public_key = commands.add_parser("public-key", help="the exporter's public signing key (PEM), for authorities")
    public_key.add_argument("--to", metavar="FILE", help="write it to FILE (default: standard output)")
    _add_retention_commands(commands)
    return main


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    stream = out if out is not None else sys.stdout
    args = parser().parse_args(argv)
    try:
        return _dispatch(args, stream)
    except OperatorError as error:
        sys.stderr.write(f"error: {error}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 1
    except Exception as error:  # AWS failures as one line, never a stack trace
        sys.stderr.write(f"error: {_describe(error)}\n")
        return 1


def _dispatch(args: argparse.Namespace, out: TextIO) -> int:
    if args.command in OFFLINE_COMMANDS:
        return OFFLINE_COMMANDS[args.command](args, out)
    offline = (args.command == "verify" and Path(args.target).is_dir() and args.public_key is not None) or (
        args.command == "decrypt" and args.private_key is not None
    )
    context = None if offline else build_context(args, out)
    if context is not None:
        _copies_follow_the_clock(context)
    _warn_of_due_copies(args)
    if args.command == "verify":
        return command_verify(context, args, out)
    if args.command == "decrypt":
        return command_decrypt(context, args, out)
    assert context is not None
    commands: dict[str, Callable[[Context, argparse.Namespace], int]] = {
        "list": command_list, "run": command_run, "download": command_download, "public-key": command_public_key,
        **RETENTION_COMMANDS,
    }
    return commands[args.command](context, args)


def _describe(error: Exception) -> str:
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    if isinstance(error, NoCredentialsError):
        return "no AWS credentials (configure a profile, or use --local for `make run`)"
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"AWS refused {error.operation_name}: {details.get('Code', 'error')}"
    if isinstance(error, BotoCoreError):
        return f"cannot reach AWS: {type(error).__name__}"
    return f"{type(error).__name__} (no details are shown: they could hold data)"


if __name__ == "__main__":
    raise SystemExit(main())
