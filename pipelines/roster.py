"""The roster: which client organisations exist, when they are open, and which accounts speak
for them (CONTRACT.md §2).

Every step downstream asks the roster two things: who owns the account a post came from
(`Roster.account_owner`), and what an organisation's clock looks like (`Roster.org(...)`
with its time zone, business hours and response SLA). An organisation that appears in
events but not in the roster gets the roster's `defaults`, so the roster is optional.

Business hours are a weekly wall-clock pattern in the organisation's own time zone. An
instant counts as business time when the organisation's wall clock reads a time inside
that day's hours; `business_seconds` measures how much of a real (UTC) interval does, so
daylight-saving days count the real seconds that passed, not the clock's. The arithmetic
lives in `pipelines.orgclock` (the one organisation clock: zone offsets, local time, open
time), exact to the microsecond; `BusinessHours` is the roster's form of it (parsing,
validation, the datetime questions) and hands out its `clock` for the hot paths.

Pure: the only I/O is `load_roster` reading its file.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from pipelines.orgclock import (
    BusinessClock,
    Interval,
    business_clock,
    instant,
    merge_intervals,
    micros,
    zone,
)

ORG_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,127}")
ROLES = ("official", "employee")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

_US = 1_000_000
_DAY_S = 86_400
_WEEK_S = 7 * _DAY_S


class RosterError(ValueError):
    """The roster cannot be used as written; the message names the file, org and field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


# -- durations ---------------------------------------------------------------

_DURATION = re.compile(
    r"(?:(?P<w>[0-9]+)\s*w)?\s*(?:(?P<d>[0-9]+)\s*d)?\s*(?:(?P<h>[0-9]+)\s*h)?\s*"
    r"(?:(?P<m>[0-9]+)\s*m)?\s*(?:(?P<s>[0-9]+)\s*s)?",
)
_UNIT_SECONDS = {"w": 7 * _DAY_S, "d": _DAY_S, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str | int) -> int:
    """Seconds in a duration such as "90s", "30m", "1h", "7d", "1h30m" or a plain 3600.

    Units go from large to small (w, d, h, m, s), each at most once; a bare number is seconds.
    """
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise ValueError(
            f"{text!r} is not a duration; write e.g. 90s, 30m, 1h, 1h30m, 7d or whole seconds"
        )
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"duration {text!r} is negative")
        return text
    cleaned = text.strip().lower()
    if re.fullmatch(r"[0-9]+", cleaned):
        return int(cleaned)
    match = _DURATION.fullmatch(cleaned)
    if not cleaned or match is None or not any(match.groupdict().values()):
        hint = " (durations cannot be negative)" if cleaned.startswith("-") else ""
        raise ValueError(
            f"{text!r} is not a duration{hint}; write e.g. 90s, 30m, 1h, 1h30m, 7d or whole "
            "seconds, units from large to small"
        )
    return sum(int(n) * _UNIT_SECONDS[unit] for unit, n in match.groupdict().items() if n)


def format_duration(seconds: int) -> str:
    """The shortest spelling of a duration that `parse_duration` reads back: 5400 -> "1h30m"."""
    if seconds == 0:
        return "0s"
    parts = []
    for unit in ("d", "h", "m", "s"):
        n, seconds = divmod(seconds, _UNIT_SECONDS[unit])
        if n:
            parts.append(f"{n}{unit}")
    return "".join(parts)


# -- business hours --------------------------------------------------------------

_RANGE = re.compile(r"([0-9]{1,2}):([0-9]{2})\s*-\s*([0-9]{1,2}):([0-9]{2})")


def _hhmm(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def _parse_day(day: str, value: Any) -> tuple[Interval, ...]:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "closed")):
        return ()
    if isinstance(value, str):
        pieces = value.split(",")
    elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        pieces = [p for v in value for p in v.split(",")]
    else:
        raise ValueError(
            f"{day} {value!r} is not HH:MM-HH:MM; write the hours as a quoted string, "
            'e.g. "09:00-17:00" or "08:30-12:00,13:00-17:00"'
        )
    intervals = []
    for piece in pieces:
        text = piece.strip()
        match = _RANGE.fullmatch(text)
        if match is None:
            raise ValueError(f"{day} {text!r} is not HH:MM-HH:MM")
        oh, om, ch, cm = (int(g) for g in match.groups())
        for h, m, is_close in ((oh, om, False), (ch, cm, True)):
            if m > 59 or h > 24 or (h == 24 and (m or not is_close)):
                raise ValueError(
                    f"{day} {text!r}: {h:02d}:{m:02d} is not a time of day "
                    f"(00:00-23:59, and 24:00 as a closing time)"
                )
        opens, closes = oh * 3600 + om * 60, ch * 3600 + cm * 60
        if closes <= opens:
            raise ValueError(
                f"{day} {text!r} closes before it opens; hours past midnight go on two days, "
                f"e.g. {day} '{_hhmm(opens)}-24:00' and the next day '00:00-{_hhmm(closes)}'"
            )
        intervals.append((opens, closes))
    return merge_intervals(intervals)


def _day_key(key: Any) -> str:
    name = str(key).strip().lower()
    if name in DAYS:
        return name
    if name in _FULL_DAY_NAMES:
        return DAYS[_FULL_DAY_NAMES.index(name)]
    raise ValueError(f"unknown day {key!r}; use {', '.join(DAYS)}")


@dataclass(frozen=True)
class BusinessHours:
    """When an organisation is open: a weekly wall-clock pattern in its IANA time zone.

    `week[i]` holds the open intervals of weekday i (0 = Monday) in seconds after local
    midnight, sorted and merged; a day without intervals is closed. An instant is business
    time when the local wall clock reads a time inside that local day's intervals, so on a
    spring-forward day an opening that spans the skipped hour counts one hour less, and on
    a fall-back day one that spans the repeated hour counts one hour more.
    """

    week: tuple[tuple[Interval, ...], ...]
    timezone: str = "UTC"
    clock: BusinessClock = field(init=False, repr=False, compare=False)
    """The same hours as `pipelines.orgclock`'s clock of open time, on UTC µs: the form the
    response tracker and the simulator ask on their hot paths (shared between equal hours)."""

    def __post_init__(self) -> None:
        if len(self.week) != 7:
            raise ValueError(f"business hours need 7 days (mon..sun), got {len(self.week)}")
        for day, intervals in enumerate(self.week):
            for opens, closes in intervals:
                if not 0 <= opens < closes <= _DAY_S:
                    raise ValueError(f"{DAYS[day]}: bad interval ({opens}, {closes}) seconds")
        week = tuple(merge_intervals(day) for day in self.week)
        object.__setattr__(self, "week", week)
        object.__setattr__(self, "clock", business_clock(week, self.timezone))

    # construction ----------------------------------------------------------

    @classmethod
    def parse(cls, spec: Mapping[Any, Any] | None, timezone: str = "UTC") -> BusinessHours:
        """From the roster's form, e.g. {mon: "09:00-17:00", fri: "08:30-12:00,13:00-17:00"}.

        A day may also be a list of ranges, or empty / "closed". Days left out are closed.
        Errors name the day: `fri '08:30-1230' is not HH:MM-HH:MM`.
        """
        if spec is None:
            spec = {}
        if not isinstance(spec, Mapping):
            raise ValueError(
                'must be a mapping of days to hours, e.g. {mon: "09:00-17:00", tue: ...}'
            )
        week: list[tuple[Interval, ...]] = [()] * 7
        seen: set[str] = set()
        for key, value in spec.items():
            day = _day_key(key)
            if day in seen:
                raise ValueError(f"{day} is given twice")
            seen.add(day)
            week[DAYS.index(day)] = _parse_day(day, value)
        return cls(tuple(week), timezone)

    @classmethod
    def always(cls, timezone: str = "UTC") -> BusinessHours:
        """Open around the clock, every day."""
        return cls((((0, _DAY_S),),) * 7, timezone)

    @classmethod
    def never(cls, timezone: str = "UTC") -> BusinessHours:
        """Closed all week: no business time ever passes."""
        return cls(((),) * 7, timezone)

    def in_timezone(self, timezone: str) -> BusinessHours:
        """The same wall-clock hours, kept in another time zone."""
        return self if timezone == self.timezone else BusinessHours(self.week, timezone)

    def to_spec(self) -> dict[str, str]:
        """The roster's form of these hours, normalised: open days only, merged ranges."""
        return {
            DAYS[day]: ",".join(f"{_hhmm(o)}-{_hhmm(c)}" for o, c in intervals)
            for day, intervals in enumerate(self.week) if intervals
        }

    @property
    def weekly_seconds(self) -> int:
        """Open seconds in a week without clock changes."""
        return self.clock.weekly_us // _US

    # questions ---------------------------------------------------------------

    def is_open(self, t: datetime) -> bool:
        """Whether the organisation's wall clock at instant `t` reads a time inside its hours."""
        return self.clock.is_open(micros(t, "t"))

    def business_seconds(self, start: datetime, end: datetime) -> float:
        """Seconds of the real interval [start, end) that fall inside business hours.

        0 when end <= start. Exact to the microsecond; additive over adjoining intervals.
        """
        return self.clock.business_us(micros(start, "start"), micros(end, "end")) / _US

    def add_business_seconds(self, start: datetime, seconds: float) -> datetime:
        """The earliest instant (UTC) at which `seconds` business seconds have passed since start.

        `business_seconds(start, result) == seconds` (to the microsecond). The result is the
        moment the count reaches `seconds`, so it can be a closing time: a count that must
        *exceed* `seconds` (an SLA breach) does so at the first open instant after it.
        Raises ValueError for negative seconds, or when the week has no open hours at all.
        """
        start_us = micros(start, "start")
        if seconds < 0:
            raise ValueError(f"cannot add a negative number of business seconds ({seconds})")
        return instant(self.clock.add_business_us(start_us, round(seconds * _US)))


# -- organisations and accounts ------------------------------------------------------


def normalise_handle(handle: str) -> str:
    """An account handle as the roster matches it: lower-case, no leading '@'."""
    return handle.strip().lstrip("@").lower()


@dataclass(frozen=True)
class Account:
    """A social-media account that speaks for an organisation: its central one or an employee's."""

    platform: str
    handle: str
    role: str
    org_id: str
    id: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "platform", self.platform.strip().lower())
        object.__setattr__(self, "handle", normalise_handle(self.handle))


@dataclass(frozen=True)
class Org:
    """A client organisation and the clock its responses are measured by.

    `extra` keeps roster settings this module does not know (later features read them, e.g.
    surge thresholds), merged over the defaults' one key deep.
    """

    id: str
    name: str
    sector: str | None = None
    timezone: str = "UTC"
    business_hours: BusinessHours = field(default_factory=lambda: CONTRACT_HOURS)
    first_response_sla: int = 3600
    answer_window: int = _WEEK_S
    accounts: tuple[Account, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        # The hours always live in the organisation's own zone.
        object.__setattr__(
            self, "business_hours", self.business_hours.in_timezone(self.timezone),
        )

    def sla_deadline(self, created_at: datetime) -> datetime:
        """When the first-response SLA of a mention posted at `created_at` runs out."""
        return self.business_hours.add_business_seconds(created_at, self.first_response_sla)


CONTRACT_HOURS: BusinessHours = BusinessHours.parse(
    {day: "09:00-17:00" for day in DAYS[:5]}, "UTC",
)
CONTRACT_DEFAULTS = Org(id="", name="", timezone="UTC", business_hours=CONTRACT_HOURS,
                        first_response_sla=3600, answer_window=_WEEK_S)


@dataclass(frozen=True)
class Roster:
    """The client organisations, their accounts, and the defaults for everyone else."""

    defaults: Org = CONTRACT_DEFAULTS
    orgs: Mapping[str, Org] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    _by_handle: dict[tuple[str, str], Account] = field(
        init=False, repr=False, compare=False, default_factory=dict)
    _by_id: dict[tuple[str, str], Account] = field(
        init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        for org in self.orgs.values():
            for account in org.accounts:
                if account.org_id != org.id:
                    raise ValueError(f"account {account.handle} of {org.id} names {account.org_id}")
                for index, key in ((self._by_handle, account.handle), (self._by_id, account.id)):
                    if not key:
                        continue
                    other = index.setdefault((account.platform, key), account)
                    if other is not account:
                        raise ValueError(
                            f"{account.platform} account {key} is listed for {other.org_id} "
                            f"and {org.id}"
                        )

    @classmethod
    def empty(cls) -> Roster:
        """No organisations listed: everyone gets the contract's defaults."""
        return cls()

    def org(self, org_id: str) -> Org:
        """The organisation as listed, or the defaults under its id for one the roster lacks."""
        listed = self.orgs.get(org_id)
        if listed is not None:
            return listed
        return replace(self.defaults, id=org_id, name=org_id, accounts=())

    def account_owner(self, platform: str, handle: str) -> Account | None:
        """The roster's account with this handle on this platform (case and '@' ignored)."""
        return self._by_handle.get((platform.strip().lower(), normalise_handle(handle)))

    def account_by_id(self, platform: str, account_id: str) -> Account | None:
        """The roster's account with this platform id, for accounts the roster lists `id:` for."""
        return self._by_id.get((platform.strip().lower(), account_id))

    def fingerprint(self) -> str:
        """A short hash of the roster's normalised content, stable across key and org order."""
        content = {
            "defaults": _org_content(self.defaults),
            "orgs": [_org_content(self.orgs[k]) for k in sorted(self.orgs)],
            "extra": self.extra,
        }
        text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _org_content(org: Org) -> dict[str, Any]:
    return {
        "id": org.id, "name": org.name, "sector": org.sector, "timezone": org.timezone,
        "business_hours": org.business_hours.to_spec(),
        "first_response_sla": org.first_response_sla, "answer_window": org.answer_window,
        "accounts": sorted(
            ([a.platform, a.handle, a.id or "", a.role, a.extra] for a in org.accounts),
            key=lambda row: row[:4],
        ),
        "extra": org.extra,
    }


# -- reading the YAML ---------------------------------------------------------------

_ORG_FIELDS = ("id", "name", "sector", "timezone", "business_hours", "first_response_sla",
               "answer_window", "accounts")
_ACCOUNT_FIELDS = ("platform", "handle", "id", "role")
_PLATFORM = re.compile(r"[a-z0-9._-]{1,64}")


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys silently; a roster with one is a mistake."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *anchor`: keys written next to it override, as YAML intends
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str | int) and key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark,
                    f"found the key {key!r} twice", key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_roster(path: str | Path | None) -> Roster:
    """The roster in a YAML file, or the empty roster (everyone gets defaults) for None."""
    if path is None:
        return Roster.empty()
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise RosterError([f"{name}: cannot read the roster: {e.strerror or e}"]) from None
    except UnicodeDecodeError:
        raise RosterError([f"{name}: not UTF-8 text"]) from None
    try:
        doc = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: plain data only
    except yaml.YAMLError as e:
        raise RosterError([f"{name}: not valid YAML{_yaml_problem(e)}"]) from None
    return parse_roster(doc, source=name)


def _yaml_problem(e: yaml.YAMLError) -> str:
    if not isinstance(e, yaml.MarkedYAMLError) or e.problem_mark is None:
        return f": {e}"
    mark = e.problem_mark
    context = f" ({e.context})" if e.context else ""
    return f" at line {mark.line + 1}, column {mark.column + 1}: {e.problem}{context}"


def parse_roster(doc: Mapping[str, Any] | None, source: str = "roster") -> Roster:
    """A roster from its parsed YAML; every problem found is reported at once (RosterError)."""
    problems: list[str] = []
    if doc is None:
        return Roster.empty()
    if not isinstance(doc, Mapping):
        raise RosterError([f"{source}: the roster must be a mapping with `defaults` and `orgs`"])
    defaults_doc = doc.get("defaults")
    if defaults_doc is None:
        defaults_doc = {}
    defaults = CONTRACT_DEFAULTS
    if not isinstance(defaults_doc, Mapping):
        problems.append(f"{source}: defaults must be a mapping of settings")
    else:
        for key in ("id", "name", "accounts"):
            if key in defaults_doc:
                problems.append(
                    f"{source}: defaults: {key!r} belongs to an organisation, not to defaults"
                )
        defaults = _org_from(defaults_doc, CONTRACT_DEFAULTS, f"{source}: defaults: ",
                             problems, org_id="", name="")
    orgs_doc = doc.get("orgs")
    if orgs_doc is None:
        orgs_doc = []
    if not isinstance(orgs_doc, list):
        problems.append(f"{source}: orgs must be a list of organisations (`- id: ...`)")
        orgs_doc = []
    orgs: dict[str, Org] = {}
    where_org: dict[str, int] = {}
    where_account: dict[tuple[str, str, str], tuple[str, int]] = {}
    for i, org_doc in enumerate(orgs_doc):
        where = f"{source}: orgs[{i}]"
        if not isinstance(org_doc, Mapping):
            problems.append(f"{where}: an organisation must be a mapping with at least `id`")
            continue
        org_id = _org_id(org_doc.get("id"), where, problems)
        if org_id is None:
            continue
        where = f"{where} ({org_id})"
        if org_id in where_org:
            problems.append(
                f"{where}: id {org_id!r} is already used by orgs[{where_org[org_id]}]"
            )
            continue
        where_org[org_id] = i
        name = org_doc.get("name", org_id)
        if not isinstance(name, str) or not name.strip():
            problems.append(f"{where}: name {name!r} must be a non-empty string")
            name = org_id
        org = _org_from(org_doc, defaults, f"{where}: ", problems,
                        org_id=org_id, name=name.strip())
        accounts = _accounts(org_doc.get("accounts"), org_id, where, problems)
        for n, account in enumerate(accounts):
            keys: tuple[tuple[str, str | None], ...] = (("@", account.handle),
                                                        ("id ", account.id))
            for kind, ident in keys:
                if not ident:
                    continue
                label = f"{account.platform} {kind}{ident}"
                first = where_account.setdefault((kind, account.platform, ident), (org_id, n))
                if first == (org_id, n):
                    continue
                if first[0] == org_id:
                    problems.append(f"{where}: accounts[{n}] {label} is listed twice")
                else:
                    problems.append(
                        f"{where}: accounts[{n}] {label} is already listed for {first[0]} "
                        f"(orgs[{where_org[first[0]]}]); an account belongs to one organisation"
                    )
        orgs[org_id] = replace(org, accounts=accounts)
    if problems:
        raise RosterError(problems)
    extra = {k: v for k, v in doc.items() if k not in ("defaults", "orgs")}
    return Roster(defaults=defaults, orgs=orgs, extra=extra)


def _org_id(value: Any, where: str, problems: list[str]) -> str | None:
    if value is None:
        problems.append(f"{where}: id is missing; every organisation needs one (e.g. "
                        "`id: gemeente-zutphen`)")
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or ORG_ID.fullmatch(value) is None:
        problems.append(
            f"{where}: id {value!r} is not a valid org id: lower-case letters, digits, '.', "
            "'_' and '-', starting with a letter or digit, at most 128 characters"
        )
        return None
    return value


def _org_from(doc: Mapping[Any, Any], base: Org, where: str, problems: list[str],
              *, org_id: str, name: str) -> Org:
    """`base` with the fields `doc` sets; a field that is wrong is reported and left as base's."""
    timezone = base.timezone
    if "timezone" in doc:
        value = doc["timezone"]
        try:
            if not isinstance(value, str):
                raise ValueError(f"{value!r} is not an IANA time zone name")
            zone(value)
            timezone = value
        except ValueError as e:
            problems.append(f"{where}timezone {e}")
    hours = base.business_hours
    if "business_hours" in doc:
        try:
            hours = BusinessHours.parse(doc["business_hours"], timezone)
        except ValueError as e:
            problems.append(f"{where}business_hours{_hours_problem(e)}")
    durations = {}
    for key in ("first_response_sla", "answer_window"):
        durations[key] = getattr(base, key)
        if key in doc:
            try:
                seconds = parse_duration(doc[key])
            except ValueError as e:
                problems.append(f"{where}{key} {e}")
                continue
            if seconds <= 0:
                problems.append(f"{where}{key} must be longer than 0 (e.g. 30m, 1h, 7d)")
                continue
            durations[key] = seconds
    sector = base.sector
    if "sector" in doc:
        value = doc["sector"]
        if value is not None and (not isinstance(value, str) or not value.strip()):
            problems.append(f"{where}sector {value!r} must be a string, such as government")
        else:
            sector = value.strip() if value is not None else None
    own_extra = {str(k): v for k, v in doc.items() if k not in _ORG_FIELDS}
    return Org(
        id=org_id, name=name, timezone=timezone, business_hours=hours,
        first_response_sla=durations["first_response_sla"],
        answer_window=durations["answer_window"], sector=sector,
        extra={**base.extra, **own_extra},
    )


def _hours_problem(e: ValueError) -> str:
    text = str(e)
    # "must be a mapping ..." reads as `business_hours must be ...`; a day's problem as
    # `business_hours.fri '...' is not ...`; an unknown day as `business_hours: unknown day`.
    if text.startswith("must"):
        return f" {text}"
    if text.startswith("unknown day"):
        return f": {text}"
    return f".{text}"


def _accounts(value: Any, org_id: str, where: str, problems: list[str]) -> tuple[Account, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.append(f"{where}: accounts must be a list, e.g. "
                        "`- {platform: twitter, handle: gemeentezutphen, role: official}`")
        return ()
    accounts = []
    for n, doc in enumerate(value):
        at = f"{where}: accounts[{n}]"
        if not isinstance(doc, Mapping):
            problems.append(f"{at} must be a mapping with platform, handle and role")
            continue
        before = len(problems)
        platform = doc.get("platform")
        if not isinstance(platform, str) or _PLATFORM.fullmatch(platform.strip().lower()) is None:
            problems.append(f"{at}: platform {platform!r} must be a platform name such as "
                            "twitter, facebook or instagram")
            platform = ""
        handle, account_id = doc.get("handle"), doc.get("id")
        if isinstance(handle, int) and not isinstance(handle, bool):
            handle = str(handle)
        if isinstance(account_id, int) and not isinstance(account_id, bool):
            account_id = str(account_id)
        if handle is not None and (not isinstance(handle, str) or not normalise_handle(handle)
                                   or any(c.isspace() for c in normalise_handle(handle))):
            problems.append(f"{at}: handle {handle!r} must be the account's handle, "
                            "without spaces (a leading @ is fine)")
        if account_id is not None and (not isinstance(account_id, str) or not account_id.strip()):
            problems.append(f"{at}: id {account_id!r} must be a non-empty string")
        if handle is None and account_id is None:
            problems.append(f"{at}: give the account's handle, its id, or both")
        label = f" (@{normalise_handle(handle)})" if isinstance(handle, str) else ""
        role = doc.get("role", "official")
        if role not in ROLES:
            problems.append(f"{at}{label}: role {role!r} is not one of {' or '.join(ROLES)}")
        if len(problems) > before:
            continue
        accounts.append(Account(
            platform=platform, handle=handle if isinstance(handle, str) else "", role=role,
            org_id=org_id,
            id=account_id.strip() if isinstance(account_id, str) else None,
            extra={str(k): v for k, v in doc.items() if k not in _ACCOUNT_FIELDS},
        ))
    return tuple(accounts)
