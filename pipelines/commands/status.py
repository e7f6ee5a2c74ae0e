"""`dorpspomp status`: broker, worker, consumer lag and warehouse row counts.

Every part is probed on its own with a short timeout, so a dead broker still
gives a report that says what is up and what is not.
"""

from __future__ import annotations

from typing import Any

from pipelines.ingest import kafkaadmin
from pipelines.serving.readapi import WarehouseReader, running_worker, worker_health
from pipelines.settings import Settings
from schemas.tables import PUBLIC_TABLES


def broker_status(settings: Settings) -> dict[str, Any]:
    report: dict[str, Any] = {"bootstrap": settings.kafka, "reachable": False}
    try:
        consumer = kafkaadmin.offset_reader(settings.kafka, timeout=5.0)
    except kafkaadmin.BrokerUnavailable as exc:
        report["error"] = str(exc)
        return report
    try:
        report["reachable"] = True
        topics: dict[str, dict[str, Any] | None] = {}
        for topic in (settings.events_topic, settings.alerts_topic):
            ends = kafkaadmin.end_offsets(consumer, topic)  # {} for a missing topic
            topics[topic] = {"partitions": len(ends), "messages": sum(ends.values()),
                             "end_offsets": ends} if ends else None
        report["topics"] = topics
    finally:
        consumer.close()
    return report


def collect_status(settings: Settings) -> dict[str, Any]:
    report: dict[str, Any] = {"home": str(settings.home), "broker": broker_status(settings)}
    worker = running_worker(settings)
    health = worker_health(worker) if worker else None
    report["worker"] = (
        {"running": True, "pid": worker.pid, "url": worker.url, **(health or {})}
        if worker else {"running": False}
    )
    reader = WarehouseReader(settings)
    warehouse: dict[str, Any] = {"dsn": settings.warehouse if settings.embedded else "server",
                                 "via": reader.via()}
    try:
        counts = {}
        for table in PUBLIC_TABLES:
            result = reader.query(f"SELECT count() AS n FROM {table}")
            counts[table] = int(result.column("n")[0].as_py())
        warehouse["rows"] = counts
        written = reader.query(
            "SELECT partition, max(next_offset) AS next_offset FROM ingest_offsets "
            "WHERE consumer_group = {g:String} AND topic = {t:String} GROUP BY partition",
            {"g": settings.consumer_group, "t": settings.events_topic},
        ).to_pylist()
        warehouse["written_offsets"] = {int(r["partition"]): int(r["next_offset"]) for r in written}
    except Exception as exc:
        warehouse["error"] = str(exc).splitlines()[0]
    finally:
        reader.close()
    report["warehouse"] = warehouse
    topic = (report["broker"].get("topics") or {}).get(settings.events_topic)
    if topic and "written_offsets" in warehouse:
        lag = {p: end - warehouse["written_offsets"].get(p, 0)
               for p, end in topic["end_offsets"].items()}
        report["consumer_lag"] = {"total": sum(lag.values()), "per_partition": lag}
    return report


def format_status(report: dict[str, Any]) -> str:
    lines = []
    broker = report["broker"]
    if broker["reachable"]:
        topics = broker.get("topics") or {}
        parts = [f"{name}: " + (f"{t['partitions']} partitions, {t['messages']:,} messages"
                                if t else "missing") for name, t in topics.items()]
        lines.append(f"broker     up at {broker['bootstrap']} — " + "; ".join(parts))
    else:
        lines.append(f"broker     DOWN — {broker.get('error', 'unreachable')}")
    worker = report["worker"]
    if worker["running"]:
        extra = (f", {worker.get('events', 0):,} events in {worker.get('batches', 0):,} batches, "
                 f"last error: {worker.get('last_error') or 'none'}") if "events" in worker else \
            " (not answering on its web port)"
        lines.append(f"worker     running, pid {worker['pid']} at {worker['url']}{extra}")
        lines.extend(health_lines(worker))
    else:
        lines.append("worker     not running — start the stack with `dorpspomp up`")
    if "consumer_lag" in report:
        lines.append(f"lag        {report['consumer_lag']['total']:,} events not yet in the "
                     "warehouse")
    warehouse = report["warehouse"]
    if "rows" in warehouse:
        counts = ", ".join(f"{k} {v:,}" for k, v in warehouse["rows"].items())
        lines.append(f"warehouse  via {warehouse['via']}: {counts}")
    else:
        lines.append(f"warehouse  via {warehouse['via']}: {warehouse.get('error')}")
    return "\n".join(lines)


def health_lines(worker: dict[str, Any]) -> list[str]:
    """The worker's own judgement (/health): ok, or degraded with one line per reason."""
    status = worker.get("status")
    if status is None:
        return []
    if status == "ok":
        return ["health     ok"]
    reasons = worker.get("reasons") or ["(the worker gave no reason)"]
    return [f"health     {str(status).upper()}"] + [f"           - {r}" for r in reasons]
