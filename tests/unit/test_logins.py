"""Logins: password hashes, the users file and its messages, `dorpspomp users`, and the
rules that keep a client login to its organisations (filters, refusals, row policies)."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest

from pipelines.commands import cli
from pipelines.commands.stack import StackError, dashboard_address, dashboard_cmd
from pipelines.serving.logins import (
    Login,
    UserBook,
    UsersFileError,
    hash_password,
    load_users,
    new_login,
    save_users,
    verify_password,
    with_clickhouse_passwords,
)
from pipelines.serving.orgscope import (
    POLICY_RULES,
    check_scoped,
    client_error,
    client_user,
    declared_tables,
    engine_access_config,
    missing_policies,
    removed_user_statements,
    row_policy_statements,
    scoped_statement,
)
from pipelines.serving.readapi import client_settings
from pipelines.serving.sqlguard import ForbiddenQuery
from pipelines.settings import Settings

PASSWORD = "lange-wandeling-42"


# -- passwords -----------------------------------------------------------------------


def test_a_hash_describes_itself_and_verifies_only_its_password() -> None:
    stored = hash_password(PASSWORD)
    scheme, n, r, p, salt, digest = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert len(salt) == 22 and len(digest) == 43  # 16 and 32 bytes, base64 unpadded
    assert PASSWORD not in stored
    assert verify_password(PASSWORD, stored)
    assert not verify_password(PASSWORD + "x", stored)
    assert not verify_password("", stored)


def test_the_same_password_hashes_differently_each_time() -> None:
    assert hash_password(PASSWORD) != hash_password(PASSWORD)


def test_a_hash_with_another_cost_still_verifies() -> None:
    assert verify_password(PASSWORD, hash_password(PASSWORD, n=1 << 10, r=4, p=2))


@pytest.mark.parametrize("damaged", ["", "plain-text-password", "scrypt$16384$8$1$abc",
                                     "scrypt$3$8$1$QUJDREVGR0g$QUJDREVGR0hJSktMTU5PUA",
                                     "scrypt$16384$8$1$!!$!!", "bcrypt$x$y$z$a$b"])
def test_a_damaged_hash_never_verifies(damaged: str) -> None:
    assert not verify_password(PASSWORD, damaged)


def test_authenticate_gives_no_hint_which_part_was_wrong() -> None:
    book = UserBook({"zutphen": new_login("zutphen", PASSWORD, ["gemeente-zutphen"])})
    assert book.authenticate("zutphen", PASSWORD) == book.logins["zutphen"]
    assert book.authenticate(" zutphen ", PASSWORD) == book.logins["zutphen"]
    assert book.authenticate("zutphen", "wrong-password") is None
    assert book.authenticate("nobody", PASSWORD) is None


def test_new_login_checks_name_password_and_organisations() -> None:
    with pytest.raises(UsersFileError, match="at least 10 characters"):
        new_login("zutphen", "short", ["gemeente-zutphen"])
    with pytest.raises(UsersFileError, match="login name"):
        new_login("Zutphen Gemeente", PASSWORD, None)
    with pytest.raises(UsersFileError, match="is not an org_id"):
        new_login("zutphen", PASSWORD, ["Gemeente Zutphen"])
    with pytest.raises(UsersFileError, match="at least one organisation"):
        new_login("zutphen", PASSWORD, [])


# -- the file --------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "users.yaml"
    path.write_text(text)
    return path


def test_save_and_load_keep_every_login_and_write_mode_600(tmp_path: Path) -> None:
    book = UserBook({
        "anna": new_login("anna", PASSWORD, None),
        "zutphen": Login("zutphen", hash_password(PASSWORD), frozenset({"gemeente-zutphen",
                                                                         "bibliotheek-oost"}),
                         clickhouse_password="-123"),
    })
    path = tmp_path / "users.yaml"
    save_users(path, book)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_users(path) == book
    assert PASSWORD not in path.read_text()


GOOD_HASH = hash_password(PASSWORD)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("users:\n  - name: anna\n    password: geheim123456\n    access: agency\n",
         ["line 3: a password in plain text", "dorpspomp users add"]),
        (f"users:\n  - name: anna\n    password_hash: {GOOD_HASH}\n",
         ["line 2: the login 'anna' needs exactly one of `access: agency`"]),
        (f"users:\n  - name: anna\n    password_hash: {GOOD_HASH}\n    access: agency\n"
         "    orgs: [a]\n", ["line 2", "exactly one of"]),
        (f"users:\n  - name: z\n    password_hash: {GOOD_HASH}\n    orgs: [Gemeente X]\n",
         ["line 4: 'Gemeente X' is not an org_id"]),
        (f"users:\n  - name: z\n    password_hash: {GOOD_HASH}\n    orgs: []\n",
         ["line 4: `orgs:` must be a non-empty list"]),
        (f"users:\n  - name: z\n    password_hash: {GOOD_HASH}\n    access: admin\n",
         ["line 4: `access:` can only be `agency`"]),
        ("users:\n  - name: z\n    password_hash: scrypt$1$2\n    access: agency\n",
         ["line 3: the login 'z': not a dorpspomp password hash", "dorpspomp users add z"]),
        (f"users:\n  - name: z\n    password_hash: {GOOD_HASH}\n    access: agency\n"
         f"  - name: z\n    password_hash: {GOOD_HASH}\n    access: agency\n",
         ["line 5: the login 'z' is listed twice"]),
        ("users:\n  - name: z\n    pasword_hash: x\n    access: agency\n",
         ["line 3: unknown field 'pasword_hash'", "line 2: the login 'z' has no"]),
        ("users:\n  - name: [z\n", ["line 3", "not valid YAML"]),
        ("logins: []\n", ["line 1: unknown key 'logins'", "expected `users:`"]),
    ],
)
def test_a_broken_file_says_which_line_and_what_to_do(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(UsersFileError) as caught:
        load_users(path)
    message = str(caught.value)
    assert str(path) in message
    for words in expected:
        assert words in message, message


def test_a_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(UsersFileError, match="dorpspomp users add NAME --agency"):
        load_users(tmp_path / "nope.yaml")


def test_an_empty_file_has_no_logins(tmp_path: Path) -> None:
    assert load_users(write(tmp_path, "# nobody yet\n")).logins == {}


# -- dorpspomp users ----------------------------------------------------------------------


def users_cli(monkeypatch: pytest.MonkeyPatch, path: Path, *args: str,
              stdin: str = "") -> int:
    monkeypatch.setenv("DORPSPOMP_DASHBOARD_USERS", str(path))
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return cli.main(["users", *args])


def test_users_add_reads_the_password_from_stdin_and_stores_only_its_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "users.yaml"
    assert users_cli(monkeypatch, path, "add", "zutphen", "--org", "gemeente-zutphen",
                     "--password-stdin", stdin=PASSWORD + "\n") == 0
    assert users_cli(monkeypatch, path, "add", "anna", "--agency", "--password-stdin",
                     stdin="another-long-one\n") == 0
    book = load_users(path)
    assert book.authenticate("zutphen", PASSWORD) is not None
    assert book.logins["zutphen"].org_ids == {"gemeente-zutphen"}
    assert book.logins["anna"].agency
    assert PASSWORD not in path.read_text()
    capsys.readouterr()
    assert users_cli(monkeypatch, path, "list") == 0
    assert capsys.readouterr().out.splitlines() == [
        "anna\tagency: every organisation", "zutphen\tclient: gemeente-zutphen"]

    # A second add changes the password and the organisations of the same login.
    assert users_cli(monkeypatch, path, "add", "zutphen", "--org", "gemeente-zutphen",
                     "--org", "bibliotheek-oost", "--password-stdin",
                     stdin="a-new-password\n") == 0
    book = load_users(path)
    assert book.authenticate("zutphen", PASSWORD) is None
    assert book.logins["zutphen"].org_ids == {"gemeente-zutphen", "bibliotheek-oost"}
    assert users_cli(monkeypatch, path, "remove", "zutphen") == 0
    assert set(load_users(path).logins) == {"anna"}


def test_users_add_without_a_terminal_or_stdin_flag_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "users.yaml"
    assert users_cli(monkeypatch, path, "add", "anna", "--agency") == 2
    assert "--password-stdin" in capsys.readouterr().err
    assert not path.exists()


def test_users_needs_a_file_and_reports_a_broken_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DORPSPOMP_DASHBOARD_USERS", raising=False)
    assert cli.main(["users", "list"]) == 2
    assert "set DORPSPOMP_DASHBOARD_USERS" in capsys.readouterr().err
    broken = write(tmp_path, "users:\n  - name: anna\n    password: x\n    access: agency\n")
    assert users_cli(monkeypatch, broken, "check") == 2
    assert "line 3: a password in plain text" in capsys.readouterr().err


def test_sync_server_is_only_for_a_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "users.yaml"
    save_users(path, UserBook({"z": new_login("z", PASSWORD, ["gemeente-zutphen"])}))
    monkeypatch.setenv("DORPSPOMP_HOME", str(tmp_path))
    assert users_cli(monkeypatch, path, "sync-server") == 2
    assert "the embedded warehouse needs no users" in capsys.readouterr().err


# -- the engine's filters and the client refusals ---------------------------------------

CATALOG = {"mentions": True, "mention_responses": True, "dead_letters": False,
           "watermarks": False, "ingest_offsets": False}


def test_every_table_the_migrations_create_gets_a_row_policy_in_the_engine_config(
    tmp_path: Path,
) -> None:
    tables = declared_tables("dorpspomp")
    assert tables["mentions"] and tables["posts"] and tables["mention_responses_state"]
    assert tables["alerts_state"] and not tables["dead_letters"] and not tables["watermarks"]
    # views and materialized views get one too (reading a materialized view skips its
    # target table's policy)
    assert tables["mention_responses"] and tables["alerts_by_time_feed"]
    config = engine_access_config(tmp_path / "engine", "dorpspomp")
    users = (tmp_path / "engine" / "users.xml").read_text()
    assert str((tmp_path / "engine" / "users.xml").resolve()) in config.read_text()
    for name in tables:
        assert f"<{name}><filter>" in users, name
    assert "<mentions><filter>NOT startsWith(getSetting(&apos;log_comment&apos;)" in users \
        or "<mentions><filter>NOT startsWith(getSetting('log_comment')" in users


def test_a_live_table_without_the_right_policy_is_named() -> None:
    live = {"mentions": True, "dead_letters": False, "watermarks": False, "extra": True}
    policies = {"mentions": POLICY_RULES["org"], "dead_letters": POLICY_RULES["none"],
                "watermarks": "1"}
    assert missing_policies(live, policies) == ["extra"]
    policies["extra"] = POLICY_RULES["none"]  # a table with organisations needs the org rule
    assert missing_policies(live, policies) == ["extra"]
    policies["extra"] = POLICY_RULES["org"].replace(" ", "  ")  # the engine's own spelling
    assert missing_policies(live, policies) == []


def test_the_scope_comes_before_readonly_in_the_statement() -> None:
    statement = scoped_statement("SELECT count() FROM mentions;", {"b-org", "a-org"},
                                 time_limit_s=30, max_rows=10, max_bytes=1000, max_threads=1)
    settings = statement.split("\nSETTINGS ", 1)[1]
    assert statement.startswith("SELECT count() FROM mentions\nSETTINGS ")
    assert settings.startswith("log_comment = 'dorpspomp-scope:a-org,b-org'")
    assert "max_result_bytes = 1000" in settings and "max_threads = 1" in settings
    assert settings.rstrip().endswith("readonly = 1")
    with pytest.raises(ValueError):
        scoped_statement("SELECT 1", set(), time_limit_s=30, max_rows=10)
    with pytest.raises(ValueError):
        scoped_statement("SELECT 1", {"a,b"}, time_limit_s=30, max_rows=10)


def test_engine_errors_that_can_quote_rows_are_not_shown_to_clients() -> None:
    cast = ("Code: 6. DB::Exception: Cannot parse string 'other-org | anna | secret' as "
            "UInt64: syntax error at begin of string. (CANNOT_PARSE_TEXT)")
    shown = client_error(cast)
    assert "other-org" not in shown and "secret" not in shown and "CANNOT_PARSE_TEXT" in shown
    thrown = ("Code: 395. DB::Exception: Value passed to 'throwIf' function is non-zero: "
              "while executing 'FUNCTION throwIf(equals(org_id, 'x'))'. "
              "(FUNCTION_THROW_IF_VALUE_IS_NON_ZERO)")
    assert "org_id" not in client_error(thrown)
    unknown = "Code: 47. DB::Exception: Unknown expression identifier `nope`. (UNKNOWN_IDENTIFIER)"
    assert client_error(unknown) == unknown


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("SELECT table, total_rows FROM system.tables", "system.tables counts and sizes"),
        ("SELECT * FROM `system`.`columns`", "system.columns"),
        ("SELECT * FROM information_schema.tables", "information_schema"),
        ("SELECT * FROM INFORMATION_SCHEMA.TABLES", "information_schema"),
        ("EXPLAIN ESTIMATE SELECT * FROM mentions", "EXPLAIN"),
        ("EXPLAIN PLAN indexes = 1 SELECT * FROM mentions", "EXPLAIN"),
        ("SELECT _part_offset, org_id FROM mentions", "virtual column _part_offset"),
        ("SELECT _block_number FROM mentions", "virtual column"),
        ("SELECT * FROM merge(currentDatabase(), '^mentions$')", "merge()"),
        ("SELECT * FROM mergeTreeIndex('dorpspomp', 'mentions')", "mergeTreeIndex()"),
        ("SELECT * FROM system.parts", "system.parts"),
        ("SELECT 1 SETTINGS additional_table_filters = {'mentions': '1'}", "SETTINGS"),
    ],
)
def test_a_client_may_not_read_what_sizes_other_clients(sql: str, words: str) -> None:
    with pytest.raises(ForbiddenQuery, match=words.replace("(", r"\(").replace(")", r"\)")):
        check_scoped(sql)


def test_a_client_may_read_its_tables_and_their_shape() -> None:
    for sql in ("SELECT org_id, count() FROM mentions GROUP BY org_id", "SHOW TABLES",
                "DESCRIBE TABLE mentions", "SELECT * FROM system.one",
                "SELECT 1 AS partly"):
        assert check_scoped(sql) == sql


# -- server mode: ClickHouse users with row policies ---------------------------------------


def test_row_policies_limit_every_table_for_each_client_and_keep_the_agency_whole() -> None:
    book = with_clickhouse_passwords(UserBook({
        "anna": new_login("anna", PASSWORD, None),
        "zutphen": new_login("zutphen", PASSWORD, ["gemeente-zutphen"]),
        "oost.bib": new_login("oost.bib", PASSWORD, ["bibliotheek-oost", "dagblad-noord"]),
    }))
    assert book.logins["anna"].clickhouse_password is None
    secret = book.logins["zutphen"].clickhouse_password
    assert secret
    ddl = row_policy_statements(book, "dorpspomp", CATALOG,
                                agency_users=["dorpspomp_reader", "dorpspomp"])
    text = "\n".join(ddl)
    assert PASSWORD not in text
    assert ddl[0].startswith("CREATE SETTINGS PROFILE OR REPLACE `dorpspomp_client` SETTINGS ")
    assert ddl[0].endswith("readonly = 1")
    assert (f"CREATE USER IF NOT EXISTS `dorpspomp_client_zutphen` IDENTIFIED WITH "
            f"sha256_password BY '{secret}' SETTINGS PROFILE 'dorpspomp_client'") in ddl
    assert "GRANT SELECT ON `dorpspomp`.* TO `dorpspomp_client_oost_bib`" in ddl
    assert ("CREATE ROW POLICY OR REPLACE `dorpspomp_dorpspomp_client_zutphen` ON "
            "`dorpspomp`.`mentions` FOR SELECT USING org_id IN ('gemeente-zutphen') "
            "TO `dorpspomp_client_zutphen`") in ddl
    assert ("CREATE ROW POLICY OR REPLACE `dorpspomp_dorpspomp_client_oost_bib` ON "
            "`dorpspomp`.`mention_responses` FOR SELECT USING org_id IN "
            "('bibliotheek-oost', 'dagblad-noord') TO `dorpspomp_client_oost_bib`") in ddl
    assert ("CREATE ROW POLICY OR REPLACE `dorpspomp_dorpspomp_client_zutphen` ON "
            "`dorpspomp`.`dead_letters` FOR SELECT USING 0 TO `dorpspomp_client_zutphen`") in ddl
    assert ("CREATE ROW POLICY OR REPLACE `dorpspomp_dorpspomp_client_zutphen` ON "
            "`dorpspomp`.`watermarks` FOR SELECT USING 1 TO `dorpspomp_client_zutphen`") in ddl
    for table in CATALOG:
        assert (f"CREATE ROW POLICY OR REPLACE `dorpspomp_agency` ON `dorpspomp`.`{table}` "
                "FOR SELECT USING 1 TO `dorpspomp`, `dorpspomp_reader`") in ddl
        policies = [s for s in ddl if f"ON `dorpspomp`.`{table}` " in s]
        assert len(policies) == 3  # the agency's and one per client
    assert not any("anna" in s for s in ddl)


def test_removed_client_users_lose_their_policies_and_user() -> None:
    ddl = removed_user_statements(["dorpspomp_client_old"], "dorpspomp", ["mentions", "posts"])
    assert ddl == [
        "DROP ROW POLICY IF EXISTS `dorpspomp_dorpspomp_client_old` ON `dorpspomp`.`mentions`",
        "DROP ROW POLICY IF EXISTS `dorpspomp_dorpspomp_client_old` ON `dorpspomp`.`posts`",
        "DROP USER IF EXISTS `dorpspomp_client_old`",
    ]


def test_a_client_reads_a_server_as_its_own_user() -> None:
    login = Login("oost.bib", hash_password(PASSWORD), frozenset({"bibliotheek-oost"}),
                  clickhouse_password="p@ss/word")
    settings = Settings.from_env({}, warehouse="https://writer:w@ch.example:8443/dorpspomp",
                                 warehouse_reader="https://reader:r@ch.example:8443/dorpspomp")
    mine = client_settings(settings, login)
    assert mine.warehouse_reader == (
        "https://dorpspomp_client_oost_bib:p%40ss%2Fword@ch.example:8443/dorpspomp")
    assert mine.warehouse == settings.warehouse
    assert client_user(login) == "dorpspomp_client_oost_bib"


# -- where the dashboard listens ---------------------------------------------------------


def test_without_a_users_file_the_dashboard_listens_on_this_machine_only(tmp_path: Path) -> None:
    bare = Settings.from_env({}, home=str(tmp_path), dashboard_address="0.0.0.0")
    assert dashboard_address(bare) == "127.0.0.1"
    assert "127.0.0.1" in dashboard_cmd(bare)
    with pytest.raises(StackError, match=r"no logins and listens on 127\.0\.0\.1 only"):
        dashboard_address(bare, "0.0.0.0")
    assert dashboard_address(bare, "0.0.0.0", no_login=True) == "0.0.0.0"
    with_users = Settings.from_env({}, home=str(tmp_path), dashboard_address="0.0.0.0",
                                   dashboard_users=str(tmp_path / "users.yaml"))
    assert dashboard_address(with_users) == "0.0.0.0"
    assert dashboard_address(with_users, "10.0.0.5") == "10.0.0.5"
    command = dashboard_cmd(with_users)
    assert command[command.index("--server.address") + 1] == "0.0.0.0"
