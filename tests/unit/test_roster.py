"""The roster (CONTRACT.md §2): defaults, account ownership, and errors a user can act on."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipelines.roster import (
    DAYS,
    Account,
    BusinessHours,
    Roster,
    RosterError,
    format_duration,
    load_roster,
    parse_duration,
    parse_roster,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "roster.yaml"

# The contract's example, verbatim.
CONTRACT_EXAMPLE = """
defaults:
  timezone: UTC
  business_hours: {mon: "09:00-17:00", tue: "09:00-17:00", wed: "09:00-17:00", thu: "09:00-17:00", fri: "09:00-17:00"}
  first_response_sla: 1h          # durations: 90s, 30m, 1h, 7d
  answer_window: 7d
orgs:
  - id: gemeente-zutphen
    name: Gemeente Zutphen
    sector: government            # optional; share of voice compares clients of one sector
    timezone: Europe/Amsterdam
    business_hours: {mon: "08:30-17:00", tue: "08:30-17:00", wed: "08:30-17:00", thu: "08:30-17:00", fri: "08:30-12:30"}
    first_response_sla: 30m
    accounts:
      - {platform: twitter, handle: gemeentezutphen, role: official}
      - {platform: twitter, handle: marieke_zutphen, role: employee}
"""  # noqa: E501


def roster_from(text: str) -> Roster:
    return parse_roster(yaml.safe_load(text), source="roster.yaml")


def problems_of(doc: Any) -> str:
    with pytest.raises(RosterError) as info:
        parse_roster(doc, source="roster.yaml")
    return str(info.value)


def org_doc(**fields: Any) -> dict[str, Any]:
    return {"id": "gemeente-zutphen", **fields}


# -- durations ---------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [
    ("90s", 90), ("30m", 1800), ("1h", 3600), ("7d", 604800), ("1h30m", 5400),
    ("1d 2h", 93600), ("2w", 1209600), ("3600", 3600), (3600, 3600), ("0", 0), (" 15M ", 900),
])
def test_parse_duration(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(("text", "message"), [
    ("1.5h", "'1.5h' is not a duration"),
    ("30 min", "'30 min' is not a duration"),
    ("30m1h", "'30m1h' is not a duration; write e.g. 90s, 30m, 1h, 1h30m, 7d"),
    ("", "'' is not a duration"),
    ("-5m", "'-5m' is not a duration (durations cannot be negative)"),
    (-5, "duration -5 is negative"),
    (1.5, "1.5 is not a duration"),
    (True, "True is not a duration"),
])
def test_parse_duration_refuses_with_the_value(text: Any, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration(text)
    assert message in str(info.value)


@pytest.mark.parametrize("seconds", [0, 59, 90, 3600, 5400, 93784, 604800])
def test_format_duration_reads_back(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds
    assert format_duration(5400) == "1h30m"


# -- defaults and lookups ------------------------------------------------------------------


def test_empty_roster_gives_everyone_the_contract_defaults() -> None:
    for roster in (Roster.empty(), load_roster(None), parse_roster(None), parse_roster({})):
        org = roster.org("telecom-west")
        assert (org.id, org.name, org.sector) == ("telecom-west", "telecom-west", None)
        assert org.timezone == "UTC"
        assert org.business_hours.to_spec() == {day: "09:00-17:00" for day in DAYS[:5]}
        assert org.business_hours.timezone == "UTC"
        assert (org.first_response_sla, org.answer_window) == (3600, 7 * 86400)
        assert roster.account_owner("twitter", "gemeentezutphen") is None


def test_contract_example() -> None:
    roster = roster_from(CONTRACT_EXAMPLE)
    zutphen = roster.org("gemeente-zutphen")
    assert zutphen.name == "Gemeente Zutphen"
    assert zutphen.sector == "government"
    assert zutphen.timezone == zutphen.business_hours.timezone == "Europe/Amsterdam"
    assert zutphen.business_hours.to_spec()["fri"] == "08:30-12:30"
    assert zutphen.first_response_sla == 1800
    assert zutphen.answer_window == 7 * 86400  # from defaults
    # Fri 2026-03-06 12:15 CET + 30 min of Zutphen hours: 12:15-12:30, then Mon 08:30-08:45.
    assert zutphen.sla_deadline(datetime(2026, 3, 6, 11, 15, tzinfo=UTC)) == \
        datetime(2026, 3, 9, 7, 45, tzinfo=UTC)


def test_handles_match_without_case_or_leading_at() -> None:
    roster = roster_from(CONTRACT_EXAMPLE)
    owner = roster.account_owner("twitter", "@MariekE_Zutphen")
    assert owner == Account(platform="twitter", handle="marieke_zutphen", role="employee",
                            org_id="gemeente-zutphen")
    assert roster.account_owner("Twitter", "GemeenteZutphen") is not None
    assert roster.account_owner("twitter", "gemeentezutphen").role == "official"  # type: ignore[union-attr]
    assert roster.account_owner("facebook", "gemeentezutphen") is None  # another platform
    assert roster.account_owner("twitter", "marieke") is None


def test_accounts_can_be_found_by_id() -> None:
    roster = roster_from("""
orgs:
  - id: vliegmaatschappij-x
    accounts:
      - {platform: twitter, handle: "@VliegX", id: "1187766554433221100"}
      - {platform: facebook, id: 4455}
""")
    assert roster.account_by_id("twitter", "1187766554433221100").handle == "vliegx"  # type: ignore[union-attr]
    assert roster.account_by_id("twitter", "1187766554433221100").role == "official"  # type: ignore[union-attr]
    fb = roster.account_by_id("facebook", "4455")  # an unquoted YAML number is read as text
    assert fb is not None and fb.handle == "" and fb.org_id == "vliegmaatschappij-x"
    assert roster.account_by_id("facebook", "1187766554433221100") is None
    assert roster.account_owner("facebook", "") is None


def test_defaults_merge_field_by_field_and_hours_as_a_whole() -> None:
    roster = roster_from("""
defaults:
  timezone: Europe/Amsterdam
  business_hours: {mon: "09:00-17:00", sat: "10:00-12:00"}
  first_response_sla: 2h
  surge: {min_complaints: 10, factor: 3}
  escalate_to: pr-desk
orgs:
  - id: plain
  - id: own-hours
    business_hours: {tue: "08:00-12:00"}
    answer_window: 3d
    surge: {min_complaints: 50}
  - id: elsewhere
    timezone: America/New_York
""")
    plain = roster.org("plain")
    assert plain.name == "plain"
    assert plain.timezone == "Europe/Amsterdam"
    assert plain.business_hours.to_spec() == {"mon": "09:00-17:00", "sat": "10:00-12:00"}
    assert (plain.first_response_sla, plain.answer_window) == (7200, 7 * 86400)
    assert plain.extra == {"surge": {"min_complaints": 10, "factor": 3}, "escalate_to": "pr-desk"}

    own = roster.org("own-hours")
    # The org's hours replace the defaults' wholesale: no Monday, no Saturday.
    assert own.business_hours.to_spec() == {"tue": "08:00-12:00"}
    assert (own.first_response_sla, own.answer_window) == (7200, 3 * 86400)
    # Unknown settings merge one key deep: the org's `surge` replaces the defaults' `surge`.
    assert own.extra == {"surge": {"min_complaints": 50}, "escalate_to": "pr-desk"}

    elsewhere = roster.org("elsewhere")
    # The defaults' hours, read on the org's own wall clock.
    assert elsewhere.business_hours == BusinessHours.parse(
        {"mon": "09:00-17:00", "sat": "10:00-12:00"}, "America/New_York")

    unlisted = roster.org("telecom-west")
    assert unlisted.timezone == "Europe/Amsterdam" and unlisted.first_response_sla == 7200
    assert unlisted.extra["escalate_to"] == "pr-desk"


def test_unknown_keys_are_kept_not_refused() -> None:
    roster = roster_from("""
escalation_hooks: [slack]
orgs:
  - id: dagblad-noord
    colour: blue
    accounts:
      - {platform: twitter, handle: dagbladnoord, display_name: Dagblad}
""")
    assert roster.extra == {"escalation_hooks": ["slack"]}
    assert roster.org("dagblad-noord").extra == {"colour": "blue"}
    assert roster.account_owner("twitter", "dagbladnoord").extra == {"display_name": "Dagblad"}  # type: ignore[union-attr]


def test_example_roster_loads() -> None:
    roster = load_roster(EXAMPLE)
    assert set(roster.orgs) >= {"gemeente-zutphen", "bibliotheek-oost", "dagblad-noord",
                                "vliegmaatschappij-x", "harbor-museum"}
    assert roster.account_owner("twitter", "@MariekE_Zutphen").org_id == "gemeente-zutphen"  # type: ignore[union-attr]
    librarian = roster.account_owner("twitter", "joost_leest")
    assert librarian is not None and librarian.role == "employee"
    assert librarian.org_id == "bibliotheek-oost"
    airline = roster.org("vliegmaatschappij-x")
    assert airline.business_hours.weekly_seconds == 7 * 17 * 3600
    assert airline.extra["surge"] == {"min_complaints": 20}
    assert roster.org("harbor-museum").timezone == "America/New_York"
    # The contract's organisation is in it exactly as the contract writes it.
    assert roster.org("gemeente-zutphen") == roster_from(CONTRACT_EXAMPLE).org("gemeente-zutphen")


def test_fingerprint_is_stable_and_content_sensitive() -> None:
    doc = yaml.safe_load(EXAMPLE.read_text())
    fingerprint = parse_roster(doc).fingerprint()
    assert len(fingerprint) == 16
    assert load_roster(EXAMPLE).fingerprint() == fingerprint
    shuffled = {"orgs": list(reversed(doc["orgs"])), "defaults": doc["defaults"]}
    assert parse_roster(shuffled).fingerprint() == fingerprint
    doc["orgs"][0]["first_response_sla"] = "31m"
    assert parse_roster(doc).fingerprint() != fingerprint
    # Spelling does not matter, meaning does: 30m == 1800 == "0h30m".
    doc["orgs"][0]["first_response_sla"] = 1800
    assert parse_roster(doc).fingerprint() == fingerprint
    assert Roster.empty().fingerprint() == parse_roster({}).fingerprint()


def test_a_roster_survives_pickling() -> None:
    roster = load_roster(EXAMPLE)
    again = pickle.loads(pickle.dumps(roster))
    assert again == roster
    assert again.account_owner("twitter", "marieke_zutphen") == \
        roster.account_owner("twitter", "marieke_zutphen")


# -- errors a user can act on -----------------------------------------------------------------


def test_the_contracts_example_error_message() -> None:
    doc = yaml.safe_load(CONTRACT_EXAMPLE)
    for n in ("a", "b", "c"):
        doc["orgs"].insert(0, {"id": f"org-{n}"})
    doc["orgs"][3]["business_hours"]["fri"] = "08:30-1230"
    assert problems_of(doc) == \
        "roster.yaml: orgs[3] (gemeente-zutphen): business_hours.fri '08:30-1230' is not " \
        "HH:MM-HH:MM"


@pytest.mark.parametrize(("org", "message"), [
    (org_doc(business_hours={"mon": "25:00-26:00"}),
     "orgs[0] (gemeente-zutphen): business_hours.mon '25:00-26:00': 25:00 is not a time of day"),
    (org_doc(business_hours={"mon": "22:00-06:00"}),
     "business_hours.mon '22:00-06:00' closes before it opens; hours past midnight go on two "
     "days, e.g. mon '22:00-24:00' and the next day '00:00-06:00'"),
    (org_doc(business_hours={"maandag": "09:00-17:00"}),
     "orgs[0] (gemeente-zutphen): business_hours: unknown day 'maandag'; use mon, tue, wed"),
    (org_doc(business_hours="09:00-17:00"),
     "orgs[0] (gemeente-zutphen): business_hours must be a mapping of days to hours"),
    (org_doc(business_hours={"mon": 540}), "business_hours.mon 540 is not HH:MM-HH:MM"),
    (org_doc(timezone="Europe/Amsterdm"),
     "orgs[0] (gemeente-zutphen): timezone 'Europe/Amsterdm' is not an IANA time zone"),
    (org_doc(timezone=1), "timezone 1 is not an IANA time zone name"),
    (org_doc(first_response_sla="half an hour"),
     "orgs[0] (gemeente-zutphen): first_response_sla 'half an hour' is not a duration"),
    (org_doc(answer_window="0s"),
     "orgs[0] (gemeente-zutphen): answer_window must be longer than 0"),
    (org_doc(name=""), "orgs[0] (gemeente-zutphen): name '' must be a non-empty string"),
    (org_doc(sector=["government"]), "sector ['government'] must be a string"),
    ({"id": "Gemeente Zutphen"},
     "roster.yaml: orgs[0]: id 'Gemeente Zutphen' is not a valid org id: lower-case letters"),
    ({"id": "-zutphen"}, "orgs[0]: id '-zutphen' is not a valid org id"),
    ({"id": "z" * 129}, "is not a valid org id"),
    ({"name": "Gemeente Zutphen"}, "roster.yaml: orgs[0]: id is missing"),
    (org_doc(accounts=[{"platform": "twitter", "handle": "marieke", "role": "staff"}]),
     "orgs[0] (gemeente-zutphen): accounts[0] (@marieke): role 'staff' is not one of official "
     "or employee"),
    (org_doc(accounts=[{"platform": "twitter", "role": "official"}]),
     "orgs[0] (gemeente-zutphen): accounts[0]: give the account's handle, its id, or both"),
    (org_doc(accounts=[{"handle": "marieke"}]),
     "accounts[0]: platform None must be a platform name"),
    (org_doc(accounts=[{"platform": "twitter", "handle": "marieke zutphen"}]),
     "accounts[0]: handle 'marieke zutphen' must be the account's handle, without spaces"),
    (org_doc(accounts={"platform": "twitter"}),
     "orgs[0] (gemeente-zutphen): accounts must be a list"),
    (org_doc(accounts=["gemeentezutphen"]), "accounts[0] must be a mapping"),
    ("gemeente-zutphen", "roster.yaml: orgs[0]: an organisation must be a mapping"),
])
def test_bad_fields_are_named(org: Any, message: str) -> None:
    assert message in problems_of({"orgs": [org]})


def test_duplicate_org_ids() -> None:
    message = problems_of({"orgs": [{"id": "dagblad-noord"}, {"id": "x"}, {"id": "dagblad-noord"}]})
    assert message == "roster.yaml: orgs[2] (dagblad-noord): id 'dagblad-noord' is already used " \
        "by orgs[0]"


def test_an_account_belongs_to_one_organisation() -> None:
    message = problems_of({"orgs": [
        {"id": "gemeente-zutphen", "accounts": [{"platform": "twitter", "handle": "Marieke"}]},
        {"id": "bibliotheek-oost", "accounts": [{"platform": "twitter", "handle": "@marieke"}]},
    ]})
    assert message == (
        "roster.yaml: orgs[1] (bibliotheek-oost): accounts[0] twitter @marieke is already "
        "listed for gemeente-zutphen (orgs[0]); an account belongs to one organisation"
    )
    # The same handle on another platform is another account.
    parse_roster({"orgs": [
        {"id": "a", "accounts": [{"platform": "twitter", "handle": "marieke"}]},
        {"id": "b", "accounts": [{"platform": "instagram", "handle": "marieke"}]},
    ]})


def test_an_account_listed_twice_and_a_shared_id() -> None:
    message = problems_of({"orgs": [
        {"id": "a", "accounts": [{"platform": "twitter", "handle": "x", "id": "1"},
                                 {"platform": "twitter", "handle": "X", "role": "employee"}]},
        {"id": "b", "accounts": [{"platform": "twitter", "handle": "y", "id": "1"}]},
    ]})
    assert "orgs[0] (a): accounts[1] twitter @x is listed twice" in message
    assert "orgs[1] (b): accounts[0] twitter id 1 is already listed for a (orgs[0])" in message


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(RosterError) as info:
        parse_roster({
            "defaults": {"timezone": "Mars/Olympus", "accounts": []},
            "orgs": [{"id": "a", "first_response_sla": "soon"}, {"id": "B"}],
        }, source="roster.yaml")
    assert info.value.problems == [
        "roster.yaml: defaults: 'accounts' belongs to an organisation, not to defaults",
        "roster.yaml: defaults: timezone 'Mars/Olympus' is not an IANA time zone (e.g. "
        "Europe/Amsterdam, America/New_York, UTC)",
        "roster.yaml: orgs[0] (a): first_response_sla 'soon' is not a duration; write e.g. "
        "90s, 30m, 1h, 1h30m, 7d or whole seconds, units from large to small",
        "roster.yaml: orgs[1]: id 'B' is not a valid org id: lower-case letters, digits, '.', "
        "'_' and '-', starting with a letter or digit, at most 128 characters",
    ]


@pytest.mark.parametrize(("doc", "message"), [
    (["gemeente-zutphen"], "roster.yaml: the roster must be a mapping with `defaults` and `orgs`"),
    ({"orgs": {"gemeente-zutphen": {}}}, "roster.yaml: orgs must be a list of organisations"),
    ({"defaults": "UTC"}, "roster.yaml: defaults must be a mapping of settings"),
    ({"defaults": {"business_hours": {"mon": "9-17"}}},
     "roster.yaml: defaults: business_hours.mon '9-17' is not HH:MM-HH:MM"),
])
def test_bad_shapes(doc: Any, message: str) -> None:
    assert message in problems_of(doc)


# -- the file ---------------------------------------------------------------------------------


def test_load_roster_file_problems(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(RosterError, match=r"nope\.yaml: cannot read the roster"):
        load_roster(missing)

    broken = tmp_path / "broken.yaml"
    broken.write_text("orgs:\n  - id: a\n   name: [unclosed\n")
    expected = r"broken\.yaml: not valid YAML at line 3, column 4: expected <block end>"
    with pytest.raises(RosterError, match=expected):
        load_roster(broken)

    twice = tmp_path / "twice.yaml"
    twice.write_text("orgs:\n  - id: a\n    business_hours: {mon: '09:00-12:00', "
                     "mon: '13:00-17:00'}\n")
    expected = r"twice\.yaml: not valid YAML at line 3, column 42: found the key 'mon' twice"
    with pytest.raises(RosterError, match=expected):
        load_roster(twice)

    empty = tmp_path / "empty.yaml"
    empty.write_text("# nobody yet\n")
    assert load_roster(empty) == Roster.empty()

    bad = tmp_path / "bad.yaml"
    bad.write_text("orgs:\n  - id: a\n    timezone: Europe/Amsterdm\n")
    with pytest.raises(RosterError, match=r"^.*bad\.yaml: orgs\[0\] \(a\): timezone"):
        load_roster(str(bad))


def test_yaml_anchors_can_share_hours(tmp_path: Path) -> None:
    path = tmp_path / "roster.yaml"
    path.write_text("""
office: &office {mon: "09:00-17:00", tue: "09:00-17:00"}
orgs:
  - id: a
    business_hours: {<<: *office, tue: "10:00-12:00"}
  - id: b
    business_hours: *office
""")
    roster = load_roster(path)
    assert roster.org("a").business_hours.to_spec() == {"mon": "09:00-17:00",
                                                        "tue": "10:00-12:00"}
    assert roster.org("b").business_hours.to_spec() == {"mon": "09:00-17:00",
                                                        "tue": "09:00-17:00"}
