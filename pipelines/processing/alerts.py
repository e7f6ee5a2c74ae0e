"""What an alert is, as every processor emits it and every outlet receives it.

An `Alert` is one state of one alert: the processors (responses: `sla_breach`, one
per organisation while its queue is past SLA, and `silent_org`; escalation:
`complaint_surge`) emit a new state whenever it changes; the warehouse keeps the
highest `version` per `alert_id` (the `alerts` view), the alerts topic gets each
state once and the webhook at most one per client and interval (`pipelines.processing.notify`).
Contents are a function of the events only — never of the wall clock or of batch
boundaries — so replaying the same events gives the same alerts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

KINDS = ("complaint_surge", "sla_breach", "silent_org")


@dataclass(frozen=True, slots=True)
class Alert:
    alert_id: str
    org_id: str
    kind: str
    status: str  # "open" or "resolved"
    opened_at: datetime
    resolved_at: datetime | None
    severity: float
    observed: float
    expected: float
    summary: str
    sample_event_ids: tuple[str, ...]
    updated_at: datetime  # the event time at which this state was reached
    version: int  # grows with every new state of the same alert
    retracted: bool = False  # late data showed there was no breach after all
    details: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def details_json(self) -> str:
        """`details` as the warehouse keeps it (the `alerts` table's `details` column): a
        JSON object, keys sorted, so that the same state is always the same text."""
        return orjson.dumps(self.details, option=orjson.OPT_SORT_KEYS).decode()

    @property
    def delivery_key(self) -> str:
        """Identifies this state of this alert, for exactly-once delivery."""
        return f"{self.alert_id}#{self.version}"

    def to_json(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "org_id": self.org_id,
            "kind": self.kind,
            "status": "retracted" if self.retracted else self.status,
            "opened_at": _iso(self.opened_at),
            "resolved_at": _iso(self.resolved_at) if self.resolved_at else None,
            "severity": self.severity,
            "observed": self.observed,
            "expected": self.expected,
            "summary": self.summary,
            "sample_event_ids": list(self.sample_event_ids),
            "updated_at": _iso(self.updated_at),
            "version": self.version,
            **({"details": self.details} if self.details else {}),
        }


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")
