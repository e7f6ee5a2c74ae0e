"""One frozen settings object, read once from the environment at start-up.

Every field names the environment variable it comes from, so the README table
and the code cannot drift apart (`tests/unit/test_settings.py` checks that the
README documents each variable). Nothing deeper in the code reads `os.environ`:
commands build a `Settings` and pass it down.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlparse


class SettingsError(ValueError):
    """A setting has a value dorpspomp cannot use; the message says which and why."""


def _env(name: str, default: str | None, doc: str) -> Any:
    return field(metadata={"env": name, "default": default, "doc": doc})


@dataclass(frozen=True)
class Settings:
    """Everything a dorpspomp process needs to know about its surroundings."""

    home: Path = _env(
        "DORPSPOMP_HOME", "./.dorpspomp",
        "where local state lives (broker data, embedded warehouse, logs)",
    )
    kafka: str = _env("DORPSPOMP_KAFKA", "localhost:9092", "Kafka bootstrap servers")
    warehouse: str = _env(
        "DORPSPOMP_WAREHOUSE", "chdb://$DORPSPOMP_HOME/warehouse",
        "ClickHouse DSN: `chdb://PATH` embedded, `http(s)://user:pass@host:port/db` server",
    )
    warehouse_reader: str | None = _env(
        "DORPSPOMP_WAREHOUSE_READER", None,
        "server mode only: DSN of a read-only ClickHouse user for `dorpspomp sql` and the "
        "dashboard (default: the writer DSN, with readonly=1 on every query)",
    )
    roster: Path | None = _env(
        "DORPSPOMP_ROSTER", None, "path to the roster YAML (none: everyone gets `defaults`)",
    )
    database: str = _env(
        "DORPSPOMP_DATABASE", "dorpspomp",
        "ClickHouse database name (a database in an http DSN's path wins)",
    )
    events_topic: str = _env(
        "DORPSPOMP_EVENTS_TOPIC", "dorpspomp.events", "Kafka topic of mention and post events",
    )
    alerts_topic: str = _env("DORPSPOMP_ALERTS_TOPIC", "dorpspomp.alerts", "Kafka topic of alerts")
    topic_partitions: int = _env(
        "DORPSPOMP_TOPIC_PARTITIONS", "6",
        "partitions of the events topic when dorpspomp creates it (keyed by org_id)",
    )
    consumer_group: str = _env(
        "DORPSPOMP_GROUP", "dorpspomp-worker", "Kafka consumer group of the stream workers",
    )
    session_timeout: float = _env(
        "DORPSPOMP_SESSION_TIMEOUT", "10",
        "seconds after which Kafka gives a silent worker's partitions to another (or to its "
        "restarted self)",
    )
    worker_port: int = _env(
        "DORPSPOMP_WORKER_PORT", "6066",
        "port of the worker's web server (health, read-only query endpoint)",
    )
    dashboard_port: int = _env("DORPSPOMP_DASHBOARD_PORT", "8501", "port of the dashboard")
    dashboard_users: Path | None = _env(
        "DORPSPOMP_DASHBOARD_USERS", None,
        "path to the dashboard's users file (`dorpspomp users add`); none: no logins, and the "
        "dashboard listens on 127.0.0.1 only",
    )
    dashboard_address: str = _env(
        "DORPSPOMP_DASHBOARD_ADDRESS", "127.0.0.1",
        "address the dashboard listens on when there is a users file (e.g. `0.0.0.0`); "
        "without one it is always 127.0.0.1",
    )
    batch_size: int = _env(
        "DORPSPOMP_BATCH_SIZE", "20000", "most events a worker writes to the warehouse at once",
    )
    batch_seconds: float = _env(
        "DORPSPOMP_BATCH_SECONDS", "0.25",
        "longest a worker waits to fill a batch before it writes what it has, counted from "
        "its first event's arrival in Kafka",
    )
    decode_processes: int = _env(
        "DORPSPOMP_DECODE_PROCESSES", "1",
        "processes beside the worker that decode and label batches while the worker writes "
        "the one before (0: the worker does it itself, between writes)",
    )
    surge_process: int = _env(
        "DORPSPOMP_SURGE_PROCESS", "1",
        "1: the surge detector runs in a process of its own, at the same time as the response "
        "tracker; 0: in the worker's process, after it",
    )
    tracker_process: int = _env(
        "DORPSPOMP_TRACKER_PROCESS", "0",
        "1: the response tracker runs in a process of its own, while the worker inserts the "
        "batch; 0: in the worker's process",
    )
    lateness: int = _env(
        "DORPSPOMP_LATENESS", "86400",
        "seconds an open mention or an early reply is kept beyond its answer window, so that "
        "late data still pairs up; state older than that is dropped",
    )
    max_future: int = _env(
        "DORPSPOMP_MAX_FUTURE", "86400",
        "seconds an event's `created_at` may be ahead of the time Kafka received it (its "
        "message timestamp); an event further ahead goes to `dead_letters` "
        "(`future_timestamp`) instead of moving the clocks",
    )
    alert_webhook: str | None = _env(
        "DORPSPOMP_ALERT_WEBHOOK", None,
        "URL that receives every alert state as a Slack-compatible JSON POST (none: no webhook)",
    )
    alert_webhook_interval: float = _env(
        "DORPSPOMP_ALERT_WEBHOOK_INTERVAL", "300",
        "seconds between two webhook messages about one client: at most one message per client "
        "per interval, the newest state of each of its alerts (0: every state at once)",
    )
    query_timeout: float = _env(
        "DORPSPOMP_QUERY_TIMEOUT", "30", "time limit in seconds of a read-only query",
    )
    query_max_rows: int = _env(
        "DORPSPOMP_QUERY_MAX_ROWS", "1000000", "most rows a read-only query may return",
    )
    query_max_bytes: int = _env(
        "DORPSPOMP_QUERY_MAX_BYTES", "268435456",
        "most bytes of result a read-only query may return (256 MiB); a request may ask for "
        "less, never more",
    )
    query_max_memory: int = _env(
        "DORPSPOMP_QUERY_MAX_MEMORY", "1073741824",
        "most memory in bytes the engine may use for one read-only query (1 GiB); with "
        "DORPSPOMP_QUERY_SLOTS it bounds what reads can add to the worker that ingests",
    )
    query_slots: int = _env(
        "DORPSPOMP_QUERY_SLOTS", "2",
        "read-only queries the worker runs at once for client logins, and again as many for "
        "the agency and operators (a client's queries never hold up the agency's)",
    )
    client_query_slots: int = _env(
        "DORPSPOMP_CLIENT_QUERY_SLOTS", "1",
        "read-only queries one client login may have running at once; more are refused "
        "with a message until one ends",
    )
    login_token_hours: float = _env(
        "DORPSPOMP_LOGIN_TOKEN_HOURS", "12",
        "hours a dashboard sign-in stays valid before the login has to sign in again",
    )
    login_failures: int = _env(
        "DORPSPOMP_LOGIN_FAILURES", "5",
        "failed sign-ins for one login name (existing or not) within DORPSPOMP_LOGIN_WINDOW "
        "that lock the name for DORPSPOMP_LOGIN_LOCKOUT",
    )
    login_address_failures: int = _env(
        "DORPSPOMP_LOGIN_ADDRESS_FAILURES", "20",
        "failed sign-ins from one address within DORPSPOMP_LOGIN_WINDOW that lock the address "
        "for DORPSPOMP_LOGIN_LOCKOUT (0: no per-address limit)",
    )
    login_window: float = _env(
        "DORPSPOMP_LOGIN_WINDOW", "900", "seconds within which failed sign-ins are counted",
    )
    login_lockout: float = _env(
        "DORPSPOMP_LOGIN_LOCKOUT", "900",
        "seconds a locked name or address is refused, without its password being checked",
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from `environ` (default: the process environment).

        Keyword overrides win over the environment; they are how tests and
        sub-commands with flags pass values without touching `os.environ`.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in overrides:
                values[f.name] = overrides[f.name]
                continue
            name, default = f.metadata["env"], f.metadata["default"]
            raw = env.get(name) or default
            values[f.name] = raw
        home = Path(os.path.expanduser(str(values["home"]))).resolve()
        values["home"] = home
        if values["warehouse"] == "chdb://$DORPSPOMP_HOME/warehouse":
            values["warehouse"] = f"chdb://{home / 'warehouse'}"
        for name in ("roster", "dashboard_users"):
            if values[name] is not None:
                values[name] = Path(os.path.expanduser(str(values[name])))
        return cls(**{k: _coerce(cls, k, v) for k, v in values.items()}).validated()

    def validated(self) -> Settings:
        scheme = urlparse(self.warehouse).scheme
        if scheme not in ("chdb", "http", "https"):
            raise SettingsError(
                f"DORPSPOMP_WAREHOUSE={self.warehouse!r}: use chdb://PATH for the embedded "
                "warehouse or http(s)://user:pass@host:port/db for a ClickHouse server"
            )
        if self.roster is not None and not self.roster.is_file():
            raise SettingsError(
                f"DORPSPOMP_ROSTER={self.roster}: no such file; point it at your roster YAML "
                "or unset it to give every organisation the defaults"
            )
        if self.alert_webhook and urlparse(self.alert_webhook).scheme not in ("http", "https"):
            raise SettingsError(
                "DORPSPOMP_ALERT_WEBHOOK must be an http(s):// URL, "
                "e.g. a Slack incoming-webhook URL"
            )
        for name in ("batch_size", "worker_port", "dashboard_port", "topic_partitions",
                     "max_future"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{_env_name(name)} must be a positive number")
        for name in ("query_max_rows", "query_max_bytes", "query_max_memory", "query_slots",
                     "client_query_slots", "login_token_hours", "query_timeout"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{_env_name(name)} must be a positive number")
        for name in ("login_failures", "login_window", "login_lockout"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{_env_name(name)} must be a positive number")
        if not self.alert_webhook_interval >= 0:
            raise SettingsError("DORPSPOMP_ALERT_WEBHOOK_INTERVAL must be 0 (every alert state "
                                "at once) or a number of seconds")
        if self.surge_process not in (0, 1):
            raise SettingsError("DORPSPOMP_SURGE_PROCESS must be 1 (the surge detector in a "
                                "process of its own) or 0 (in the worker's process)")
        if self.tracker_process not in (0, 1):
            raise SettingsError("DORPSPOMP_TRACKER_PROCESS must be 1 (the response tracker in "
                                "a process of its own) or 0 (in the worker's process)")
        if self.decode_processes < 0:
            raise SettingsError("DORPSPOMP_DECODE_PROCESSES must be 0 (decode in the worker "
                                "itself) or a number of processes")
        if self.login_address_failures < 0:
            raise SettingsError("DORPSPOMP_LOGIN_ADDRESS_FAILURES must be 0 (no per-address "
                                "limit) or a positive number")
        return self

    @property
    def embedded(self) -> bool:
        """True when the warehouse is chDB inside the worker process."""
        return self.warehouse.startswith("chdb:")

    @property
    def warehouse_path(self) -> Path | None:
        if not self.embedded:
            return None
        parsed = urlparse(self.warehouse)
        return Path(parsed.netloc + parsed.path) if parsed.netloc else Path(parsed.path)

    @property
    def database_name(self) -> str:
        if not self.embedded:
            path = urlparse(self.warehouse).path.strip("/")
            if path:
                return path.split("/")[0]
        return self.database

    @property
    def worker_key_file(self) -> Path:
        """The worker's secret: the operator's key to `/query` and the key that signs sign-ins."""
        return self.home / "worker.key"

    @property
    def engine_config_dir(self) -> Path:
        """Where the embedded engine's config and row policies are written (orgscope)."""
        return self.home / "engine"

    @property
    def worker_file(self) -> Path:
        """Where a running worker announces its pid and web port."""
        return self.home / "worker.json"

    def environment(self) -> dict[str, str]:
        """These settings as the environment variables that give them back (unset ones left out),
        for a child process that must see exactly this configuration."""
        env = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                env[f.metadata["env"]] = str(value)
        return env


def _env_name(field_name: str) -> str:
    for f in fields(Settings):
        if f.name == field_name:
            return str(f.metadata["env"])
    raise KeyError(field_name)


def _coerce(cls: type[Settings], name: str, value: Any) -> Any:
    if value is None:
        return None
    kind = {f.name: f.type for f in fields(cls)}[name]
    try:
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{_env_name(name)}={value!r} is not a number") from None
    return value


def documented_variables() -> list[tuple[str, str | None, str]]:
    """(variable, default, meaning) for every setting, in declaration order."""
    return [(f.metadata["env"], f.metadata["default"], f.metadata["doc"]) for f in fields(Settings)]
