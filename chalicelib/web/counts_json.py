"""GET /counts.json: the figures of the initiative page as public JSON, the same in every language."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from chalicelib.counting.progress import Progress
from chalicelib.initiative import Initiative


def counts_json(initiative: Initiative, progress: Progress, read_at: float) -> str:
    """The document; `read_at` (seconds since the epoch) is when the counts were read from the store."""
    document = {
        "initiative": initiative.id,
        "registration_number": initiative.registration_number,
        "registration_date": initiative.registration_date.isoformat(),
        "collection_start": initiative.collection_start.isoformat(),
        "collection_end": initiative.collection_end.isoformat(),
        "days_left": progress.days_left,
        "total": progress.total,
        "goal": progress.goal,
        "member_states": [
            {"code": state.code, "count": state.count, "threshold": state.threshold, "reached": state.reached}
            for state in progress.member_states
        ],
        "states_reached": progress.states_reached,
        "states_needed": progress.states_needed,
        "as_of": datetime.fromtimestamp(read_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return json.dumps(document, separators=(",", ":"))
