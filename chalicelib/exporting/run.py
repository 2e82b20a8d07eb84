"""An export run: plan it, export each Member State (the unit of fan-out), write the manifest.

* ``start`` plans the run once (the States that have statements, the part size, whether collection
  is still open) and says which States are still to do. Starting a run id again is safe: a
  finished run returns its manifest and writes nothing; an unfinished one reports what is left.
* ``export_unit`` exports one State, resuming from its progress. On AWS each State is one Lambda
  invocation, which stops cleanly before its time runs out and is invoked again to go on; locally
  and in tests the units run one after another in the same process.
* ``finish`` writes the manifest once every State is complete. Its content depends only on the
  stored progress, so two workers finishing at once write the same document. It signs it first
  (exporting.manifest_signature; one KMS call) and writes the signature before the manifest, so a run
  that has a manifest has its signature.

A worker holds a State by a lease in its progress document, so a second invocation for the same
State does not write the same parts at the same time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.exporting import layout
from chalicelib.exporting.manifest import build_manifest
from chalicelib.exporting.manifest_signature import sign_manifest
from chalicelib.exporting.member_state_export import export_member_state
from chalicelib.exporting.ports import CountSource, ExportFileStore, ManifestSigner, StatementOpener, StatementSource
from chalicelib.exporting.progress import MemberStateProgress, RunPlan
from chalicelib.exporting.retention import RetentionClock, RetentionOverError, retention_clock, retention_over_message
from chalicelib.initiative import Initiative
from chalicelib.rules.member_states import all_member_states

if TYPE_CHECKING:
    from chalicelib.console.health import RunSummaries

logger = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(minutes=16)  # longer than a Lambda invocation can live


class UnitBusyError(RuntimeError):
    """Another worker holds this Member State of this run."""


class RunNotFoundError(LookupError):
    """No run with this id has been started for the initiative."""


@dataclass(frozen=True)
class RunStatus:
    run_id: str
    pending: tuple[str, ...]  # Member States still to export
    manifest: dict[str, Any] | None  # set once the run is complete


class ExportRun:
    def __init__(
        self,
        initiative: Initiative,
        *,
        source: StatementSource,
        opener: Callable[[], StatementOpener],
        files: ExportFileStore,
        counts: CountSource,
        signer: Callable[[], ManifestSigner],
        max_statements_per_file: int,
        now: Callable[[], datetime],
        today: Callable[[], date],
        lease: timedelta = DEFAULT_LEASE,
        clock: Callable[[], RetentionClock] | None = None,
        summaries: RunSummaries | None = None,
    ) -> None:
        if max_statements_per_file < 1:
            raise ValueError("max_statements_per_file must be at least 1")
        self.initiative = initiative
        self._source = source
        self._opener = opener
        self._files = files
        self._counts = counts
        self._signer = signer
        self._max = max_statements_per_file
        self._now = now
        self._today = today
        self._lease = lease
        # The retention clock with the operator's records (submission, withdrawal, holds), read per unit.
        self._clock = clock if clock is not None else (lambda: retention_clock(initiative))
        # The organisers' dashboard reads a summary of each run (chalicelib/console/health.py), as its
        # plan, progress and manifest stand; the console cannot read those (the export key seals them).
        self._summaries = summaries

    # --- the run -------------------------------------------------------------------------------

    def start(self, run_id: str) -> RunStatus:
        """Plan the run (once) and report what is left; a finished run only returns its manifest."""
        layout.check_run_id(run_id)
        manifest = self.manifest(run_id)
        if manifest is not None:
            return RunStatus(run_id, (), manifest)
        plan = self.plan(run_id)
        if plan is None:
            clock = self._clock()
            if clock.due(self._today()):
                raise RetentionOverError(retention_over_message(self.initiative.id, clock))
            plan = self._new_plan(run_id)
            self._files.write_json(layout.plan_key(self.initiative.id, run_id), plan.to_json())
            self._summarise(plan)
        pending = tuple(code for code in plan.member_states if not self.progress(run_id, code).complete)
        if not pending:
            return RunStatus(run_id, (), self.finish(run_id))
        return RunStatus(run_id, pending, None)

    def _new_plan(self, run_id: str) -> RunPlan:
        counts = self._counts.counts(self.initiative.id)
        counted = {code for code, number in counts.items() if number > 0}
        # The counters may lag or be wrong: a State they miss is still exported if it has statements.
        unknown = [state.code for state in all_member_states() if state.code not in counted]
        states = counted | self._source.member_states_with_statements(self.initiative.id, unknown)
        return RunPlan(
            initiative_id=self.initiative.id,
            run_id=run_id,
            member_states=tuple(sorted(states)),
            max_statements_per_file=self._max,
            created_at=self._now(),
            collection_open=self.initiative.collecting_on(self._today()),
            counts_at_start={code: counts[code] for code in sorted(counts) if code in states},
        )

    def export_unit(self, run_id: str, member_state: str, should_stop: Callable[[], bool] = lambda: False) -> bool:
        """Export one Member State of a planned run; True once the State is complete."""
        plan = self.plan(run_id)
        if plan is None:
            raise RunNotFoundError(f"no export run {run_id!r} was started for {self.initiative.id}")
        if member_state not in plan.member_states:
            raise ValueError(f"{member_state} is not in the plan of run {run_id}")
        key = layout.progress_key(self.initiative.id, run_id, member_state)
        progress = self.progress(run_id, member_state)
        if progress.complete:
            return True
        # A run planned the day before must not decrypt on the due day: check before, and while, it reads.
        clock = self._clock()
        if clock.due(self._today()):
            raise RetentionOverError(retention_over_message(self.initiative.id, clock))
        moment = self._now()
        if progress.lease_until is not None and progress.lease_until > moment:
            raise UnitBusyError(f"{member_state} of run {run_id} is held by another worker until "
                                f"{progress.lease_until.isoformat()}")
        progress = replace(progress, lease_until=moment + self._lease)
        self._files.write_json(key, progress.to_json())

        def save(updated: MemberStateProgress) -> None:
            self._files.write_json(key, updated.to_json())

        try:
            current, finished = export_member_state(
                self.initiative, run_id, progress,
                max_statements_per_file=plan.max_statements_per_file,
                source=self._source, opener=self._opener(), files=self._files,
                save=save, should_stop=lambda: should_stop() or clock.due(self._today()),
            )
        except BaseException as error:
            # Give the State back at once; the parts recorded so far stay, the rest is done again.
            latest = self._files.read_json(key)
            if latest is not None:
                save(replace(MemberStateProgress.from_json(latest), lease_until=None))
            if isinstance(error, Exception):
                self._summarise(plan, failure=f"{member_state}: {type(error).__name__}")
            raise
        if finished:
            counter = self._counts.counts(self.initiative.id).get(member_state)
            current = replace(current, complete=True, counter=counter, completed_at=self._now())
        save(replace(current, lease_until=None))
        if not finished and clock.due(self._today()):
            raise RetentionOverError(retention_over_message(self.initiative.id, clock))
        return finished

    def finish(self, run_id: str) -> dict[str, Any] | None:
        """Write the manifest if every State is complete (and return it); None while some are not."""
        existing = self.manifest(run_id)
        if existing is not None:
            return existing
        plan = self.plan(run_id)
        if plan is None:
            raise RunNotFoundError(f"no export run {run_id!r} was started for {self.initiative.id}")
        progresses = [self.progress(run_id, code) for code in plan.member_states]
        if not all(progress.complete for progress in progresses):
            return None
        completed = [progress.completed_at for progress in progresses if progress.completed_at is not None]
        manifest = build_manifest(
            plan, progresses, self.initiative.registration_number, max(completed, default=plan.created_at)
        )
        signature = sign_manifest(manifest, self._signer())
        self._files.write_json(layout.signature_key(self.initiative.id, run_id), signature)
        self._files.write_json(layout.manifest_key(self.initiative.id, run_id), manifest)
        self._summarise(plan, manifest=manifest)
        return manifest

    def _summarise(self, plan: RunPlan, failure: str = "", manifest: dict[str, Any] | None = None) -> None:
        """Give the dashboard the run as it stands. Best effort: a summary not written never stops an export
        (the next step of the run writes it again; the manifest stays the record)."""
        if self._summaries is None:
            return
        from chalicelib.console.health import summary_of_run

        try:
            progresses = [] if manifest is not None else [self.progress(plan.run_id, code)
                                                          for code in plan.member_states]
            self._summaries.record_run(self.initiative.id, summary_of_run(plan, progresses, manifest, failure))
        except Exception as error:
            logger.warning("export run=%s: summary for the dashboard not written (%s)", plan.run_id,
                           type(error).__name__)

    def run_to_end(self, run_id: str, on_unit: Callable[[str], None] = lambda code: None) -> dict[str, Any]:
        """The whole run in this process, State after State (local runs, tests, benchmarks)."""
        status = self.start(run_id)
        for code in status.pending:
            on_unit(code)
            while not self.export_unit(run_id, code):
                pass
        manifest = self.finish(run_id)
        assert manifest is not None, "every planned State was completed above"
        return manifest

    # --- what is stored ----------------------------------------------------------------------------

    def plan(self, run_id: str) -> RunPlan | None:
        document = self._files.read_json(layout.plan_key(self.initiative.id, run_id))
        return RunPlan.from_json(document) if document is not None else None

    def progress(self, run_id: str, member_state: str) -> MemberStateProgress:
        document = self._files.read_json(layout.progress_key(self.initiative.id, run_id, member_state))
        if document is None:
            return MemberStateProgress(member_state)
        return MemberStateProgress.from_json(document)

    def manifest(self, run_id: str) -> dict[str, Any] | None:
        return self._files.read_json(layout.manifest_key(self.initiative.id, run_id))

    def signature(self, run_id: str) -> dict[str, Any] | None:
        return self._files.read_json(layout.signature_key(self.initiative.id, run_id))
