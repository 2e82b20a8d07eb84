"""One Member State's statements -> decrypted -> XML support forms per language, in parts of at most N.

The unit of work of an export run. It streams: one statement is in memory at a time, each open part
holds only its writer's small buffers, and at most one part per form language is open. It records
each part in the State's progress as soon as the part is complete in the store, so a run that dies
resumes where it was (see exporting.progress), and it stops cleanly when asked (a Lambda's time
running out): it closes the open parts, records how far it scanned, and returns unfinished.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import replace

from chalicelib.exporting import layout
from chalicelib.exporting.ports import ExportFile, ExportFileStore, StatementOpener, StatementSource, StoredStatement
from chalicelib.exporting.progress import ExportedFile, LeftOut, MemberStateProgress, Position
from chalicelib.exporting.support_form import (
    Signature,
    SupportFormHeader,
    SupportFormWriter,
    UnwritableStatementError,
    signature_xml,
)
from chalicelib.initiative import Initiative
from chalicelib.signing.statement import PAYLOAD_VERSION
from chalicelib.signing.submit import encryption_context

logger = logging.getLogger(__name__)

BUCKETS = 16  # chalicelib.storage.statements.STATEMENT_BUCKETS; checked equal by a test
_STOP_CHECK_EVERY = 64  # statements between two looks at the clock


class ExportDataError(UnwritableStatementError):
    """A stored statement cannot be exported as it is; the message names the statement id, no content."""

    reason = "unreadable-payload"


class _OpenPart:
    """A part being written: the XML writer in front, the plaintext hash beside, the store behind."""

    def __init__(self, files: ExportFileStore, header: SupportFormHeader, key: str, part: int,
                 context: dict[str, str]) -> None:
        self.key = key
        self.language = header.language
        self.part = part
        self.context = context
        self.file: ExportFile = files.create(key, context, header.member_state)
        self.hasher = hashlib.sha256()
        self.last: Position | None = None
        self.writer = SupportFormWriter(self)
        self.writer.start(header)

    def write(self, data: bytes) -> None:
        self.hasher.update(data)
        self.file.write(data)

    def add(self, xml: bytes, position: Position) -> None:
        self.writer.add_xml(xml)
        self.last = position

    def close(self, member_state: str) -> ExportedFile:
        assert self.last is not None, "a part is opened for a statement, so it holds one"
        self.writer.finish()
        stored = self.file.close()
        return ExportedFile(
            key=self.key,
            member_state=member_state,
            language=self.language,
            part=self.part,
            statements=self.writer.signatures,
            size=stored.size,
            sha256=stored.sha256,
            xml_sha256=self.hasher.hexdigest(),
            readers=stored.readers,
            context=self.context,
            last=self.last,
        )


def signature_of(statement: StoredStatement, payload: bytes) -> Signature:
    """The XML signature of a statement, from its metadata and its decrypted payload."""
    try:
        document = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise ExportDataError(f"statement {statement.statement_id}: payload is not JSON") from None
    if not isinstance(document, dict) or document.get("v") != PAYLOAD_VERSION:
        raise ExportDataError(f"statement {statement.statement_id}: payload version is not {PAYLOAD_VERSION}")
    if document.get("ms") != statement.member_state:
        raise ExportDataError(f"statement {statement.statement_id}: sealed for another Member State")
    properties = document.get("properties")
    if not isinstance(properties, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in properties.items()
    ):
        raise ExportDataError(f"statement {statement.statement_id}: properties are not text")
    return Signature(statement.submitted_on, statement.statement_id, statement.annex_revision, properties)


def export_member_state(
    initiative: Initiative,
    run_id: str,
    progress: MemberStateProgress,
    *,
    max_statements_per_file: int,
    source: StatementSource,
    opener: StatementOpener,
    files: ExportFileStore,
    save: Callable[[MemberStateProgress], None],
    should_stop: Callable[[], bool] = lambda: False,
) -> tuple[MemberStateProgress, bool]:
    """Export what `progress` does not yet hold; returns the new progress and whether the scan finished."""
    if max_statements_per_file < 1:
        raise ValueError("max_statements_per_file must be at least 1")
    code = progress.member_state
    context = encryption_context(initiative.id)
    headers: dict[str, SupportFormHeader] = {}
    open_parts: dict[str, _OpenPart] = {}
    last_of: dict[str, Position] = {}  # language -> last position of its last recorded part, fixed for this pass
    for exported in progress.files:
        known = last_of.get(exported.language)
        last_of[exported.language] = exported.last if known is None else max(known, exported.last)
    resumed_from = progress.scanned_through
    scanned: Position | None = resumed_from

    def close_part(language: str) -> None:
        nonlocal progress
        part = open_parts.pop(language)
        progress = progress.with_file(part.close(code))
        save(progress)

    try:
        since_check = 0
        first_bucket = resumed_from.bucket if resumed_from else 0
        for bucket in range(first_bucket, BUCKETS):
            after = resumed_from.statement_id if resumed_from and bucket == resumed_from.bucket else None
            for statement in source.statements(initiative.id, code, bucket, after):
                position = Position(bucket, statement.statement_id)
                language = statement.form_language
                xml: bytes | None = None
                if not progress.already_exported(language, position, last_of.get(language)):
                    try:
                        xml = signature_xml(signature_of(statement, opener.open(statement.sealed, context)))
                    except UnwritableStatementError as error:
                        # One statement never stops a State's export: it is left out, named in the manifest
                        # by its id (the error's text names the field at most, never a value).
                        progress = progress.with_left_out(LeftOut(statement.statement_id, error.reason))
                        logger.warning("export run=%s state=%s: statement %s left out (%s)", run_id, code,
                                       statement.statement_id, error.reason)
                if xml is not None:
                    part = open_parts.get(language)
                    if part is None:
                        header = headers.get(language)
                        if header is None:
                            header = headers[language] = SupportFormHeader.for_initiative(initiative, code, language)
                        number = progress.next_part(language)
                        part = open_parts[language] = _OpenPart(
                            files, header, layout.file_key(initiative.id, run_id, code, language, number), number,
                            layout.file_context(initiative.id, run_id, code, language, number),
                        )
                    part.add(xml, position)
                    if part.writer.signatures >= max_statements_per_file:
                        close_part(language)
                scanned = position
                since_check += 1
                if since_check >= _STOP_CHECK_EVERY:
                    since_check = 0
                    if should_stop():
                        for language in sorted(open_parts):
                            close_part(language)
                        progress = replace(progress, scanned_through=scanned)
                        save(progress)
                        return progress, False
        for language in sorted(open_parts):
            close_part(language)
    except BaseException:
        for part in open_parts.values():
            part.file.abort()
        raise
    return replace(progress, scanned_through=scanned), True
