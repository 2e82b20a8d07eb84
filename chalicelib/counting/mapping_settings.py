"""The count function's stream mapping, and why each setting is what it is: the one place for both.

infra/deploy.py applies STREAM_MAPPING to the mapping `chalice deploy` creates, and
infra/stream-mapping.merge.json holds the same values for pipelines (tests hold all three equal, and
COUNT_FUNCTION_TIMEOUT_SECONDS equal to .chalice/config.json).

* ReportBatchItemFailures: the function answers a partly applied batch by naming its first unapplied
  record (counting/exactly_once.py), so Lambda resumes there instead of repeating the whole batch.
* BisectBatchOnFunctionError: a batch whose invocation fails (a timeout, a crash) is split so that one
  bad record cannot hold the others back. Splits change batch boundaries, which is harmless: counting is
  exactly once per statement, not per batch.
* MaximumRetryAttempts 10: then the mapping discards the batch (its shard and sequence numbers, nothing
  personal, go to the failure queue) and the shard moves on. Unlimited retries would stop counting of
  that shard for as long as the failure lasts (up to the stream's 24 hours).
* MaximumRecordAgeInSeconds 3600: a record older than an hour is discarded, not applied: a shard that
  stalled (throttled invocations) catches up at once. It also bounds how late a statement's record can
  still be applied (its age limit plus one invocation's timeout): after REPAIR_AFTER_SECONDS the
  scheduled repair counts a statement it finds uncounted without racing the stream, so its repairs
  are real ones. Exactness does not depend on it (a repair and a late record are the same no-op).
"""

from __future__ import annotations

MAXIMUM_RECORD_AGE_SECONDS = 3600
MAXIMUM_RETRY_ATTEMPTS = 10
COUNT_FUNCTION_TIMEOUT_SECONDS = 60
# Statements stored longer ago than this and still uncounted: their records were discarded.
REPAIR_AFTER_SECONDS = MAXIMUM_RECORD_AGE_SECONDS + COUNT_FUNCTION_TIMEOUT_SECONDS + 300

STREAM_MAPPING = {
    "FunctionResponseTypes": ["ReportBatchItemFailures"],
    "MaximumRetryAttempts": MAXIMUM_RETRY_ATTEMPTS,
    "MaximumRecordAgeInSeconds": MAXIMUM_RECORD_AGE_SECONDS,
    "BisectBatchOnFunctionError": True,
}
